"""`edgectl`: a table of verbs, each a small handler. Errors print `edgectl: ...` and exit
non-zero (1 refused/failed, 2 usage or input); no tracebacks for user mistakes."""
import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import __version__
from .errors import EdgeError

EPILOG = '''examples:
  edgectl demo                              the whole product on this machine, no hardware
  edgectl config validate site.yaml         check a site file (errors name file:line)
  edgectl broker --site site.yaml           run mosquitto for the site (another shell)
  edgectl sim site.yaml                     run the site's devices as simulated boards
  edgectl io lobby-1 front.contact=1        set a signal of a simulated board
  edgectl cmd lobby-1 front unlock s=10     send a command and wait for its ack
  edgectl monitor                           watch devices, events and alarms
  edgectl hil --rig sim,pty                 the HIL suite on simulated rigs
  edgectl flash site.yaml --port /dev/ttyUSB0 --device gate-1 --wifi SSID   install a board
  edgectl deploy --port /dev/ttyUSB0        update the firmware (only changed files)
  edgectl config push site.yaml gate-1 --via serial --port /dev/ttyUSB0
  edgectl bench alarm-latency --json        measure a figure
'''


def _site_arg(p, positional=False):
    if positional:
        p.add_argument('site_file', nargs='?', metavar='SITE.yaml', help='the site file (default ./site.yaml)')
    p.add_argument('--site', dest='site_opt', metavar='FILE', help='the site file (default ./site.yaml)')


def _site_path(a):
    return getattr(a, 'site_file', None) or a.site_opt or 'site.yaml'


def _broker_for(a):
    """The broker to talk to: the running simulator's (same folder) or the site file's.
    With a secrets file beside the site file, clients log in as the control room."""
    try:
        sec = _site_secrets(a)
    except EdgeError:
        sec = None
    from . import mqttc
    if sec:
        mqttc.DEFAULT_AUTH = (sec['room']['user'], sec['room']['password'])
    out = _broker_of(a)
    from . import site as sitemod, tls
    if os.path.exists(_site_path(a)):
        s = sitemod.load_valid(_site_path(a))
        if s.data['broker'].get('tls'):
            ca = tls.ca_for(_site_path(a), s.name)
            if ca is None:
                raise EdgeError('the site broker speaks TLS but there is no site CA beside %s: '
                                'run `edgectl broker --tls` there' % _site_path(a), 2)
            mqttc.DEFAULT_CA = ca
    return out


def _broker_of(a):
    from . import site as sitemod, simio
    try:
        rt = simio.runtime()
        if not (a.site_opt or getattr(a, 'site_file', None)):
            return rt['site'], rt['broker']['host'], rt['broker']['port']
    except EdgeError:
        rt = None
    s = sitemod.load_valid(_site_path(a))
    if rt and rt['site'] == s.name:
        return s.name, rt['broker']['host'], rt['broker']['port']
    return s.name, s.data['broker']['host'], s.data['broker']['port']


# --- verbs --------------------------------------------------------------------------------
def cmd_demo(a):
    from . import demo
    return demo.run(keep=a.keep, site_file=a.site_opt)


def cmd_config(a):
    from . import site as sitemod
    if a.action == 'validate':
        s = sitemod.load(_site_path(a))
        if a.json:
            print(json.dumps({'ok': not s.errors, 'problems': [p.__dict__ for p in s.problems]}, indent=1))
        else:
            for p in s.problems:
                print(str(p), file=sys.stderr)
            if not s.errors:
                print('%s: site %s, %d device(s), %d warning(s): valid' % (
                    _site_path(a), s.name, len(s.devices), len(s.warnings)))
        return 2 if s.errors else 0
    if a.action == 'show':
        s = sitemod.load_valid(_site_path(a))
        devs = [a.device] if a.device else sorted(s.devices)
        out = {d: sitemod.device_config(s, d) for d in devs}
        print(json.dumps(out[a.device] if a.device else out, indent=1))
        return 0
    if a.action == 'push':
        return _config_push(a)
    if a.action == 'pull':
        cfg, _ = _config_pull(a)
        print(json.dumps(cfg, indent=1, sort_keys=True))
        return 0
    if a.action == 'diff':
        return _config_diff(a)
    raise EdgeError('unknown config action %r' % a.action, 2)


def _config_args(a, usage):
    if len(a.args) == 2:
        a.site_file, device = a.args
    elif len(a.args) == 1:
        device = a.args[0]
    else:
        raise EdgeError('config %s takes %s' % (a.action, usage), 2)
    return device


