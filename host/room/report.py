"""The alarm report (`edgectl report`, issue 21) from the control room's journal: alarms
per type, device and priority, time to acknowledge (median, p90), escalations and the top
chattering sources over a time window; as text, JSON, or an HTML page whose charts
matplotlib draws as inline SVG (nothing fetched when the page is opened).

Percentiles are nearest-rank: p90 of n times is the ceil(0.9 n)-th smallest. Chattering is
worked out again from the raises with the site's chatter limits (host/room/alarms.py
Chatter), so a journal written with no monitor running gets the same answer."""
import collections
import html
import io
import json
import math
import sqlite3
import time

from .alarms import Chatter, Policy, rank

NOT_ALARMS = ('room.escalated', 'room.pin_wrong')        # journaled beside the control room's alarms, but notes
COLOURS = {'critical': '#c62828', 'high': '#ef6c00', 'medium': '#f9a825', 'low': '#0277bd'}


def percentile(values, p):
    """Nearest-rank percentile of a list of numbers (None when empty)."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def _open(path):
    db = sqlite3.connect('file:%s?mode=ro' % path, uri=True, timeout=30)
    db.row_factory = sqlite3.Row
    return db


def build(path, start, end, policy=None):
    """The report's figures for alarms raised in [start, end) from the journal at `path`."""
    policy = policy or Policy()
    db = _open(path)
    try:
        raises = [dict(r) for r in db.execute(
            "SELECT device, ctrl, type, seq, received AS at FROM events WHERE sev='alarm' AND active=1 "
            "AND received >= ? AND received < ? ORDER BY received", (start, end))]
        room = [dict(r, ctrl='room', seq=0) for r in db.execute(
            'SELECT device, type, at FROM room_alarms WHERE active=1 AND at >= ? AND at < ? AND type NOT IN (%s) '
            'ORDER BY at' % ','.join('?' * len(NOT_ALARMS)), (start, end) + NOT_ALARMS)]
        acks = [dict(r) for r in db.execute('SELECT device, ctrl, type, seq, by, at FROM alarm_acks WHERE at >= ? '
                                            'ORDER BY at', (start,))]
        escalated = [dict(r) for r in db.execute(
            "SELECT device, body, at FROM room_alarms WHERE type='room.escalated' AND at >= ? AND at < ?", (start, end))]
    finally:
        db.close()
    alarms = sorted(raises + room, key=lambda a: a['at'])
    for a in alarms:
        a['priority'] = policy.priority(a['device'], a['type'])
    waits = _ack_times(alarms, acks)
    by_type = collections.Counter(a['type'] for a in alarms)
    by_device = collections.Counter(a['device'] for a in alarms)
    by_priority = collections.Counter(a['priority'] for a in alarms)
    return {
        'from': start, 'to': end, 'alarms': len(alarms),
        'by_type': _ranked(by_type), 'by_device': _ranked(by_device),
        'by_priority': {p: by_priority.get(p, 0) for p in policy.escalate},
        'by_type_priority': {t: policy.priority(None, t) for t in by_type},
        'ack': {'acknowledged': len(waits), 'unacknowledged': len(alarms) - len(waits),
                'median_s': _round(percentile(waits, 50)), 'p90_s': _round(percentile(waits, 90)),
                'by_priority': {p: {'n': len(w), 'median_s': _round(percentile(w, 50)),
                                    'p90_s': _round(percentile(w, 90))}
                                for p, w in _by_priority(alarms, waits).items()}},
        'ack_times_s': [_round(w) for w in waits],
        'escalations': len(escalated),
        'chattering': _chattering(raises, policy),
    }


def _round(v):
    return None if v is None else round(v, 1)


def _ranked(counter):
    return [[k, n] for k, n in sorted(counter.items(), key=lambda x: (-x[1], x[0]))]


