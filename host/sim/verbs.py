"""The simulator's verbs: `demo` (the whole product on this machine), `sim` (the site's
devices as simulated boards) and `io` (a simulated board's signals)."""
import json
import time
from pathlib import Path

from ..core.errors import EdgeError
from ..core.cliargs import _site_arg, _site_path


def cmd_demo(a):
    from . import demo
    return demo.run(keep=a.keep, site_file=a.site_opt)


def cmd_sim(a):
    from ..core import site as sitemod
    from ..core.broker import Broker
    from .sim import SimSite
    s = sitemod.load_valid(_site_path(a))
    broker = None
    bk = dict(s.data['broker'])
    sim = SimSite(s, broker=bk, fresh=a.fresh, serial=a.serial, blank=a.blank)   # refused if one runs here
    try:
        if a.with_broker:
            from ..core import secrets
            sec = secrets.load(_site_path(a))       # a site with secrets gets its logins and ACL
            from ..core.broker import room_port      # the room's tools go to its port when the site has secrets
            from ..room.fire import raisers
            from ..core import centre
            broker = Broker(port=bk['port'], workdir=Path('.edgectl/broker'), site=s.name, secrets=sec,
                            room_port=room_port(bk) if sec else None, raisers=raisers(s))
            broker.bridge = centre.site_bridge(s, _site_path(a), sec)   # `centre:` in the site file
            broker.start()
            print('mosquitto on %s:%d%s' % (broker.host, broker.port, ' (boards), %d (control room), no anonymous '
                                            'access (the site\'s secrets)' % broker.room_port
                                            if sec else ', anonymous (the site has no secrets file)'), flush=True)
        sim.start()
        for d, b in sim.boards.items():
            print('%s: simulated %s (%s), wires on 127.0.0.1:%d, files %s%s%s' % (
                d, b.cfg['board'], b.heap_note(), b.io_port, b.fs,
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


def _args_demo(sub):
    s = sub.add_parser('demo', help='the whole product on this machine: broker, simulated site, scripted walk, monitor',
                       description='Start mosquitto on a free port, run the demo site (a door on lobby-1; a barrier '
                                   'with its arm plant and a gate call station on gate-1) as simulated boards, walk '
                                   'through REX exit, a held-open door, a forced door, a fire release and its reset, '
                                   'a refused command, a car through the barrier, an anti-crush reversal and a gate '
                                   'call answered and released, and show what the control room sees. Exit 0 when '
                                   'every expected event arrived.')
    s.add_argument('--site', dest='site_opt', metavar='FILE', help='another site file to run instead of the embedded one')
    s.add_argument('--keep', action='store_true', help='keep the work folder (board logs, broker log)')
    s.set_defaults(fn=cmd_demo)


def _args_sim(sub):
    s = sub.add_parser('sim', help="run the site's devices as simulated boards",
                       description='Run each device of the site as the firmware on the MicroPython unix port, with '
                                   'its board profile\'s heap (on the 64-bit VM plus what its objects take more there, from '
                                   'protocols/heap_costs.json: the chip\'s free heap), its own filesystem under .edgectl/sim/DEVICE and '
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


def _args_io(sub):
    s = sub.add_parser('io', help="read or set a simulated board's signal",
                       description='With `edgectl sim` running in this folder: `edgectl io DEVICE` lists signals, '
                                   '`edgectl io DEVICE CTRL.SIGNAL` reads one, `CTRL.SIGNAL=1` sets an input, '
                                   '`CTRL.reader=W26:1234567` (or W34:N, KEY:1234#, KEY8:...) swipes a card on a reader.')
    s.add_argument('device')
    s.add_argument('signal', nargs='?', metavar='CTRL.SIGNAL[=VALUE]')
    s.add_argument('--clock', nargs='?', const='', metavar='ISO-TIME',
                   help="read the board's wall clock, or set it (e.g. 2026-11-28T17:59:59, UTC by default)")
    s.add_argument('--json', action='store_true')
    s.set_defaults(fn=cmd_io)


# each verb: (its arguments, its handler)
VERBS = {
    'demo': (_args_demo, cmd_demo),
    'sim': (_args_sim, cmd_sim),
    'io': (_args_io, cmd_io),
}