def _config_push(a):
    from . import site as sitemod
    from .configpush import push_mqtt
    device = _config_args(a, '[SITE.yaml] DEVICE')
    if a.via == 'serial':
        return _config_push_serial(a, device)
    site, host, port = _broker_for(a)
    s = sitemod.load_valid(_site_path(a))
    cfg = sitemod.device_config(s, device, {'host': host, 'port': port})
    timeout = a.timeout or cfg['healthy_s'] + 60
    print('pushing rev %s to %s via MQTT; the board tries it, and keeps it once it has run %d s '
          'and reached the broker' % (cfg['rev'], device, cfg['healthy_s']), file=sys.stderr, flush=True)
    tick = (lambda t: print('\r  waiting for %s: %3.0f s' % (device, t), end='', file=sys.stderr, flush=True))
    verdict = push_mqtt(host, port, site, cfg, timeout, None if a.json else tick)
    if not a.json:
        print(file=sys.stderr)
    if a.json:
        print(json.dumps(verdict))
    elif verdict['type'] == 'system.config_applied':
        print('%s runs config rev %s' % (device, cfg['rev']))
    else:
        print('%s refused rev %s and kept rev %s: %s' % (device, cfg['rev'], verdict.get('kept'), verdict.get('err')),
              file=sys.stderr)
    return 0 if verdict['type'] == 'system.config_applied' else 1


def _config_push_serial(a, device):
    from . import site as sitemod
    from .configpush import push_serial
    from .installer import board_files
    if not a.port:
        raise EdgeError('--via serial needs --port PORT (the board\'s USB serial port)', 2)
    s = sitemod.load_valid(_site_path(a))
    cfg = sitemod.device_config(s, device)
    net, secret, ca_der = board_files(_site_path(a), s, cfg, a.wifi)
    verdict = push_serial(a.port, cfg, reboot=not a.no_reset, net=net, secret=secret, ca_der=ca_der)
    if a.json:
        print(json.dumps(verdict))
    elif verdict.get('ok'):
        print('%s on %s: config rev %s written (was %s)%s' % (device, a.port, cfg['rev'], verdict.get('replaced'),
                                                            '; the board reboots into it' if not a.no_reset else ''))
    else:
        print('%s on %s refused rev %s and kept rev %s: %s' % (device, a.port, cfg['rev'], verdict.get('kept'),
                                                               verdict.get('err')), file=sys.stderr)
    return 0 if verdict.get('ok') else 1


def _config_pull(a):
    from .configpush import pull_mqtt, pull_serial
    device = _config_args(a, '[SITE.yaml] DEVICE') if a.args else None
    if a.port:
        cfg = pull_serial(a.port)
        if cfg is None:
            raise EdgeError('the board on %s has no config.json: push one with `edgectl config push ... --via serial`'
                            % a.port, 1)
    else:
        if not device:
            raise EdgeError('config pull needs DEVICE (over MQTT) or --port PORT (serial)', 2)
        site, host, port = _broker_for(a)
        cfg = pull_mqtt(host, port, site, device)
    return cfg, device


def _config_diff(a):
    from . import site as sitemod
    from .configpush import diff
    running, device = _config_pull(a)
    device = device or running.get('device')
    s = sitemod.load_valid(_site_path(a))
    wanted = sitemod.device_config(s, device, running.get('broker') if a.ignore_broker else None)
    d = diff(running, wanted, '%s (board)' % device, '%s (site file)' % _site_path(a))
    if a.json:
        print(json.dumps({'device': device, 'same': not d, 'running_rev': running.get('rev'),
                          'site_rev': wanted.get('rev'), 'diff': d}))
    elif d:
        print(d)
    else:
        print('%s runs what the site file says (rev %s)' % (device, wanted.get('rev')))
    return 1 if d else 0


