"""The control room's verbs: `monitor` (full screen or lines), `journal` (run headless,
query, prune, backup, restore), `fire` (site fire state: status, set, acknowledged reset), `cmd`, `operator` (logins) and
`broker` (the site's mosquitto)."""
import json
import os
import sys
import time
from pathlib import Path

from ..core.errors import EdgeError
from ..core.cliargs import (_site_arg, _site_path, _broker_for, _operator_login, _operator_password, _site_or_none, _site_secrets,
                         _site_tele)


def _room_link(a):
    """(site, endpoint) the room's tools talk to: the site's broker, or with --centre the
    centre's (site None: every site)."""
    if getattr(a, 'centre', None):
        from ..core import centre
        return None, centre.room_link(a.centre)[1]
    return _broker_for(a)


def _site_alarms(a, notify=False):
    """The alarm policy of the site file (host/room/alarms.py) and, with notify, a Notifier
    running its hooks; (default policy, None) without a site file."""
    from ..core import site as sitemod
    from .alarms import Notifier, Policy
    path = _site_path(a)
    if not (getattr(a, 'site_opt', None) or os.path.exists(path)):
        return Policy(), None
    s = sitemod.load_valid(path)
    policy = Policy.from_site(s)
    return policy, (Notifier(policy.hooks, s.name) if notify and policy.hooks else None)


def _close_notifier(notifier, wait_s=5.0):
    """Notifications still queued get a few seconds to go out before the verb ends."""
    if notifier is not None:
        notifier.wait_idle(wait_s)
        notifier.close()


def cmd_monitor(a):
    from .monitor import HELP, Monitor
    from .pgstore import open_store
    site, ep = _room_link(a)
    sec = _site_secrets(a) if site else None
    if site:
        ep = _operator_login(a, sec, ep)
    store = None if a.no_journal else open_store(a.db, site=site)
    keys = not a.json and not a.no_keys and sys.stdin.isatty()
    full = keys and not a.plain and sys.stdout.isatty()
    bell = None
    if not a.json:
        def bell():
            sys.stdout.write('\a')
            sys.stdout.flush()
            if a.sound:
                import shlex
                import subprocess
                subprocess.Popen(shlex.split(a.sound), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    policy, notifier = _site_alarms(a, notify=a.notify)
    if full:
        from .roomview import RoomView
        try:
            return RoomView(site, ep, a.operator, store, _site_tele(a), bell, a.duration, secrets=sec,
                            policy=policy, notifier=notifier, sites=_sites(a)).run()
        finally:
            _close_notifier(notifier)
    mon = Monitor(site, as_json=a.json, quiet_state=not a.state, operator=a.operator, store=store,
                  tele_s=_site_tele(a), bell=bell, secrets=sec, policy=policy, notifier=notifier,
                  sites=_sites(a))
    mon.attach(ep)
    if not a.json:
        print('monitoring %s on %s:%d as %s; %s' % ('site %s' % site if site else 'every site' if not a.sites else
                                                    'sites %s' % a.sites, ep.host, ep.port, mon.operator,
              HELP if keys else 'Ctrl-C stops'), flush=True)
    try:
        end = time.monotonic() + a.duration if a.duration else None
        from .keys import Keyboard
        with Keyboard(keys) as read_key:
            while end is None or time.monotonic() < end:
                ch = read_key(0.2)
                if ch == 'q':
                    break
                if ch and ch.strip():
                    mon.key(ch)
                if mon.housekeep():
                    mon.console.print('[yellow]reconnected to the broker[/]')
    except KeyboardInterrupt:
        pass
    finally:
        mon.detach()
        _close_notifier(notifier)
        if store is not None:
            store.close()
    if not a.json:
        print(json.dumps(mon.summary()))
    return 0


def _sites(a):
    return [s for s in (getattr(a, 'sites', None) or '').split(',') if s] or None


def cmd_journal(a):
    from .store import Damaged, default_path, to_csv
    from .pgstore import is_url, open_store
    if a.action == 'run':
        return _journal_run(a)
    if a.action in ('backup', 'restore'):
        if is_url(a.db):
            raise EdgeError('journal %s is for the SQLite journal: back PostgreSQL up with its own tools '
                            '(pg_dump, pg_basebackup, a replica)' % a.action, 2)
        return _journal_copy(a, Path(a.db or default_path()))
    try:
        store = open_store(a.db, repair=False)
    except Damaged as e:
        raise EdgeError('%s: `edgectl journal run` or `edgectl monitor` sets it aside and starts a fresh one; '
                        '`edgectl journal restore` puts a backup in its place' % e, 1)
    try:
        if a.action == 'quarantine':
            return _set_aside(store.set_aside(a.device, _when(a.since), a.limit), a.json)
        if a.action == 'prune':
            r = store.prune(a.days, a.alarm_days)
            print(json.dumps(r) if a.json else 'removed %d events and %d alarm events' % (r['events'], r['alarms']))
            return 0
        rows = store.query(a.device, a.type, a.sev, _when(a.since), _when(a.until), a.limit)
        if a.json:
            print(json.dumps(rows))
        elif a.csv:
            sys.stdout.write(to_csv(rows))
        else:
            for r in rows:
                extra = ' '.join('%s=%s' % (k, v) for k, v in r.items()
                                 if k not in ('device', 'received', 'seq', 'ts', 'type', 'sev', 'ctrl'))
                print('%s  %-12s #%-6s %-5s %-10s %-22s %s' % (
                    time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(r['received'])), r['device'], r.get('seq'),
                    r.get('sev'), r.get('ctrl'), r.get('type'), extra))
        return 0
    finally:
        store.close()


