"""`edgectl logs DEVICE`: a board's log lines (topic .../<device>/log, BoardLog in firmware/app.py),
first those the journal kept, then with --follow live from the broker. --level shows only
lines at or below a level; the board's own level is its log_level setting, changed until
its next boot by `edgectl cmd DEVICE system log level=N`."""
import json
import queue
import sys
import time

from ..core.errors import EdgeError

LEVELS = ('none', 'error', 'warn', 'info', 'debug')     # the board's log_level 0..4


def level(v):
    """'warn', 'WARNING' or '2' -> 2."""
    v = str(v).lower()
    if v.isdigit() and int(v) < len(LEVELS):
        return int(v)
    for i, name in enumerate(LEVELS):
        if name.startswith(v[:4]) and v:
            return i
    raise EdgeError('--level %r: one of %s or 0..4' % (v, ', '.join(LEVELS[1:])), 2)


def add_arguments(sub):
    s = sub.add_parser('logs', help="a board's log lines: from the journal, and live with --follow",
                       description="Print DEVICE's log lines: those the journal kept (`journal run` or `monitor` "
                                   "journal them), then with --follow the ones it publishes now until Ctrl-C. A "
                                   "board publishes lines at or below its log_level (site file; `edgectl cmd DEVICE "
                                   "system log level=N` until its next boot), at most 10 per 10 s; a crash's "
                                   "traceback comes as the system.crash event at the next boot. Exit 2 when there "
                                   "is no such device or no journal and no --follow.")
    s.add_argument('device')
    s.add_argument('--follow', '-f', action='store_true', help='keep printing the lines the board publishes now')
    s.add_argument('--level', default='debug', help='only lines at or below: error, warn, info, debug (default all)')
    s.add_argument('--since', help='journal lines from this time: -2h, ISO, epoch (default: the last --limit)')
    s.add_argument('--limit', type=int, default=200, help='at most this many journal lines, the newest (default 200)')
    s.add_argument('--db', help='journal file (default .edgectl/journal.sqlite3)')
    s.add_argument('--site', dest='site_opt', metavar='FILE', help='site file (default ./site.yaml)')
    s.add_argument('--json', action='store_true', help='one JSON object per line')
    s.add_argument('--duration', type=float, help='--follow: stop after this many seconds')
    s.set_defaults(fn=run)
    return s


def line_text(device, at, line):
    from .screen import clean
    t = time.strftime('%H:%M:%S', time.localtime(at)) + '.%03d' % (int(at * 1000) % 1000)
    lvl = line.get('lvl')
    lost = ' (%d lines lost before this one)' % line['dropped'] if line.get('dropped') else ''
    return '%s  %-12s %-5s %s%s' % (t, clean(device), LEVELS[lvl].upper() if 0 < lvl < len(LEVELS) else lvl,
                                   clean(line.get('msg', '')), lost)


def _show(a, device, at, line):
    if a.json:
        print(json.dumps(dict(line, device=device, at=at)), flush=True)
    else:
        print(line_text(device, at, line), flush=True)


def run(a):
    from pathlib import Path
    from ..core.cliargs import _site_or_none
    from .store import Store, default_path
    from .verbs import _when
    want = level(a.level)
    s = _site_or_none(a)
    if s is not None and a.device not in s.devices:
        raise EdgeError('no device %r in %s (devices: %s)' % (a.device, s.path, ', '.join(sorted(s.devices))), 2)
    db = Path(a.db or default_path())
    if db.is_file():
        store = Store(db, repair=False)
        try:
            for r in store.board_logs(a.device, _when(a.since), want, a.limit):
                _show(a, a.device, r['at'], {k: r[k] for k in ('lvl', 'ts', 'msg', 'dropped')})
        finally:
            store.close()
    elif not a.follow:
        raise EdgeError('no journal at %s: `edgectl journal run` keeps board logs; or watch them live with '
                        '--follow' % db, 2)
    if not a.follow:
        return 0
    return _follow(a, want)


def _follow(a, want):
    from . import intake
    from ..core.cliargs import _broker_for
    from ..core.proto import topics
    site, ep = _broker_for(a)
    lines = queue.Queue(maxsize=10000)

    def on_message(client, userdata, msg):
        try:
            lines.put_nowait((time.time(), msg.payload))
        except queue.Full:
            pass
    c = ep.connect('logs', on_message=on_message, subscribe=[topics.log(site, a.device)])
    if not a.json:
        print('following %s on %s:%d (Ctrl-C stops)' % (a.device, ep.host, ep.port), file=sys.stderr, flush=True)
    end = time.monotonic() + a.duration if a.duration else None
    try:
        while end is None or time.monotonic() < end:
            try:
                at, raw = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            line, why = intake.check('log', raw)
            if why is not None:
                print('%s: a log message that is not a log line (%s): not shown' % (a.device, why), file=sys.stderr)
            elif line['lvl'] <= want:
                _show(a, a.device, at, line)
    except KeyboardInterrupt:
        pass
    finally:
        from ..core import mqttc
        mqttc.close(c)
    return 0


VERBS = {'logs': (add_arguments, run)}
