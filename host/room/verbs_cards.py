"""`edgectl cards ...`: the front desk. issue (a new card or a change), revoke, lost,
restore, list, swipes (from the journal), push (bring the boards with readers up to date),
status (what each board holds). A change is saved in the site's card list first, then sent
to every board with a reader (--no-push: later, with `cards push`)."""
import datetime
import json
import sys
import time

from ..core.errors import EdgeError


def add_arguments(sub):
    s = sub.add_parser('cards', help='card access at the front desk: issue, revoke, lost, list, swipes, push',
                       description='The site\'s card list (beside the site file, 0600; cards kept only as salted '
                                   'hashes) and its copy on every board with a card reader, which decides offline. '
                                   'Changes are sent to the boards at once, signed with each board\'s own key; '
                                   'a board that was offline gets what it missed with `cards push`.')
    cs = s.add_subparsers(dest='action', metavar='ACTION', required=True)

    def common(c, push=True):
        c.add_argument('--site', dest='site_opt', metavar='FILE', help='the site file (default ./site.yaml)')
        if push:
            c.add_argument('--no-push', action='store_true', help='only change the list; send it later (cards push)')
            c.add_argument('--timeout', type=float, default=5.0, help='seconds to wait for each board (default 5)')
        c.add_argument('--json', action='store_true', help='print JSON')
        c.set_defaults(fn=run)

    c = cs.add_parser('issue', help='issue a card, or change one (the same card again)')
    c.add_argument('card', help='the card number: 1234567, W26:1234567 or W34:...')
    c.add_argument('--holder', required=True, help="the holder's name")
    c.add_argument('--doors', help='DEVICE/CTRL,... the doors and barriers it opens (their access_group)')
    c.add_argument('--groups', help='N,... access groups it opens (0..31), besides --doors')
    c.add_argument('--from', dest='vfrom', metavar='DATE', help='valid from (2026-12-01 or 2026-12-01T08:00, UTC)')
    c.add_argument('--until', metavar='DATE', help='valid until (exclusive)')
    c.add_argument('--days', help='weekly window days, e.g. mon-fri (with --hours)')
    c.add_argument('--hours', help='weekly window hours, e.g. 08:00-18:00 (local time of the board: tz_offset_min)')
    c.add_argument('--uses', type=int, help='uses left (temporary car-park cards; exits do not count)')
    c.add_argument('--pin', action='store_true', help='card + PIN: read the PIN from EDGE_CARD_PIN or the terminal')
    common(c)
    for name, hlp in (('revoke', 'revoke a card (refused at every door)'),
                      ('lost', 'report a card lost (refused, and its swipe is an alarm)'),
                      ('restore', 'make a revoked or lost card active again')):
        c = cs.add_parser(name, help=hlp)
        c.add_argument('card')
        common(c)
    c = cs.add_parser('import', help='issue many cards from a CSV file (all or none)',
                      description='CSV with a header row: card, holder (required), doors (DEVICE/CTRL separated by '
                                  'spaces), groups (numbers separated by spaces), from, until, days, hours, uses; '
                                  'one card per row, as `cards issue` takes them. A bad row refuses the whole file '
                                  '(exit 2, naming its line); then the boards get one delta.')
    c.add_argument('csv', metavar='FILE.csv')
    common(c)
    c = cs.add_parser('list', help='the cards of the site')
    common(c, push=False)
    c = cs.add_parser('swipes', help='swipe records from the journal (access.granted / access.denied)')
    c.add_argument('--door', metavar='DEVICE[/CTRL]', help='only this door or board')
    c.add_argument('--since', help='from this time: --since=-2h, 2026-11-28T18:00, epoch seconds')
    c.add_argument('--limit', type=int, default=200, help='at most this many (newest; default 200)')
    c.add_argument('--db', help='journal file (default .edgectl/journal.sqlite3)')
    common(c, push=False)
    c = cs.add_parser('push', help='send the boards with readers what they lack of the list')
    c.add_argument('devices', nargs='*', metavar='DEVICE', help='only these (default: every board with a reader)')
    c.add_argument('--timeout', type=float, default=5.0, help='seconds to wait for each part (default 5)')
    c.add_argument('--follow', action='store_true',
                   help='keep running: a board that comes online gets what it missed of the list at once '
                        '(re-read from the file, so changes made meanwhile go too)')
    c.add_argument('--duration', type=float, help='--follow: stop after this many seconds')
    c.add_argument('--site', dest='site_opt', metavar='FILE', help='the site file (default ./site.yaml)')
    c.add_argument('--json', action='store_true', help='print JSON')
    c.set_defaults(fn=run, no_push=False)
    c = cs.add_parser('status', help="each board's version of the card list (from its retained state)")
    common(c, push=False)
    c.add_argument('--timeout', type=float, default=2.0, help='seconds to collect the states (default 2)')


