"""The control room's verbs: `monitor` (full screen or lines), `journal` (run headless,
query, prune, backup, restore), `fire` (site fire state: status, set, acknowledged reset) and `cmd`."""
import json
import os
import sys
import time
from pathlib import Path

from .errors import EdgeError
from .cli_common import (_site_path, _broker_for, _operator_login, _operator_password, _site_or_none, _site_secrets,
                         _site_tele)


def _room_link(a):
    """(site, host, port) the room's tools talk to: the site's broker, or with --centre the
    centre's (site None: every site)."""
    if getattr(a, 'centre', None):
        from .core import centre
        return (None,) + centre.room_link(a.centre)[1:]
    return _broker_for(a)


def cmd_monitor(a):
    from .monitor import HELP, Monitor
    from .room.pgstore import open_store
    site, host, port = _room_link(a)
    sec = _site_secrets(a) if site else None
    if site:
        _operator_login(a, sec)
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
    if full:
        from .roomview import RoomView
        return RoomView(site, host, port, a.operator, store, _site_tele(a), bell, a.duration, secrets=sec,
                        sites=_sites(a)).run()
    mon = Monitor(site, as_json=a.json, quiet_state=not a.state, operator=a.operator, store=store,
                  tele_s=_site_tele(a), bell=bell, secrets=sec, sites=_sites(a))
    mon.attach(host, port)
    if not a.json:
        print('monitoring %s on %s:%d as %s; %s' % ('site %s' % site if site else 'every site' if not a.sites else
                                                    'sites %s' % a.sites, host, port, mon.operator,
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
        if store is not None:
            store.close()
    if not a.json:
        print(json.dumps(mon.summary()))
    return 0


def _sites(a):
    return [s for s in (getattr(a, 'sites', None) or '').split(',') if s] or None


def cmd_journal(a):
    from .store import Damaged, default_path, to_csv
    from .room.pgstore import is_url, open_store
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
    from .room.pgstore import is_url, open_store
    site, host, port = _room_link(a)
    if a.backup_dir and is_url(a.db):
        raise EdgeError('--backup-dir is for the SQLite journal: back PostgreSQL up with its own tools', 2)
    store = open_store(a.db, site=site)
    mon = Monitor(site, store=store, tele_s=_site_tele(a) if site else {}, sites=_sites(a))
    mon.show = lambda rec: None
    # a persistent session, acknowledged only once each batch is committed: nothing is lost;
    # --share: one of several writers on a shared subscription, each with its own session
    name = 'journal-%s' % (site or 'centre') + ('-%s-%s' % (a.share, a.writer) if a.share else '')
    mon.attach(host, port, client_id=name, persistent=True, publish=False, share=a.share)
    backups = st.Backups(store.path, a.backup_dir, a.backup_hours * 3600, a.keep) if a.backup_dir else None
    print('journal of %s on %s:%d into %s%s; Ctrl-C stops' % (
        'site %s' % site if site else 'every site', host, port, store.path,
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
        store.close()
    return 0


def cmd_fire(a):
    from . import fire, site as sitemod
    site, host, port = _broker_for(a)
    if a.action == 'status':
        st = fire.status(host, port, site)
        print(json.dumps(st) if a.json else ('no fire state published on %s' % site if st is None else
              '%s: fire %s (by %s)' % (site, 'ACTIVE' if st.get('active') else 'clear', st.get('by'))))
        return 0
    active = a.action == 'set'
    now = fire.status(host, port, site)
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
    from . import secrets
    sec = _site_secrets(a)
    keys = {d: secrets.cmd_key(sec, d) for d in devices}      # each board's reset signed with its own key
    applied = fire.publish(host, port, site, active, a.by, devices, a.timeout, keys=keys)
    missing = sorted(d for d, ok in applied.items() if not ok)
    if a.json:
        print(json.dumps({'active': active, 'by': a.by, 'applied': applied}))
    else:
        print('site %s fire state %s by %s; applied by %d of %d devices%s' % (
            site, 'SET' if active else 'RESET', a.by, len(applied) - len(missing), len(applied),
            ('; not confirmed by: %s (offline boards apply it when they reconnect)' % ', '.join(missing)) if missing else ''))
    return 1 if missing else 0


def cmd_cmd(a):
    from . import commands, secrets
    s = _site_or_none(a)
    if s is not None:
        commands.check_target(s, a.device, a.ctrl)
    site, host, port = _broker_for(a)
    key = secrets.cmd_key(_site_secrets(a), a.device)     # signed when the site has keys
    ack = commands.send(host, port, site, a.device, a.ctrl, a.op, commands.parse_args(a.args), timeout=a.timeout,
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
    from . import secrets, site as sitemod
    from .broker import Broker, hash_password
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
