"""Plots for the page, from the journal: alarms per day and per device, time to acknowledge,
barrier cycles and obstructions per day, pump running hours per day. `figures()` gives the
numbers (labels and named series, tested against a journal built by the test); `render()`
draws them as SVG with matplotlib (server-side: nothing for the browser to download)."""
import collections
import sqlite3
import time

DAYS_MAX = 366
ACK_BUCKETS = ((10, '< 10 s'), (30, '10-30 s'), (60, '30-60 s'), (300, '1-5 min'), (900, '5-15 min'),
               (float('inf'), '> 15 min'))
TITLES = {
    'alarms-per-day': 'Alarms raised per day',
    'alarms-per-device': 'Alarms raised per device',
    'time-to-ack': 'Time to acknowledge',
    'barrier-cycles': 'Barrier cycles and obstructions per day',
    'pump-hours': 'Pump running hours per day',
}


def _day(t):
    return time.strftime('%Y-%m-%d', time.localtime(t))


def _days(since, now):
    """Every local date from since to now, in order."""
    out, t = [], since
    while _day(t) <= _day(now):
        if not out or out[-1] != _day(t):
            out.append(_day(t))
        t += 3600
    return out


def _rows(db, sql, args):
    return db.execute(sql, args).fetchall()


def figures(path, name, days=14, now=None):
    """(labels, {series: [values]}) of plot `name` over the last `days` days of the journal."""
    if name not in TITLES:
        raise KeyError(name)
    now = now or time.time()
    since = now - days * 86400
    db = sqlite3.connect('file:%s?mode=ro' % path, uri=True, timeout=10)
    try:
        return globals()['_' + name.replace('-', '_')](db, since, now)
    finally:
        db.close()


def _alarms_per_day(db, since, now):
    counts = collections.Counter(_day(r[0]) for r in _rows(
        db, "SELECT received FROM events WHERE sev='alarm' AND active=1 AND received >= ?", (since,)))
    labels = _days(since, now)
    return labels, {'alarms': [counts.get(d, 0) for d in labels]}


def _alarms_per_device(db, since, now):
    rows = _rows(db, "SELECT device, COUNT(*) FROM events WHERE sev='alarm' AND active=1 AND received >= ? "
                     "GROUP BY device ORDER BY 2 DESC, device LIMIT 30", (since,))
    return [r[0] for r in rows], {'alarms': [r[1] for r in rows]}


def _time_to_ack(db, since, now):
    waits = [r[0] for r in _rows(
        db, 'SELECT MIN(a.at - e.received) FROM alarm_acks a JOIN events e ON e.device = a.device AND e.ctrl = a.ctrl '
            'AND e.type = a.type AND e.seq = a.seq WHERE e.received >= ? AND a.at >= e.received '
            'GROUP BY a.device, a.ctrl, a.type, a.seq', (since,))]
    counts = [0] * len(ACK_BUCKETS)
    for w in waits:
        counts[next(i for i, (top, _) in enumerate(ACK_BUCKETS) if w < top)] += 1
    return [label for _, label in ACK_BUCKETS], {'acknowledged alarms': counts}


def _barrier_cycles(db, since, now):
    rows = _rows(db, "SELECT received, type FROM events WHERE type IN ('barrier.opened', 'barrier.obstructed') "
                     "AND (active IS NULL OR active = 1) AND received >= ?", (since,))
    labels = _days(since, now)
    cycles = collections.Counter(_day(t) for t, ty in rows if ty == 'barrier.opened')
    obstructed = collections.Counter(_day(t) for t, ty in rows if ty == 'barrier.obstructed')
    return labels, {'cycles': [cycles.get(d, 0) for d in labels], 'obstructions': [obstructed.get(d, 0) for d in labels]}


def _pump_hours(db, since, now):
    """Running time from pump.started to the next pump.stopped of the same pump, split at
    midnight; a pump still running counts up to now."""
    rows = _rows(db, "SELECT device, ctrl, received, type FROM events WHERE type IN ('pump.started', 'pump.stopped') "
                     "AND received >= ? ORDER BY received", (since,))
    hours = collections.Counter()
    started = {}

    def run(a, b):
        while a < b:
            lt = time.localtime(a)
            midnight = time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday + 1, 0, 0, 0, 0, 0, -1))
            end = min(b, midnight)
            hours[_day(a)] += (end - a) / 3600.0
            a = end
    for dev, ctrl, t, ty in rows:
        if ty == 'pump.started':
            started.setdefault((dev, ctrl), t)
        elif (dev, ctrl) in started:
            run(started.pop((dev, ctrl)), t)
    for t in started.values():
        run(t, now)
    labels = _days(since, now)
    return labels, {'hours': [round(hours.get(d, 0.0), 2) for d in labels]}


def render(name, labels, series):
    """SVG of a plot (text): bars per label, one colour per series, drawn by matplotlib as
    the alarm report's plots are (host/room/report.py)."""
    import matplotlib
    from matplotlib.figure import Figure      # no pyplot: no display, no global figures
    from ..report import _svg
    matplotlib.rcParams['svg.fonttype'] = 'none'
    fig = Figure(figsize=(9, 3.2))
    ax = fig.add_subplot()
    width = 0.8 / max(len(series), 1)
    xs = range(len(labels))
    for i, (label, values) in enumerate(series.items()):
        ax.bar([x + (i - (len(series) - 1) / 2.0) * width for x in xs], values, width, label=label)
    slanted = len(labels) > 8
    ax.set_xticks(list(xs))
    ax.set_xticklabels(labels, rotation=30 if slanted else 0, ha='right' if slanted else 'center', fontsize=8)
    if name != 'pump-hours':
        ax.yaxis.get_major_locator().set_params(integer=True)     # counts
    ax.set_title(TITLES[name])
    if len(series) > 1:
        ax.legend()
    return _svg(fig)