def run(a):
    from ..core.cliargs import _site_file
    from ..core import site as sitemod
    from . import cards
    path = _site_file(a)
    site = sitemod.load_valid(path)
    db = cards.CardDB(path)
    act = a.action
    if act == 'list':
        return _list(db, a)
    if act == 'swipes':
        return _swipes(db, a)
    if act == 'status':
        return _status(db, site, a)
    if act == 'push' and a.follow:
        return _follow(path, site, a)
    if act == 'push':
        return _push(db, site, a, a.devices)
    if act == 'import':
        n = _import(db, site, a)
        db.save()
        if not a.json:
            print('%d cards issued (card list version %d)' % (n, db.version))
        return 0 if a.no_push else _push(db, site, a, [])
    if act == 'issue':
        k, rec = _issue(db, site, a)
        what = 'issued to %s' % a.holder
    else:
        k, rec = db.set_state(a.card, {'revoke': 'revoked', 'lost': 'lost', 'restore': 'active'}[act])
        what = rec['state']
    db.save()
    if not a.json:
        print('card …%s %s (card list version %d)' % (rec['last'], what, db.version))
    return 0 if a.no_push else _push(db, site, a, [])


def _issue(db, site, a):
    from . import cards
    from ..core import site as sitemod
    groups = cards.groups_of(site, a.doors.split(',')) if a.doors else 0
    for g in (a.groups.split(',') if a.groups else ()):
        if not g.strip().isdigit() or int(g) > 31:
            raise EdgeError('--groups takes numbers 0..31 (got %r)' % g, 2)
        groups |= 1 << int(g)
    window = cards.ALL_DAY
    if a.days or a.hours:
        try:
            days = sitemod.parse_days(a.days or 'mon-sun')
            on, _, off = (a.hours or '00:00-00:00').partition('-')
            window = (days, sitemod.parse_hhmm(on), sitemod.parse_hhmm(off) % 1440)
        except ValueError as e:
            raise EdgeError('%s (--days mon-fri --hours 08:00-18:00)' % e, 2)
    pin = None
    if a.pin:
        import os
        pin = os.environ.get('EDGE_CARD_PIN')
        if pin is None:
            if not sys.stdin.isatty():
                raise EdgeError('--pin: set EDGE_CARD_PIN or run on a terminal to type it', 2)
            import getpass
            pin = getpass.getpass('PIN for the card: ')
    return db.issue(a.card, a.holder, groups, cards.when(a.vfrom), cards.when(a.until), window, a.uses, pin)


def _import(db, site, a):
    """Every row of the CSV issued into db (in memory: saved by the caller only when all
    rows are good); the number of rows."""
    import argparse
    import csv
    try:
        with open(a.csv, newline='') as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise EdgeError('%s: %s' % (a.csv, e), 2)
    n = 0
    for i, row in enumerate(rows, start=2):
        r = {k.strip().lower(): (v or '').strip() for k, v in row.items() if k}
        try:
            if not r.get('card') or not r.get('holder'):
                raise EdgeError('card and holder are required', 2)
            uses = r.get('uses') or None
            if uses is not None and not uses.isdigit():
                raise EdgeError('uses must be a whole number', 2)
            one = argparse.Namespace(card=r['card'], holder=r['holder'],
                                     doors=','.join(r.get('doors', '').split()) or None,
                                     groups=','.join(r.get('groups', '').split()) or None,
                                     vfrom=r.get('from') or None, until=r.get('until') or None,
                                     days=r.get('days') or None, hours=r.get('hours') or None,
                                     uses=int(uses) if uses else None, pin=False)
            _issue(db, site, one)
        except EdgeError as e:
            raise EdgeError('%s line %d: %s (nothing imported)' % (a.csv, i, e), 2)
        n += 1
    return n


def _list(db, a):
    rows = db.rows()
    if a.json:
        print(json.dumps({'version': db.version, 'cards': rows, 'boards': db.d['boards']}))
        return 0
    for r in rows:
        groups = ','.join(str(g) for g in range(32) if r['groups'] >> g & 1)
        valid = '%s..%s' % (_day(r['from']) or '', _day(r['until']) or '')
        uses = '' if r['uses'] is None else ' uses %d' % r['uses']
        print('%s …%-5s %-8s %-20s groups %s%s%s%s' % (r['card'][:8], r['last'], r['state'], r['holder_name'], groups,
              '' if valid == '..' else ' valid ' + valid, uses, ' +PIN' if r.get('pin') is not None else ''))
    print('%d cards, version %d' % (len(rows), db.version))
    return 0


def _day(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime('%Y-%m-%d') if t else None


def _swipes(db, a):
    from .store import Store
    from .verbs import _when
    store = Store(a.db)
    try:
        evs = store.query(etype='access.*', since=_when(a.since))
    finally:
        store.close()
    dev, _, ctrl = (a.door or '').partition('/')
    out = []
    for e in evs:
        if dev and (e.get('device') != dev or ctrl and e.get('ctrl') != ctrl):
            continue
        card = db.d['cards'].get(e.get('card') or '', {})
        e['holder_name'] = db.holder_name(e['holder']) if isinstance(e.get('holder'), int) else None
        e['last'] = card.get('last')
        out.append(e)
    out = out[-a.limit:] if a.limit else out
    if a.json:
        print(json.dumps(out))
        return 0
    for e in out:
        t = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(e.get('ts', 0) / 1000 or e.get('received', 0)))
        what = e['type'].split('.', 1)[1]
        print('%s  %s/%s  %-9s %s%s %s' % (t, e.get('device'), e.get('ctrl'), what,
              ('…' + e['last']) if e['last'] else 'card ' + str(e.get('card', ''))[:8],
              (' ' + e['holder_name']) if e['holder_name'] else '', e.get('reason', e.get('by', ''))))
    return 0


