"""`edgectl report`: the alarm report over a time window from the control room's journal
(host/room/report.py): text, --json, or --html FILE with its charts inline."""
import os
import time
from pathlib import Path

from ..core.errors import EdgeError


def add_arguments(sub):
    s = sub.add_parser('report', help='alarm report from the journal: per type and device, time to acknowledge, '
                                      'chattering sources',
                       description='Alarms raised between --from and --to (default: the last 7 days up to now) from '
                                   'the journal: counts per type, device and priority (the site file\'s priorities '
                                   'when there is one), time to acknowledge (median and p90, nearest rank), '
                                   'escalations and the top chattering sources. --html FILE writes a page with the '
                                   'charts inline (SVG). Exit 2 when the journal or a time cannot be read.')
    s.add_argument('--from', dest='start', default='-7d', metavar='TIME',
                   help='from this time: -24h, -7d, 2026-11-28T18:00, epoch seconds (default -7d)')
    s.add_argument('--to', dest='end', metavar='TIME', help='up to this time (default now)')
    s.add_argument('--html', metavar='FILE', help='also write the report as an HTML page with its charts')
    s.add_argument('--json', action='store_true', help='the figures as one JSON object')
    s.add_argument('--db', help='journal file (default .edgectl/journal.sqlite3)')
    s.add_argument('--site', dest='site_opt', metavar='FILE', help='site file for the priorities and chatter '
                                                                  'limits (default ./site.yaml when present)')
    s.set_defaults(fn=run)
    return s


def run(a):
    from .store import damage, default_path
    from .verbs import _site_alarms, _when
    from . import report
    db = Path(a.db or default_path())
    if not db.is_file():
        raise EdgeError('no journal at %s: `edgectl journal run` or `edgectl monitor` writes one (or pass --db)' % db, 2)
    why = damage(db)
    if why is not None:
        raise EdgeError('the journal %s is damaged (%s): `edgectl journal restore` puts a backup in its place'
                        % (db, why), 2)
    start = _when(a.start)
    end = _when(a.end) if a.end else time.time()
    if end <= start:
        raise EdgeError('--to must be later than --from', 2)
    policy, _ = _site_alarms(a)
    r = report.build(db, start, end, policy)
    print(report.to_json(r) if a.json else report.text(r))
    if a.html:
        try:
            tmp = a.html + '.tmp'
            with open(tmp, 'w') as f:
                f.write(report.to_html(r))
            os.replace(tmp, a.html)
        except OSError as e:
            raise EdgeError('cannot write %s: %s' % (a.html, e.strerror or e), 1)
        if not a.json:
            print('wrote %s' % a.html)
    return 0


VERBS = {'report': (add_arguments, run)}