def cmd_fire(a):
    from . import fire, site as sitemod
    site, host, port = _broker_for(a)
    if a.action == 'status':
        st = fire.status(host, port, site)
        print(json.dumps(st) if a.json else ('no fire state published on %s' % site if st is None else
              '%s: fire %s (by %s)' % (site, 'ACTIVE' if st.get('active') else 'clear', st.get('by'))))
        return 0
    active = a.action == 'set'
    if not active and not a.yes:
        if not sys.stdin.isatty():
            raise EdgeError('a fire reset must be acknowledged: add --yes (or run it in a terminal)', 2)
        ans = input('Reset the site fire state of %s: doors relock, barriers go back to normal. '
                    'Type RESET to confirm: ' % site)
        if ans.strip() != 'RESET':
            raise EdgeError('not confirmed: nothing sent', 1)
    devices = sorted(sitemod.load_valid(_site_path(a)).devices) if (a.site_opt or os.path.exists(_site_path(a))) else []
    sec = _site_secrets(a)
    key = bytes.fromhex(sec['fire_key']) if sec and sec.get('fire_key') else None
    applied = fire.publish(host, port, site, active, a.by, devices, a.timeout, fire_key=key)
    missing = sorted(d for d, ok in applied.items() if not ok)
    if a.json:
        print(json.dumps({'active': active, 'by': a.by, 'applied': applied}))
    else:
        print('site %s fire state %s by %s; applied by %d of %d devices%s' % (
            site, 'SET' if active else 'RESET', a.by, len(applied) - len(missing), len(applied),
            ('; not confirmed by: %s (offline boards apply it when they reconnect)' % ', '.join(missing)) if missing else ''))
    return 0


def cmd_deploy(a):
    from .deploy import deploy
    show = not a.json and sys.stderr.isatty()
    say = (lambda m: None) if a.json else (lambda m: print(m, file=sys.stderr, flush=True))
    rep = deploy(a.port, show=show, reset=not a.no_reset, baud=a.baud, say=say, layout=a.layout)
    if a.json:
        print(json.dumps(rep))
    else:
        print('deployed to %s: %d of %d files sent (%d bytes, %d on the wire) in %.2f s%s' % (
            a.port, rep['sent'], rep['files'], rep['payload_bytes'], rep['wire_bytes'], rep['seconds'],
            '; the board restarts' if not a.no_reset else ''))
    return 0


def cmd_flash(a):
    from .installer import flash, print_self_test
    say = (lambda m: None) if a.json else (lambda m: print(m, file=sys.stderr, flush=True))
    report = flash(a.port, _site_path(a), a.device, firmware=a.firmware, write_image=not a.no_image,
                   erase=not a.keep_fs, wifi=a.wifi, show=not a.json and sys.stderr.isatty(),
                   timeout=a.timeout, say=say)
    if a.json:
        print(json.dumps(report))
    else:
        print_self_test(report)
    return 1 if report['alarms'] else 0


def cmd_broker(a):
    from . import site as sitemod
    from .broker import Broker
    s = sitemod.load_valid(_site_path(a))
    host = s.data['broker']['host']
    if host not in ('127.0.0.1', 'localhost'):
        raise EdgeError('edgectl broker serves loopback only; the site names %s' % host, 2)
    port = a.port or s.data['broker']['port']
    workdir = Path(a.dir or '.edgectl/broker')
    from . import secrets
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
        from . import secrets as _sec, tls
        folder = tls.folder_for(_site_path(a), s.name)
        ca, key = tls.make_ca(folder, s.name)
        crt, k = tls.make_server(folder, ca, key, host)
        tls_files = (ca, crt, k)
        print('TLS: site CA %s (its key stays here, 0600); broker certificate for %s' % (ca, host), flush=True)
    b = Broker(port=port, workdir=workdir, persistence=True, site=s.name, secrets=sec, tls=tls_files)
    b.max_inflight = 1000      # a deep window to the journal (edgectl bench ingest)
    with b:
        print('mosquitto for site %s on %s:%d (config %s, log %s)%s; Ctrl-C stops it' % (
            s.name, b.host, b.port, b.conf, b.log,
            ', no anonymous access, per-device ACL %s' % b.acl if sec else ', anonymous (no secrets file: --secure)'),
            flush=True)
        try:
            while b.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        if b.proc and b.proc.poll() not in (None, 0):
            raise EdgeError('mosquitto exited with status %s; see %s' % (b.proc.returncode, b.log))
    return 0


def cmd_sim(a):
    from . import site as sitemod
    from .broker import Broker
    from .sim import SimSite
    s = sitemod.load_valid(_site_path(a))
    broker = None
    bk = dict(s.data['broker'])
    if a.with_broker:
        broker = Broker(port=bk['port'], workdir=Path('.edgectl/broker')).start()
        print('mosquitto on %s:%d' % (broker.host, broker.port), flush=True)
    sim = SimSite(s, broker=bk, fresh=a.fresh, serial=a.serial, blank=a.blank)
    try:
        sim.start()
        for d, b in sim.boards.items():
            print('%s: simulated %s (heap %d KB), wires on 127.0.0.1:%d, files %s%s%s' % (
                d, b.cfg['board'], b.heap_kb, b.io_port, b.fs,
                ', serial console %s' % b.serial_port if b.serial_port else '',
                ' (blank: MicroPython only, deploy to it)' if a.blank else ''), flush=True)
        print('running; `edgectl io DEVICE CTRL.SIGNAL=1` from another shell here; Ctrl-C stops', flush=True)
        end = time.monotonic() + a.duration if a.duration else None
        while end is None or time.monotonic() < end:
            for d in sim.supervise():
                print('%s: board process ended; restarted (a reboot)' % d, flush=True)
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        if broker:
            broker.stop()
    return 0