def _push(db, site, a, only):
    from ..core.cliargs import _broker_for, _site_secrets
    from . import cards
    rd = cards.reader_devices(site)
    for d in only:
        if d not in rd:
            raise EdgeError('%s has no card reader in the site file (boards with readers: %s)' % (
                d, ', '.join(sorted(rd)) or 'none'), 2)
    if not rd:
        print('no board of the site has a card reader (pins reader_d0, reader_d1): nothing to send', file=sys.stderr)
        return 0
    sname, ep = _broker_for(a)
    done, failed = cards.push_all(db, only or rd, ep, sname, _site_secrets(a), a.timeout)
    cards.save_boards(db, done)
    if a.json:
        print(json.dumps({'version': db.version, 'updated': done, 'failed': failed}))
    else:
        for dev in sorted(done):
            print('%s: version %d' % (dev, done[dev]))
        for dev in sorted(failed):
            print('%s: NOT updated: %s' % (dev, failed[dev]), file=sys.stderr)
        if failed:
            print('the list is saved; `edgectl cards push` sends it when they are online', file=sys.stderr)
    return 1 if failed else 0


def _follow(path, site, a):
    """Push to each board with a reader whenever it comes online (its status, retained at
    first: so every board online now is checked too), until Ctrl-C or --duration."""
    from ..core.cliargs import _broker_for, _site_secrets
    from ..core import secrets
    from ..core.proto import topics
    from . import cards
    rd = cards.reader_devices(site)
    only = a.devices or sorted(rd)
    for d in only:
        if d not in rd:
            raise EdgeError('%s has no card reader in the site file' % d, 2)
    sname, ep = _broker_for(a)
    sec = _site_secrets(a)
    col = ep.collector([topics.status(sname, d) for d in only], 'cards_follow')
    if not a.json:
        print('following %d board(s) with readers; Ctrl-C stops' % len(only), flush=True)
    end = time.monotonic() + a.duration if a.duration else None
    stop = getattr(a, 'stop', None)     # (an Event a caller running this in a thread may set)
    at = 0
    try:
        while (end is None or time.monotonic() < end) and not (stop and stop.is_set()):
            m = col.wait(lambda t, p: isinstance(p, dict) and p.get('online'), 0.5, at)
            if m is None:
                continue
            with col.cond:
                at = col.base + col.items.index(m) + 1
            dev = topics.parse(m[1])[1]
            db = cards.CardDB(path)     # as the front desk left it
            db.d['boards'].pop(dev, None)       # back online: it may have lost or missed anything
            try:
                v = cards.push(db, dev, ep, sname, secrets.cmd_key(sec, dev), a.timeout)
                _saved_board(path, dev, v)
                out = {'device': dev, 'version': v}
            except EdgeError as e:
                out = {'device': dev, 'error': str(e)}
            print(json.dumps(out) if a.json else '%s online: %s' % (
                dev, 'version %d' % out['version'] if 'version' in out else 'NOT updated: ' + out['error']), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        col.close()
    return 0


def _saved_board(path, dev, v):
    """Note a board's version in the list file (re-read: the desk may have changed it)."""
    from . import cards
    db = cards.CardDB(path)
    db.d['boards'][dev] = v
    db.save()


def _status(db, site, a):
    from ..core.cliargs import _broker_for
    from ..core.proto import topics
    from . import cards
    rd = cards.reader_devices(site)
    sname, ep = _broker_for(a)
    col = ep.collector([topics.state(sname, d, c) for d in rd for c, g in rd[d]], 'cards_status')
    got = {}
    try:       # the retained states come at once; a board that never published has none
        end = time.monotonic() + a.timeout
        while len(got) < len(rd) and time.monotonic() < end:
            col.wait(lambda t, p: False, 0.1)
            with col.cond:
                msgs = list(col.msgs)
            for _, t, p, _r in msgs:
                parsed = topics.parse(t)
                if parsed and isinstance(p, dict) and isinstance(p.get('access'), dict):
                    got[parsed[1]] = p['access'].get('cards')
    finally:
        col.close()
    rows = {d: {'version': got.get(d), 'up_to_date': got.get(d) == db.version} for d in sorted(rd)}
    if a.json:
        print(json.dumps({'version': db.version, 'boards': rows}))
    else:
        for d, r in rows.items():
            print('%-16s %s' % (d, 'up to date' if r['up_to_date'] else 'version %s (the list is %d)' % (
                '?' if r['version'] is None else r['version'], db.version)))
    return 0 if all(r['up_to_date'] for r in rows.values()) else 1


VERBS = {'cards': (add_arguments, run)}