def _ack_times(alarms, acks):
    """Seconds from each raise to its acknowledgement: a board alarm's by (device, ctrl,
    type, seq); a control-room alarm's (no seq) by the latest raise of its (device, type)
    before the acknowledgement. Sets a['ack_s'] on the acknowledged ones."""
    by_seq = {(a['device'], a['ctrl'], a['type'], a['seq']): a for a in alarms if a['ctrl'] != 'room'}
    waits = []
    for k in acks:
        if k['ctrl'] == 'room':
            cands = [a for a in alarms if a['ctrl'] == 'room' and a['device'] == k['device'] and
                     a['type'] == k['type'] and a['at'] <= k['at'] and 'ack_s' not in a]
            a = cands[-1] if cands else None
        else:
            a = by_seq.get((k['device'], k['ctrl'], k['type'], k['seq']))
        if a is not None and 'ack_s' not in a:
            a['ack_s'] = max(0.0, k['at'] - a['at'])
            waits.append(a['ack_s'])
    return waits


def _by_priority(alarms, waits):
    out = collections.OrderedDict()
    for a in sorted(alarms, key=lambda a: rank(a['priority'])):
        if 'ack_s' in a:
            out.setdefault(a['priority'], []).append(a['ack_s'])
    return out


def _chattering(raises, policy, top=10):
    """The sources the chatter limits fold (more than max raises within window_s): device,
    alarm (ctrl/type), episodes, raises within them, the most in one; most raises first."""
    c = Chatter(policy.chatter_max, policy.chatter_window_s)
    stats = {}
    for a in raises:
        key = (a['device'], a['ctrl'], a['type'])
        c.quiet(a['at'])                 # episodes quiet for a whole window are over
        was = c.chattering(key)
        n = c.raised(key, a['at'])
        if n is None:
            continue
        s = stats.setdefault(key, {'device': key[0], 'alarm': '%s/%s' % key[1:], 'episodes': 0, 'raises': 0,
                                   'most': 0})
        if not was:
            s['episodes'] += 1
            s['raises'] += n
        else:
            s['raises'] += 1
        s['most'] = max(s['most'], n)
    return sorted(stats.values(), key=lambda s: (-s['raises'], s['device'], s['alarm']))[:top]


# --- showing ------------------------------------------------------------------------------------
def _when(t):
    return time.strftime('%Y-%m-%d %H:%M', time.localtime(t))


def _secs(v):
    return '-' if v is None else ('%.0fs' % v if v < 120 else '%.1fm' % (v / 60.0))


def text(r):
    ack = r['ack']
    out = ['alarm report %s .. %s: %d alarms, %d acknowledged (median %s, p90 %s), %d unacknowledged, '
           '%d escalated' % (_when(r['from']), _when(r['to']), r['alarms'], ack['acknowledged'],
                             _secs(ack['median_s']), _secs(ack['p90_s']), ack['unacknowledged'], r['escalations'])]
    out.append('by priority: ' + ', '.join('%s %d' % kv for kv in r['by_priority'].items()))
    for title, rows in (('by type', r['by_type']), ('by device', r['by_device'])):
        out.append(title + ':')
        out += ['  %-24s %6d' % (k, n) for k, n in rows] or ['  none']
    out.append('time to acknowledge by priority:')
    out += ['  %-9s n=%-5d median %-7s p90 %s' % (p, v['n'], _secs(v['median_s']), _secs(v['p90_s']))
            for p, v in ack['by_priority'].items()] or ['  none acknowledged']
    out.append('top chattering sources:')
    out += ['  %-14s %-26s %d episodes, %d raises in them (most %d in one)' % (
        c['device'], c['alarm'], c['episodes'], c['raises'], c['most']) for c in r['chattering']] or ['  none']
    return '\n'.join(out)


def _svg(fig):
    buf = io.StringIO()
    fig.savefig(buf, format='svg', bbox_inches='tight', metadata={'Date': None})   # the same report, the same page
    s = buf.getvalue()
    return s[s.index('<svg'):]