def _set_aside(rows, as_json):
    """`journal quarantine`: the messages set aside instead of journaled, and why."""
    import base64
    from .screen import clean
    for r in rows:
        if as_json:
            print(json.dumps(dict(r, raw=base64.b64encode(r['raw']).decode())))
        else:
            print('%s  %-12s %s  %d bytes  %s\n    %s' % (
                time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(r['at'])), clean(r['device']), clean(r['topic']), r['size'],
                r['reason'], repr(bytes(r['raw'][:120]))[2:-1] + (' ...' if r['size'] > 120 else '')))
    return 0


def _when(v):
    """A time filter: epoch seconds, ISO date/time, or relative like -2h, -30m, -7d."""
    if v is None:
        return None
    import datetime
    import re
    m = re.fullmatch(r'-(\d+(?:\.\d+)?)([smhd])', v)
    if m:
        return time.time() - float(m.group(1)) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400}[m.group(2)]
    try:
        return float(v)
    except ValueError:
        pass
    try:
        return datetime.datetime.fromisoformat(v).timestamp()
    except ValueError:
        raise EdgeError('cannot read the time %r: use 2026-11-28T18:00, epoch seconds or -2h' % v, 2)


def _journal_copy(a, db):
    from . import store as st
    if a.action == 'backup':
        to = Path(a.to) if a.to else db.parent / 'backups' / ('journal-%s.sqlite3' % time.strftime('%Y%m%d-%H%M%S'))
        try:
            info = st.backup(db, to)
        except (FileNotFoundError, ValueError) as e:
            raise EdgeError('backup failed: %s' % e, 1)
        print(json.dumps(info) if a.json else 'backed up %s to %s: %d events (%d alarms), %d bytes, checked' % (
            db, info['file'], info['events'], info['alarms'], info['bytes']))
        return 0
    if not a.file:
        raise EdgeError('journal restore needs the backup FILE', 2)
    if not Path(a.file).exists():
        raise EdgeError('no backup at %s' % a.file, 2)
    try:
        info = st.restore(a.file, db)
    except (RuntimeError, ValueError) as e:
        raise EdgeError('restore refused, the journal is unchanged: %s' % e, 1)
    print(json.dumps(info) if a.json else 'restored %s from %s: %d events (%d alarms); the journal it replaced '
          'is %s.replaced' % (db, a.file, info['events'], info['alarms'], db.name))
    return 0