def cmd_io(a):
    from . import simio
    io = simio.connect(a.device, signal=a.signal)
    try:
        if a.clock is not None:
            import datetime
            if a.clock:
                try:
                    when = datetime.datetime.fromisoformat(a.clock)
                except ValueError:
                    raise EdgeError('--clock takes a time like 2026-11-28T17:59:59 (UTC unless it names an offset)', 2)
                if when.tzinfo is None:
                    when = when.replace(tzinfo=datetime.timezone.utc)
                ms = io.clock(int(when.timestamp() * 1000))
            else:
                ms = io.clock()
            print(datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).isoformat(timespec='milliseconds'))
            return 0
        if not a.signal:
            sigs = io.list()
            if a.json:
                print(json.dumps({k: {'value': v, 'dir': d} for k, (v, d) in sigs.items()}))
            else:
                for k, (v, d) in sigs.items():
                    print('%-24s %d  %s' % (k, v, d))
            return 0
        if '=' in a.signal:
            name, val = a.signal.split('=', 1)
            if not val.isdigit():
                raise EdgeError('value must be 0 or 1 (got %r)' % val, 2)
            io.set(name, int(val))
            print('%s=%s' % (name, val))
        else:
            v = io.get(a.signal)
            print(json.dumps({a.signal: v}) if a.json else v)
        return 0
    finally:
        io.close()


def _site_secrets(a):
    """The site's secrets file (beside the site file), or None."""
    from . import secrets, simio
    path = a.site_opt or getattr(a, 'site_file', None)
    if not path:
        try:
            path = simio.runtime()['site_file']
        except EdgeError:
            path = 'site.yaml'
    return secrets.load(path)


def cmd_cmd(a):
    from . import commands, secrets
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


def _site_tele(a):
    """device -> tele_s from the site file, when there is one (silent-board alarms)."""
    from . import site as sitemod
    try:
        s = sitemod.load_valid(_site_path(a))
    except EdgeError:
        return {}
    return {d: sitemod.device_config(s, d)['tele_s'] for d in s.devices}