def charts(r):
    """The report's plots as inline SVG strings (matplotlib, no display needed)."""
    import matplotlib
    from matplotlib.figure import Figure      # no pyplot: no display, no global figures
    matplotlib.rcParams['svg.fonttype'] = 'none'      # labels stay text: smaller, searchable
    matplotlib.rcParams['svg.hashsalt'] = 'edgectl'  # the same report, the same SVG
    out = {}
    for name, rows, colour in (('by_type', r['by_type'], lambda k: COLOURS.get(r['by_type_priority'].get(k))),
                               ('by_device', r['by_device'], lambda k: '#546e7a')):
        rows = rows[:20]
        fig = Figure(figsize=(7, 0.35 * max(len(rows), 2) + 1))
        ax = fig.add_subplot()
        labels = [k for k, _ in rows][::-1]
        ax.barh(labels, [n for _, n in rows][::-1], color=[colour(k) or '#546e7a' for k in labels])
        ax.set_xlabel('alarms raised')
        ax.set_title('alarms %s' % name.replace('_', ' '))
        out[name] = _svg(fig)
    fig = Figure(figsize=(7, 3))
    ax = fig.add_subplot()
    waits = r['ack_times_s']
    if waits:
        ax.hist(waits, bins=min(30, max(5, len(waits) // 3)), color='#546e7a')
        for p, v, style in (('median', r['ack']['median_s'], '--'), ('p90', r['ack']['p90_s'], ':')):
            ax.axvline(v, color='#c62828', linestyle=style, label='%s %s' % (p, _secs(v)))
        ax.legend()
    ax.set_xlabel('seconds from raise to acknowledgement')
    ax.set_title('time to acknowledge')
    out['ack_times'] = _svg(fig)
    return out


def to_html(r):
    e = html.escape
    svg = charts(r)

    def table(head, rows):
        return '<table><tr>%s</tr>%s</table>' % (''.join('<th>%s</th>' % e(h) for h in head), ''.join(
            '<tr>%s</tr>' % ''.join('<td>%s</td>' % e(str(c)) for c in row) for row in rows))
    ack = r['ack']
    parts = ['<!doctype html><html><head><meta charset="utf-8"><title>edgectl alarm report</title><style>',
             'body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}'
             'td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}',
             ''.join('.%s{color:%s}' % (p, c) for p, c in COLOURS.items()), '</style></head><body>',
             '<h1>Alarm report</h1><p>%s to %s: <b>%d</b> alarms, %d acknowledged (median %s, p90 %s), '
             '%d unacknowledged, %d escalated.</p>' % (
                 e(_when(r['from'])), e(_when(r['to'])), r['alarms'], ack['acknowledged'], _secs(ack['median_s']),
                 _secs(ack['p90_s']), ack['unacknowledged'], r['escalations']),
             '<h2>By priority</h2>', table(['priority', 'alarms'], r['by_priority'].items()),
             '<h2>By type</h2>', svg['by_type'], table(['type', 'priority', 'alarms'],
                                                       [(t, r['by_type_priority'].get(t), n) for t, n in r['by_type']]),
             '<h2>By device</h2>', svg['by_device'], table(['device', 'alarms'], r['by_device']),
             '<h2>Time to acknowledge</h2>', svg['ack_times'],
             table(['priority', 'acknowledged', 'median', 'p90'],
                   [(p, v['n'], _secs(v['median_s']), _secs(v['p90_s'])) for p, v in ack['by_priority'].items()]),
             '<h2>Top chattering sources</h2>',
             table(['device', 'alarm', 'episodes', 'raises in them', 'most in one'],
                   [(c['device'], c['alarm'], c['episodes'], c['raises'], c['most']) for c in r['chattering']])
             if r['chattering'] else '<p>none</p>',
             '</body></html>\n']
    return ''.join(parts)


def to_json(r):
    return json.dumps(r, sort_keys=True)