def _journal_run(a):
    """Headless journal: a persistent MQTT session (the broker keeps what arrives while it
    restarts), every event of the site into SQLite, gaps reported."""
    import sqlite3
    from . import store as st
    from .monitor import Monitor
    from .pgstore import is_url, open_store
    site, ep = _room_link(a)
    if a.backup_dir and is_url(a.db):
        raise EdgeError('--backup-dir is for the SQLite journal: back PostgreSQL up with its own tools', 2)
    store = open_store(a.db, site=site)
    policy, notifier = _site_alarms(a, notify=not a.no_notify)    # the site's hooks run here, the one service
    mon = Monitor(site, store=store, tele_s=_site_tele(a) if site else {}, sites=_sites(a), policy=policy,
                  notifier=notifier)
    mon.show = lambda rec: None
    # a persistent session, acknowledged only once each batch is committed: nothing is lost;
    # --share: one of several writers on a shared subscription, each with its own session
    name = 'journal-%s' % (site or 'centre') + ('-%s-%s' % (a.share, a.writer) if a.share else '')
    mon.attach(ep, client_id=name, persistent=True, publish=False, share=a.share)
    backups = st.Backups(store.path, a.backup_dir, a.backup_hours * 3600, a.keep) if a.backup_dir else None
    print('journal of %s on %s:%d into %s%s; Ctrl-C stops' % (
        'site %s' % site if site else 'every site', ep.host, ep.port, store.path,
        ' (writer %s of the shared group %s)' % (a.writer, a.share) if a.share else ''), flush=True)
    try:
        end = time.monotonic() + a.duration if a.duration else None
        last = 0
        pruned = 0
        while end is None or time.monotonic() < end:
            time.sleep(0.5)
            if mon.housekeep():
                print('reconnected to the broker (%d so far)' % mon.reconnects, flush=True)
            if backups and backups.due():
                try:
                    info = backups.take()
                    print('backup %s: %d events, %d bytes' % (info['file'], info['events'], info['bytes']), flush=True)
                except (OSError, ValueError, sqlite3.Error) as e:
                    print('backup into %s failed: %s (next try in %.0f h)' % (a.backup_dir, e, a.backup_hours),
                          file=sys.stderr, flush=True)
            if a.roll_over and time.monotonic() - pruned > 3600:
                pruned = time.monotonic()
                r = store.prune(a.days, a.alarm_days)
                if r['events'] or r['alarms']:
                    print('rolled over: %d events older than %g days, %d alarms older than %g days' % (
                        r['events'], a.days, r['alarms'], a.alarm_days), flush=True)
            if time.monotonic() - last > 10:
                last = time.monotonic()
                print('%s events journaled, %d duplicates dropped, %d gaps, %d set aside' % (
                    store.written, mon.duplicates, len(mon.gaps), store.quarantined), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        mon.detach()
        _close_notifier(notifier)
        store.close()
    return 0


def cmd_fire(a):
    from . import fire
    from ..core import site as sitemod
    site, ep = _broker_for(a)
    if a.action == 'status':
        st = fire.status(ep, site)
        print(json.dumps(st) if a.json else ('no fire state published on %s' % site if st is None else
              '%s: fire %s (by %s)' % (site, 'ACTIVE' if st.get('active') else 'clear', st.get('by'))))
        return 0
    active = a.action == 'set'
    now = fire.status(ep, site)
    if bool((now or {}).get('active')) == active:
        # boards confirm a change only: sending the state they have would wait for nothing
        print(json.dumps({'active': active, 'by': (now or {}).get('by'), 'applied': {}, 'unchanged': True})
              if a.json else 'site %s: %s; nothing sent' % (
                  site, 'the fire state is already active (by %s)' % now.get('by') if active else
                  'no fire state is active, nothing to reset'))
        return 0
    if not active and not a.yes:
        if not sys.stdin.isatty():
            raise EdgeError('a fire reset must be acknowledged: add --yes (or run it in a terminal)', 2)
        ans = input('Reset the site fire state of %s: doors relock, barriers go back to normal. '
                    'Type RESET to confirm: ' % site)
        if ans.strip() != 'RESET':
            raise EdgeError('not confirmed: nothing sent', 1)
    devices = sorted(sitemod.load_valid(_site_path(a)).devices) if (a.site_opt or os.path.exists(_site_path(a))) else []
    from ..core import secrets
    sec = _site_secrets(a)
    keys = {d: secrets.cmd_key(sec, d) for d in devices}      # each board's reset signed with its own key
    applied = fire.publish(ep, site, active, a.by, devices, a.timeout, keys=keys)
    missing = sorted(d for d, ok in applied.items() if not ok)
    if a.json:
        print(json.dumps({'active': active, 'by': a.by, 'applied': applied}))
    else:
        print('site %s fire state %s by %s; applied by %d of %d devices%s' % (
            site, 'SET' if active else 'RESET', a.by, len(applied) - len(missing), len(applied),
            ('; not confirmed by: %s (offline boards apply it when they reconnect)' % ', '.join(missing)) if missing else ''))
    return 1 if missing else 0


def cmd_cmd(a):
    from ..core import commands, secrets
    s = _site_or_none(a)
    if s is not None:
        commands.check_target(s, a.device, a.ctrl)
    site, ep = _broker_for(a)
    key = secrets.cmd_key(_site_secrets(a), a.device)     # signed when the site has keys
    ack = commands.send(ep, site, a.device, a.ctrl, a.op, commands.parse_args(a.args), timeout=a.timeout,
                        key=key)
    if a.json:
        print(json.dumps(ack))
    elif ack.get('ok'):
        print('ok' + (' ' + json.dumps(ack['state']) if 'state' in ack else ''))
    else:
        print('refused: %s' % ack.get('err'), file=sys.stderr)
    return 0 if ack.get('ok') else 1


def cmd_operator(a):
    """Operators' own control-room logins: add (or change a password), remove, list. The
    secrets file keeps only each password's salted hash; a running `edgectl broker` for the
    site is told to reload its password file and ACL."""
    from ..core import secrets, site as sitemod
    from ..core.broker import Broker, hash_password
    path = _site_path(a)
    s = sitemod.load_valid(path)
    if a.action == 'list':
        ops = (secrets.load(path) or {}).get('operators', {})
        for name in sorted(ops):
            print('%-20s set %s' % (name, time.strftime('%Y-%m-%d %H:%M', time.localtime(ops[name]['set']))))
        if not ops:
            print('no operators: the monitor logs in with the site\'s control-room login')
        return 0
    if not a.name:
        raise EdgeError('operator %s needs NAME' % a.action, 2)
    if a.action == 'add':
        pw = _operator_password('new password for %s' % a.name, confirm=True)
        if len(pw) < 10:
            raise EdgeError('a password of at least 10 characters, please; nothing changed', 2)
        changed = secrets.set_operator(path, a.name, hash_password(a.name, pw))
        what = 'password changed for' if changed else 'added'
    else:
        secrets.remove_operator(path, a.name)
        what = 'removed'
    from .fire import raisers
    b = Broker(workdir=Path(a.dir or '.edgectl/broker'), site=s.name, secrets=secrets.load(path), raisers=raisers(s))
    live = b.reload()
    print('operator %s %s%s' % (a.name, what, '; the running broker reloaded its logins' if live else
                                '; takes effect when `edgectl broker --secure` starts'))
    return 0


def cmd_broker(a):
    from ..core import site as sitemod
    from ..core.broker import Broker
    s = sitemod.load_valid(_site_path(a))
    host = s.data['broker']['host']
    if host not in ('127.0.0.1', 'localhost'):
        raise EdgeError('edgectl broker serves loopback only; the site names %s' % host, 2)
    port = a.port or s.data['broker']['port']
    workdir = Path(a.dir or '.edgectl/broker')
    from ..core import secrets
    sec = None
    if a.secure:
        sec, added = secrets.ensure(_site_path(a), sorted(s.devices))
        if added:
            print('new credentials and command keys for %s in %s (0600; flash or `config push --via serial` '
                  'puts them on the boards)' % (', '.join(added), secrets.path_for(_site_path(a))), flush=True)
    else:
        sec = secrets.load(_site_path(a))
    tls_files = None
    if a.tls:
        from ..core import tls
        folder = tls.folder_for(_site_path(a), s.name)
        ca, key = tls.make_ca(folder, s.name)
        crt, k = tls.make_server(folder, ca, key, host)
        tls_files = (ca, crt, k)
        print('TLS: site CA %s (its key stays here, 0600); broker certificate for %s' % (ca, host), flush=True)
    from ..core.broker import room_port
    from ..room.fire import raisers
    b = Broker(port=port, workdir=workdir, persistence=True, site=s.name, secrets=sec, tls=tls_files,
               room_port=room_port(dict(s.data['broker'], port=port)), raisers=raisers(s))
    b.max_inflight = 1000      # a deep window to the journal (edgectl bench ingest)
    from ..core import centre
    b.bridge = centre.site_bridge(s, _site_path(a), sec)     # `centre:` in the site file: a bridge to it
    with b:
        print('mosquitto for site %s on %s:%d%s (config %s, log %s)%s; Ctrl-C stops it' % (
            s.name, b.host, b.port, ' (boards), %d (control room)' % b.room_port if sec else '', b.conf, b.log,
            ', no anonymous access, per-device ACL %s' % b.acl_boards if sec else ', anonymous (no secrets file: --secure)'),
            flush=True)
        if b.bridge:
            print('bridged to the centre at %s:%d (state on %s)' % (s.data['centre']['host'], s.data['centre']['port'],
                                                                    centre.bridge_topic(s.name)), flush=True)
        b.serve()
    return 0


def _args_broker(sub):
    s = sub.add_parser('broker', help="run a local mosquitto for the site (loopback)",
                       description="Run mosquitto on the site file's broker port, loopback only, with a generated "
                                   "config in .edgectl/broker/. Needs the Debian/Ubuntu package 'mosquitto'.")
    _site_arg(s, positional=True)
    s.add_argument('--port', type=int, help="override the site file's port")
    s.add_argument('--dir', help='config/log folder (default .edgectl/broker)')
    s.add_argument('--tls', action='store_true',
                   help='TLS only: a site CA (created once, beside the site file in SITE.tls/) and a broker '
                        'certificate for the site\'s broker host; clients verify both (CA and name)')
    s.add_argument('--secure', action='store_true',
                   help='create the site secrets file if needed (a unique MQTT password and command key per '
                        'device, 0600, git-ignored) and run with no anonymous access and a per-device ACL '
                        '(also the default whenever SITE.secrets.json exists)')
    s.set_defaults(fn=cmd_broker)


def _args_cmd(sub):
    s = sub.add_parser('cmd', help='send a command and wait for its ack',
                       description='Publish {"id", "op", k: v...} to cmd/CTRL of DEVICE and wait for the ack. '
                                   'Exit 0 when accepted, 1 when refused or no ack arrives in time.')
    s.add_argument('device')
    s.add_argument('ctrl')
    s.add_argument('op')
    s.add_argument('args', nargs='*', metavar='k=v')
    _site_arg(s)
    s.add_argument('--timeout', type=float, default=5.0, help='seconds to wait for the ack (default 5)')
    s.add_argument('--json', action='store_true', help='print the ack as JSON')
    s.set_defaults(fn=cmd_cmd)


def _centre_args(s):
    s.add_argument('--centre', metavar='CENTRE.yaml', help='every site bridged to this monitoring centre (`edgectl '
                                                           'centre`), devices named SITE/DEVICE, instead of one site')
    s.add_argument('--sites', metavar='A,B', help='--centre: only these sites')


def _args_monitor(sub):
    s = sub.add_parser('monitor', help='the control room: devices, events, alarms',
                       description='Subscribe to the whole site and print devices online/offline and every event, '
                                   'alarms highlighted; duplicates are dropped and gaps reported by (device, seq). '
                                   'Gate calls ring here: keys a (answer the oldest ringing call), u (release '
                                   'the gate of the call you answered), h (hang up), c (list open calls), q (quit).')
    _site_arg(s)
    s.add_argument('--json', action='store_true', help='one JSON object per message')
    s.add_argument('--state', action='store_true', help='also show state snapshots')
    s.add_argument('--duration', type=float, help='stop after this many seconds')
    s.add_argument('--operator', default=os.environ.get('USER') or 'control-room', metavar='LOGIN',
                   help='your operator login (default $USER): on a site with operators (`edgectl operator add`) the '
                        'monitor logs in as LOGIN with its password; it also names you on answered calls and '
                        'acknowledgements')
    s.add_argument('--no-keys', action='store_true', help='do not read keys from the terminal')
    s.add_argument('--plain', action='store_true', help='one line per event (logs, scripts) instead of the full screen')
    s.add_argument('--db', help='journal: a file (SQLite, default .edgectl/journal.sqlite3) or postgresql://USER@HOST/DB')
    s.add_argument('--no-journal', action='store_true', help='do not write the journal')
    s.add_argument('--sound', metavar='CMD', help='also run this on every new alarm (e.g. "paplay alarm.wav")')
    _centre_args(s)
    s.add_argument('--notify', action='store_true', help="also run the site file's notification hooks (alarms.notify; "
                   "`journal run` runs them by default: use this where no journal service runs)")
    s.set_defaults(fn=cmd_monitor)


def _args_journal(sub):
    s = sub.add_parser('journal', help='the control room journal (SQLite): run headless, query, prune, back up',
                       description='run: subscribe to the site with a persistent session and journal every event, '
                                   'command, acknowledgement and control-room alarm (as a service: nothing is lost '
                                   'while it restarts). query: filter by device, type (wildcards *), severity and '
                                   'time (-2h, ISO, epoch). prune: drop old rows; alarms are kept longer. backup: a '
                                   'checked copy taken while the journal runs (--to FILE). restore FILE: put a backup '
                                   'in place (the journal must be closed; the old one is kept as .replaced). run '
                                   'takes backups itself with --backup-dir and rolls old rows over with --roll-over. '
                                   'quarantine: the messages set aside instead of journaled (malformed), and why.')
    s.add_argument('action', choices=['run', 'query', 'prune', 'backup', 'restore', 'quarantine'])
    s.add_argument('file', nargs='?', metavar='FILE', help='restore: the backup to put in place')
    _site_arg(s)
    s.add_argument('--db', help='journal: a file (SQLite, default .edgectl/journal.sqlite3) or postgresql://USER@HOST/DB')
    s.add_argument('--device', help='a device; at a centre SITE/DEVICE, or SITE/* for every device of a site')
    s.add_argument('--type', help='event type, * wildcards (door.*)')
    s.add_argument('--sev', choices=['alarm', 'warn', 'info'])
    s.add_argument('--since', help='from this time: --since=-2h, --since=-7d, 2026-11-28T18:00, epoch seconds')
    s.add_argument('--until', help='before this time')
    s.add_argument('--limit', type=int)
    s.add_argument('--json', action='store_true', help='rows as JSON')
    s.add_argument('--csv', action='store_true', help='rows as CSV')
    s.add_argument('--days', type=float, default=90, help='prune: keep events this many days (default 90)')
    s.add_argument('--alarm-days', type=float, default=365, help='prune: keep alarms this many days (default 365)')
    s.add_argument('--duration', type=float, help='run: stop after this many seconds')
    s.add_argument('--to', help='backup: the copy to write (default .edgectl/backups/journal-DATE-TIME.sqlite3)')
    s.add_argument('--backup-dir', help='run: take a backup into this folder every --backup-hours')
    s.add_argument('--backup-hours', type=float, default=24, help='run: hours between backups (default 24)')
    s.add_argument('--keep', type=int, default=7, help='run: backups kept, newest first (default 7)')
    s.add_argument('--roll-over', action='store_true', help='run: prune every hour with --days and --alarm-days')
    _centre_args(s)
    s.add_argument('--share', metavar='GROUP', help='run: one of several writers sharing the stream (MQTT $share/GROUP); '
                                                    'with a PostgreSQL --db each may be killed at any moment')
    s.add_argument('--writer', default='1', metavar='ID', help='run --share: this writer\'s id in the group (its own '
                                                                'persistent session; default 1)')
    s.add_argument('--no-notify', action='store_true', help="run: do not run the site file's notification hooks")
    s.set_defaults(fn=cmd_journal)


def _args_operator(sub):
    s = sub.add_parser('operator', help="operators' own control-room logins: add, remove, list",
                       description='With a secure site (`edgectl broker --secure`), each operator can have a '
                                   'login of their own: `edgectl monitor --operator NAME` then logs in as NAME '
                                   '(password from EDGE_OPERATOR_PASSWORD or asked) and the broker knows who is '
                                   'connected. Only the salted hash is stored; a running `edgectl broker` reloads. '
                                   'Without operators the monitor uses the site\'s control-room login.')
    s.add_argument('action', choices=['add', 'remove', 'list'])
    s.add_argument('name', nargs='?', metavar='NAME')
    _site_arg(s)
    s.add_argument('--dir', help="the broker's folder (default .edgectl/broker)")
    s.set_defaults(fn=cmd_operator)


def _args_fire(sub):
    s = sub.add_parser('fire', help='site-wide fire linkage: status, set, reset (acknowledged)',
                       description='The retained site fire state: set by any board\'s fire input or here; every door '
                                   'releases its lock and every barrier opens and stays open until a reset here. '
                                   'reset asks you to type RESET (or --yes) and waits for each board to apply it.')
    s.add_argument('action', choices=['status', 'set', 'reset'])
    _site_arg(s)
    s.add_argument('--by', help='your name (set/reset): kept with the state')
    s.add_argument('--yes', action='store_true', help='acknowledge the reset without the prompt')
    s.add_argument('--timeout', type=float, default=10, help='seconds to wait for the boards (default 10)')
    s.add_argument('--json', action='store_true', help='JSON output')
    s.set_defaults(fn=cmd_fire)


# each verb: (its arguments, its handler)
VERBS = {
    'broker': (_args_broker, cmd_broker),
    'cmd': (_args_cmd, cmd_cmd),
    'monitor': (_args_monitor, cmd_monitor),
    'journal': (_args_journal, cmd_journal),
    'operator': (_args_operator, cmd_operator),
    'fire': (_args_fire, cmd_fire),
}
