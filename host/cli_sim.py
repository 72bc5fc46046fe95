"""Verbs that run the site on this machine: `demo`, `broker` (mosquitto for the site),
`sim` (simulated boards) and `io` (a simulated board's signals)."""
import json
import time
from pathlib import Path

from .errors import EdgeError
from .cli_common import _site_path


def cmd_demo(a):
    from . import demo
    return demo.run(keep=a.keep, site_file=a.site_opt)


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
        from . import tls
        folder = tls.folder_for(_site_path(a), s.name)
        ca, key = tls.make_ca(folder, s.name)
        crt, k = tls.make_server(folder, ca, key, host)
        tls_files = (ca, crt, k)
        print('TLS: site CA %s (its key stays here, 0600); broker certificate for %s' % (ca, host), flush=True)
    from .broker import room_port
    from .fire import raisers
    b = Broker(port=port, workdir=workdir, persistence=True, site=s.name, secrets=sec, tls=tls_files,
               room_port=room_port(dict(s.data['broker'], port=port)), raisers=raisers(s))
    b.max_inflight = 1000      # a deep window to the journal (edgectl bench ingest)
    with b:
        print('mosquitto for site %s on %s:%d%s (config %s, log %s)%s; Ctrl-C stops it' % (
            s.name, b.host, b.port, ' (boards), %d (control room)' % b.room_port if sec else '', b.conf, b.log,
            ', no anonymous access, per-device ACL %s' % b.acl_boards if sec else ', anonymous (no secrets file: --secure)'),
            flush=True)
        try:
            while b.proc.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        if b.proc and b.proc.poll() not in (None, 0):
            raise EdgeError('mosquitto exited with status %s: %s' % (b.proc.returncode, b.last_error()))
    return 0


def cmd_sim(a):
    from . import site as sitemod
    from .broker import Broker
    from .sim import SimSite
    s = sitemod.load_valid(_site_path(a))
    broker = None
    bk = dict(s.data['broker'])
    sim = SimSite(s, broker=bk, fresh=a.fresh, serial=a.serial, blank=a.blank)   # refused if one runs here
    try:
        if a.with_broker:
            from . import secrets
            sec = secrets.load(_site_path(a))       # a site with secrets gets its logins and ACL
            from .broker import room_port      # the room's tools go to its port when the site has secrets
            from .fire import raisers
            broker = Broker(port=bk['port'], workdir=Path('.edgectl/broker'), site=s.name, secrets=sec,
                            room_port=room_port(bk) if sec else None, raisers=raisers(s)).start()
            print('mosquitto on %s:%d%s' % (broker.host, broker.port, ' (boards), %d (control room), no anonymous '
                                            'access (the site\'s secrets)' % broker.room_port
                                            if sec else ', anonymous (the site has no secrets file)'), flush=True)
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
    try:
        simio.runtime()
    except EdgeError as e:
        raise EdgeError(str(e), 2)      # nothing to talk to: start `edgectl sim` first (usage)
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
            sigs.update(_plant_vars(a.device))
            if a.json:
                print(json.dumps({k: {'value': v, 'dir': d} for k, (v, d) in sigs.items()}))
            else:
                for k, (v, d) in sigs.items():
                    print('%-24s %d  %s' % (k, v, d))
            return 0
        if '=' in a.signal:
            name, val = a.signal.split('=', 1)
            if ':' in val:      # a card reader's frame: W26:1234567, KEY:1234#
                io.swipe(name, val)
                print('%s=%s' % (name, val))
                return 0
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


def _plant_vars(device):
    """name -> (value, 'plant') of the plant models a simulated board drives (the barrier's
    arm, the fountain's basin): what `edgectl io DEVICE CTRL.VAR=N` can set besides inputs."""
    from . import simio
    from .plants import plants_for
    dev = simio.runtime()['devices'][device]
    if not dev.get('plant_port'):
        return {}
    cfg = json.loads((Path(dev['fs']) / 'config.json').read_text())
    io = simio.SimIO(dev['plant_port'])
    try:
        return {'%s.%s' % (p.ctrl, v): (io.get('%s.%s' % (p.ctrl, v)), 'plant')
                for p in plants_for(cfg) for v in p.VARS}
    finally:
        io.close()