def cmd_monitor(a):
    from .monitor import HELP, Monitor
    from .store import Store
    site, host, port = _broker_for(a)
    store = None if a.no_journal else Store(a.db)
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
        return RoomView(site, host, port, a.operator, store, _site_tele(a), bell, a.duration,
                        secrets=_site_secrets(a)).run()
    mon = Monitor(site, as_json=a.json, quiet_state=not a.state, operator=a.operator, store=store,
                  tele_s=_site_tele(a), bell=bell, secrets=_site_secrets(a))
    mon.attach(host, port)
    if not a.json:
        print('monitoring site %s on %s:%d as %s; %s' % (site, host, port, mon.operator,
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
                mon.check_silence()
    except KeyboardInterrupt:
        pass
    finally:
        mon.detach()
        if store is not None:
            store.close()
    if not a.json:
        print(json.dumps(mon.summary()))
    return 0


def cmd_journal(a):
    from .store import Store, to_csv
    if a.action == 'run':
        return _journal_run(a)
    store = Store(a.db)
    try:
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


def _journal_run(a):
    """Headless journal: a persistent MQTT session (the broker keeps what arrives while it
    restarts), every event of the site into SQLite, gaps reported."""
    from . import mqttc
    from .journalfeed import JournalFeed
    from .store import Store
    site, host, port = _broker_for(a)
    store = Store(a.db)
    # a persistent session, acknowledged only once each batch is committed: nothing is lost
    feed = JournalFeed(site, host, port, store, tele_s=_site_tele(a), auth=mqttc.DEFAULT_AUTH, ca=mqttc.DEFAULT_CA)
    mon = feed.mon
    print('journal of site %s on %s:%d into %s; Ctrl-C stops' % (site, host, port, store.path), flush=True)
    try:
        end = time.monotonic() + a.duration if a.duration else None
        last = 0
        while end is None or time.monotonic() < end:
            time.sleep(0.5)
            mon.check_silence()
            if feed.check():
                print('reconnected to the broker (%d so far)' % feed.reconnects, flush=True)
            if time.monotonic() - last > 10:
                last = time.monotonic()
                print('%s events journaled, %d duplicates dropped, %d gaps' % (
                    store.written, mon.duplicates, len(mon.gaps)), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        feed.close()
        store.close()
    return 0


def cmd_hil(a):
    import subprocess
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from .paths import ROOT
    log_dir = Path(a.log_dir).resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    results = log_dir / 'hil-results.json'
    if results.exists():
        results.unlink()
    cmd = [sys.executable, '-m', 'pytest', str(ROOT / 'hil_tests'), '-q', '-p', 'no:cacheprovider',
           '--rig', a.rig, '--hil-log-dir', str(log_dir), '--junitxml', str(log_dir / 'junit.xml')]
    if a.site_opt:
        cmd += ['--hil-site', str(Path(a.site_opt).resolve())]
    if a.dut_port:
        cmd += ['--dut-port', a.dut_port]
    if a.k:
        cmd += ['-k', a.k]
    print('edgectl hil: rig %s, logs in %s' % (a.rig, log_dir), file=sys.stderr, flush=True)
    r = subprocess.run(cmd, cwd=ROOT, stdout=None if a.verbose else subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not results.exists():
        if r.stdout:
            print(r.stdout[-4000:], file=sys.stderr)
        raise EdgeError('the HIL suite did not run (exit %d); see above' % r.returncode)
    data = json.loads(results.read_text())
    if a.json:
        print(json.dumps(data))
    else:
        con = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
        t = Table(title='HIL: %d cases, rig %s' % (len(data['cases']), a.rig))
        for col in ('case', 'result', 'timing', 'measured', 'bounds'):
            t.add_column(col, justify='right' if col in ('measured', 'bounds') else 'left')
        for c in data['cases']:
            figs = [f for f in data['figures'] if f['case'] == c['case']] or [None]
            res = '[green]passed[/]' if c['outcome'] == 'passed' else '[bold red]%s[/]' % c['outcome']
            for i, f in enumerate(figs):
                t.add_row(escape(c['case']) if i == 0 else '', res if i == 0 else '',
                          escape(f['what']) if f else '', '%.1f ms' % f['ms'] if f else '',
                          '%g..%g ms' % (f['lo_ms'], f['hi_ms']) if f else '')
            if c['error']:
                t.add_row('', '', '[red]%s[/]' % escape(c['error'][:200]), '', '')
        con.print(t)
        con.print('JUnit: %s; logs (per DUT, rig, MQTT): %s' % (log_dir / 'junit.xml', log_dir))
    return 0 if r.returncode == 0 else 1


def cmd_bench(a):
    from .bench import BENCHES
    fn = BENCHES.get(a.name)
    if fn is None:
        raise EdgeError('no benchmark %r (have: %s)' % (a.name, ', '.join(sorted(BENCHES))), 2)
    kwargs = {}
    show = None if a.json else (lambda i, n: print('\r%s: %d/%d' % (a.name, i, n), end='', file=sys.stderr, flush=True))
    if a.name == 'held-open-latency':
        kwargs = {'n': a.n, 'progress': show}
    elif a.name == 'alarm-latency':
        kwargs = {'n': a.n if a.n != 20 else 200, 'progress': show}
    elif a.name == 'ingest':
        kwargs = {'events': a.events, 'publishers': a.publishers, 'inflight': a.inflight}
    elif a.name == 'outage':
        kwargs = {'outage_s': a.outage_s, 'boards': a.boards, 'progress': show}
    elif a.name in ('reaction', 'cutoff'):
        kwargs = {'trials': a.n if a.n != 20 else 200, 'progress': show}
    res = fn(**kwargs)
    if a.json:
        print(json.dumps(res))
    else:
        print()
        for k, v in res.items():
            print('%-22s %s' % (k, v))
    return 0


# --- the table ------------------------------------------------------------------------------
def build_parser():
    p = argparse.ArgumentParser(prog='edgectl', description='Flash, configure, simulate, test and watch edgectl boards.',
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--version', action='version', version='edgectl ' + __version__)
    sub = p.add_subparsers(dest='verb', metavar='VERB')

    s = sub.add_parser('demo', help='the whole product on this machine: broker, simulated site, scripted walk, monitor',
                       description='Start mosquitto on a free port, run the demo site (a door) as a simulated board, '
                                   'walk through REX, held-open, forced door, fire release and a refused command, '
                                   'and show what the control room sees. Exit 0 when every expected event arrived.')
    s.add_argument('--site', dest='site_opt', metavar='FILE', help='another site file to run instead of the embedded one')
    s.add_argument('--keep', action='store_true', help='keep the work folder (board logs, broker log)')
    s.set_defaults(fn=cmd_demo)

    s = sub.add_parser('config', help="check a site file, show a device's flat config",
                       description='validate: check the site file against the schema, board profiles and controller '
                                   'definitions; every problem names file:line and the fix. '
                                   'show: print the flat config a device receives (defaults filled in).')
    csub = s.add_subparsers(dest='action', metavar='ACTION', required=True)
    c = csub.add_parser('validate', help='check a site file (exit 2 when invalid)')
    _site_arg(c, positional=True)
    c.add_argument('--json', action='store_true', help='problems as JSON')
    c.set_defaults(fn=cmd_config)
    c = csub.add_parser('push', help='send a device its config (retained cfg over MQTT) and wait for the verdict',
                        description='Validate the site file, send DEVICE its flat config as the retained cfg message, '
                                    'and wait until the board applies it (exit 0) or refuses it (exit 1). The board '
                                    'boots into the new config as a trial and keeps it once it has run healthy_s and '
                                    'reached the broker; otherwise it goes back to its last good config.')
    c.add_argument('args', nargs='+', metavar='[SITE.yaml] DEVICE')
    _site_arg(c)
    c.add_argument('--via', choices=['mqtt', 'serial'], default='mqtt',
                   help='mqtt: the retained cfg message (board online); serial: over the USB serial line (--port), '
                        'checked on the board and written at once (installation)')
    c.add_argument('--port', help='the board\'s serial port (--via serial)')
    c.add_argument('--wifi', metavar='SSID', help='also write Wi-Fi settings (--via serial; password from '
                                                  'EDGE_WIFI_PASSWORD or asked; never stored in the site file)')
    c.add_argument('--no-reset', action='store_true', help='do not reboot the board afterwards (--via serial)')
    c.add_argument('--timeout', type=float, help='seconds to wait for the verdict (default healthy_s + 60)')
    c.add_argument('--json', action='store_true', help='print the verdict event as JSON')
    c.set_defaults(fn=cmd_config)
    c = csub.add_parser('pull', help='print the config a board runs (over MQTT, or --port over serial)',
                        description='Read back the flat config a board runs: over MQTT from a running board '
                                    '(the system `config` command), or with --port from its config.json over serial.')
    c.add_argument('args', nargs='*', metavar='[SITE.yaml] DEVICE')
    _site_arg(c)
    c.add_argument('--port', help='read it over this serial port instead of MQTT')
    c.set_defaults(fn=cmd_config)
    c = csub.add_parser('diff', help='show how what a board runs differs from the site file (exit 1 if it does)',
                        description='Pull the config a board runs (MQTT, or --port over serial) and print a unified '
                                    'diff against the flat config the site file gives it. Exit 0 when the same.')
    c.add_argument('args', nargs='*', metavar='[SITE.yaml] DEVICE')
    _site_arg(c)
    c.add_argument('--port', help='read it over this serial port instead of MQTT')
    c.add_argument('--ignore-broker', action='store_true', help='compare with the broker address the board has')
    c.add_argument('--json', action='store_true', help='the verdict and diff as JSON')
    c.set_defaults(fn=cmd_config)
    c = csub.add_parser('show', help="print the flat config a device receives")
    c.add_argument('device', nargs='?', help='one device only (default: all)')
    _site_arg(c)
    c.set_defaults(fn=cmd_config)

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

    s = sub.add_parser('sim', help="run the site's devices as simulated boards",
                       description='Run each device of the site as the firmware on the MicroPython unix port, with '
                                   'its board profile\'s heap, its own filesystem under .edgectl/sim/DEVICE and '
                                   'virtual wires (see `edgectl io`). Boards whose process ends are restarted.')
    _site_arg(s, positional=True)
    s.add_argument('--with-broker', action='store_true', help="also start mosquitto on the site's broker port")
    s.add_argument('--fresh', action='store_true', help="wipe the boards' filesystems first (seq, boot count, wires)")
    s.add_argument('--serial', action='store_true',
                   help='give each board a serial console on a pty (MicroPython raw REPL): '
                        '`mpremote connect PTY fs ls`, `edgectl deploy --port PTY` work as on a real board')
    s.add_argument('--blank', action='store_true',
                   help='boards with only MicroPython on them, as after `edgectl flash` wrote the image '
                        '(implies --serial): install them with `edgectl deploy` and `config push --via serial`')
    s.add_argument('--duration', type=float, help='stop after this many seconds')
    s.set_defaults(fn=cmd_sim)

    s = sub.add_parser('io', help="read or set a simulated board's signal",
                       description='With `edgectl sim` running in this folder: `edgectl io DEVICE` lists signals, '
                                   '`edgectl io DEVICE CTRL.SIGNAL` reads one, `CTRL.SIGNAL=1` sets an input.')
    s.add_argument('device')
    s.add_argument('signal', nargs='?', metavar='CTRL.SIGNAL[=VALUE]')
    s.add_argument('--clock', nargs='?', const='', metavar='ISO-TIME',
                   help="read the board's wall clock, or set it (e.g. 2026-11-28T17:59:59, UTC by default)")
    s.add_argument('--json', action='store_true')
    s.set_defaults(fn=cmd_io)

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

    s = sub.add_parser('monitor', help='the control room: devices, events, alarms',
                       description='Subscribe to the whole site and print devices online/offline and every event, '
                                   'alarms highlighted; duplicates are dropped and gaps reported by (device, seq). '
                                   'Gate calls ring here: keys a (answer the oldest ringing call), u (release '
                                   'the gate of the call you answered), h (hang up), c (list open calls), q (quit).')
    _site_arg(s)
    s.add_argument('--json', action='store_true', help='one JSON object per message')
    s.add_argument('--state', action='store_true', help='also show state snapshots')
    s.add_argument('--duration', type=float, help='stop after this many seconds')
    s.add_argument('--operator', default=os.environ.get('USER') or 'control-room',
                   help='your name on answered calls (default $USER); another operator answering the same call is refused')
    s.add_argument('--no-keys', action='store_true', help='do not read keys from the terminal')
    s.add_argument('--plain', action='store_true', help='one line per event (logs, scripts) instead of the full screen')
    s.add_argument('--db', help='journal file (default .edgectl/journal.sqlite3)')
    s.add_argument('--no-journal', action='store_true', help='do not write the journal')
    s.add_argument('--sound', metavar='CMD', help='also run this on every new alarm (e.g. "paplay alarm.wav")')
    s.set_defaults(fn=cmd_monitor)

    s = sub.add_parser('journal', help='the control room journal (SQLite): run headless, query, prune',
                       description='run: subscribe to the site with a persistent session and journal every event, '
                                   'command, acknowledgement and control-room alarm (as a service: nothing is lost '
                                   'while it restarts). query: filter by device, type (wildcards *), severity and '
                                   'time (-2h, ISO, epoch). prune: drop old rows; alarms are kept longer.')
    s.add_argument('action', choices=['run', 'query', 'prune'])
    _site_arg(s)
    s.add_argument('--db', help='journal file (default .edgectl/journal.sqlite3)')
    s.add_argument('--device')
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
    s.set_defaults(fn=cmd_journal)

    s = sub.add_parser('hil', help='run the hardware-in-the-loop suite on a simulated or real rig',
                       description='Run hil_tests/ against the boards of the HIL site: with --rig sim (virtual '
                                   'wires), pty (the rig firmware on the MicroPython unix port over a pty) or '
                                   'serial:PORT (a real rig board wired per boards/rig-esp32-devkitc.json; the '
                                   'wiring is checked before the run). Prints every case with its measured '
                                   'timings, writes JUnit XML and per-DUT, rig and MQTT logs.')
    s.add_argument('--rig', default='sim', help='sim, pty, serial:PORT or a comma list (default sim)')
    s.add_argument('--dut-port', help='serial port of a real DUT (console log)')
    s.add_argument('--site', dest='site_opt', metavar='FILE', help='HIL site file (default hil_tests/site.yaml)')
    s.add_argument('--log-dir', default='reports/hil', help='logs, junit.xml, hil-results.json (default reports/hil)')
    s.add_argument('-k', help='only cases matching this pytest expression')
    s.add_argument('--json', action='store_true', help='print the results as JSON')
    s.add_argument('-v', '--verbose', action='store_true', help="show pytest's own output")
    s.set_defaults(fn=cmd_hil)

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

    s = sub.add_parser('deploy', help='put the firmware on a board over its serial port (only what changed)',
                       description='Compile firmware/ with mpy-cross for the board\'s architecture (read from the '
                                   'board: xtensawin on an ESP32), compare with the manifest on the board and send '
                                   'only the files that differ (staged as .new, then renamed into place in one step, '
                                   'so a deploy cut off half-way leaves the old firmware bootable), then reset the '
                                   'board. A running firmware is interrupted first (outputs go safe). Works the same '
                                   'on a simulated board: `edgectl sim SITE --serial` prints its pty.')
    s.add_argument('--port', required=True, help='serial port: /dev/ttyUSB0, /dev/ttyACM0, or a simulated board\'s pty')
    s.add_argument('--baud', type=int, default=115200, help='serial speed (default 115200)')
    s.add_argument('--no-reset', action='store_true', help='leave the board at its REPL afterwards')
    s.add_argument('--layout', choices=['auto', 'lib', 'romfs'], default='auto',
                   help='romfs: the firmware as one image in the ROM partition (runs from flash, heap stays '
                        'free; written with `mpremote romfs deploy`); lib: .mpy files in lib/ (loaded into the '
                        'heap); auto (default): romfs when the board has a ROM partition')
    s.add_argument('--json', action='store_true', help='print the report as JSON')
    s.set_defaults(fn=cmd_deploy)

    s = sub.add_parser('flash', help='blank ESP32 to a configured board online: MicroPython, firmware, config',
                       description='Detect the chip (esptool), check it is the site\'s board, erase and write '
                                   'MicroPython (--firmware FILE.bin, or the newest image cached in '
                                   '~/.cache/edgectl/firmware or by `mpflash download`), deploy the firmware, write '
                                   'the device\'s config and network settings over serial, wait for the board online '
                                   'on the broker and print its self-test. Exit 1 if it raised an alarm at boot.')
    s.add_argument('site_file', nargs='?', metavar='SITE.yaml', help='the site file (default ./site.yaml)')
    s.add_argument('--site', dest='site_opt', metavar='FILE', help=argparse.SUPPRESS)
    s.add_argument('--port', required=True, help='serial port of the board')
    s.add_argument('--device', required=True, help='the device id in the site file this board becomes')
    s.add_argument('--firmware', metavar='FILE.bin', help='MicroPython image to write')
    s.add_argument('--wifi', metavar='SSID', help='Wi-Fi network (password: EDGE_WIFI_PASSWORD or asked)')
    s.add_argument('--keep-fs', action='store_true', help='do not erase the flash first (keeps files, seq, outbox)')
    s.add_argument('--no-image', action='store_true', help='MicroPython is already on the board: skip esptool')
    s.add_argument('--timeout', type=float, default=60, help='seconds to wait for the board online (default 60)')
    s.add_argument('--json', action='store_true', help='print the report as JSON')
    s.set_defaults(fn=cmd_flash)

    s = sub.add_parser('bench', help='run a benchmark and print its figures',
                       description='Benchmarks: alarm-latency (a door forced open to the alarm committed in the '
                                   'journal and drawn by the control room view, p50/p99 over 200), held-open-latency '
                                   '(door contact past held_open_s to the alarm at an MQTT subscriber), ingest (QoS 1 '
                                   'events/s the journal commits from N publishers, beside mosquitto_sub), boot-heap (heap in use after boot on the simulated board), '
                                   'outage (events raised during a broker outage, time to deliver them, lost), '
                                   'reaction (barrier beam -> motor stop and reverse, idle and under a command flood), '
                                   'cutoff (pump low water -> pump off), '
                                   'deploy (full and no-change deploy to a simulated board: seconds, bytes).')
    s.add_argument('name')
    s.add_argument('--json', action='store_true', help='one JSON object')
    s.add_argument('-n', type=int, default=20, help='samples (alarm-latency; reaction: trials, default 200)')
    s.add_argument('--outage-s', type=float, default=30, help='broker outage length (outage)')
    s.add_argument('--boards', type=int, default=3, help='simulated boards under load (outage)')
    s.add_argument('--events', type=int, default=50000, help='events in the stream (ingest)')
    s.add_argument('--publishers', type=int, default=4, help='publishing processes (ingest)')
    s.add_argument('--inflight', type=int, default=20, help="broker's max_inflight_messages (ingest)")
    s.set_defaults(fn=cmd_bench)
    return p


def main(argv=None):
    p = build_parser()
    a = p.parse_args(argv)
    if not getattr(a, 'fn', None):
        p.print_help()
        return 2
    try:
        return a.fn(a)
    except EdgeError as e:
        print('edgectl: %s' % e, file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
