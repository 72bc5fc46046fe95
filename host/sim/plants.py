"""Plant models on the host side: the machines a simulated board drives. They read the
board's outputs and drive its inputs through a link: the board's virtual wires (`edgectl
sim`) or a QA rig (HIL). Test and operator controls (`edgectl io DEV gate.obstruction=1`)
go through a small line server per device (same protocol as the wires: get/set)."""
import socket
import threading
import time

from ..core.errors import EdgeError
from .simio import EdgeWatcher, SimIO


class WireLink:
    """A plant's view of a simulated board's wires."""

    def __init__(self, io_port):
        self.io = SimIO(io_port)
        try:
            self.watch = EdgeWatcher(io_port)
        except BaseException:
            self.io.close()
            raise

    def level(self, name):
        if self.watch.ended.is_set():
            # the board went away (a reboot ends its process): what the watcher last saw is
            # stale, and the new board listens on the same port, so the link must be made again
            raise EdgeError('the simulated board closed its wires (rebooting?)')
        v = self.watch.latest.get(name)
        if v is None:
            v = self.watch.latest.setdefault(name, self.io.get(name))
        return v

    def set(self, name, v):
        self.io.set(name, v)

    def close(self):
        self.watch.close()
        self.io.close()


class RigLink:
    """A plant's view through a QA rig: outputs from the rig's timestamped edges."""

    def __init__(self, rig):
        self.rig = rig

    def level(self, name):
        e = self.rig.last(name)
        return e.value if e else self.rig.get(name)

    def set(self, name, v):
        self.rig.set(name, v)

    def close(self):
        pass


class Plant:
    """What every plant model shares: a thread that steps the model every `period` s
    through a link (made again whenever the board reboots), writing inputs only when they
    change. Subclasses give VARS, initial levels, step(dt), and get/set of their variables."""
    VARS = ()
    period = 0.003

    def __init__(self, ctrl):
        self.ctrl = ctrl
        self.link = None
        self.sent = {}
        self.halt = threading.Event()
        self.t = None

    def _n(self, sig):
        return '%s.%s' % (self.ctrl, sig)

    def _put(self, sig, v):
        name = self._n(sig)
        if self.sent.get(name) != v:
            self.link.set(name, v)
            self.sent[name] = v

    def initial_wires(self):
        return {self._n(k): v for k, v in self.levels().items()}

    def start(self, connect):
        """Run the plant; connect() makes a link, again whenever the board reboots."""
        self.connect = connect
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        return self

    def _run(self):
        last = time.monotonic()
        while not self.halt.wait(self.period):
            now = time.monotonic()
            dt, last = now - last, now
            try:
                if self.link is None:
                    self.link = self.connect()
                    self.sent = {}      # a new board process: drive every input again
                    dt = 0.0            # the arm did not move while nothing drove it
                self.step(dt)
                for k, v in self.levels().items():
                    self._put(k, v)
            except Exception:
                if self.link is not None:    # the board is rebooting: connect again
                    try:
                        self.link.close()
                    except Exception:
                        pass
                self.link = None
                time.sleep(0.1)

    def stop(self):
        self.halt.set()
        if self.t:
            self.t.join(1)
        if self.link is not None:
            self.link.close()


class ArmPlant(Plant):
    """A barrier arm: moves between the limits in travel_s while a motor output is on; the
    photo-eye reads broken when its emitter (eye_tx) is off or an obstruction is placed. With a
    contact edge wired (an end-of-line line, %): at rest 33, pressed 66 while the arm's lower
    quarter meets an obstruction, 100 with its line cut (edge_cut)."""
    VARS = ('obstruction', 'position', 'jam', 'eye_dead', 'edge_cut')

    def __init__(self, ctrl, travel_s=3.0, pos=0.0, pins=()):
        Plant.__init__(self, ctrl)
        self.has_edge = 'edge' in pins
        self.edge_cut = 0
        self.travel = travel_s
        self.pos = pos              # 0 closed .. 1 open
        self.obstruction = 0
        self.jam = 0
        self.eye_dead = 0           # a dead or bridged photo-eye: reads clear whatever happens
        self.eye = 1

    def step(self, dt):
        up, down = self.link.level(self._n('motor_up')), self.link.level(self._n('motor_down'))
        if not self.jam:
            if up and not down:
                self.pos = min(1.0, self.pos + dt / self.travel)
            elif down and not up:
                self.pos = max(0.0, self.pos - dt / self.travel)
        self.eye = self.link.level(self._n('eye_tx'))

    def levels(self):
        beam = 0 if self.eye_dead else int(bool(self.obstruction) or not self.eye)
        out = {'up_limit': int(self.pos >= 1.0), 'down_limit': int(self.pos <= 0.0), 'beam': beam}
        if self.has_edge:
            out['edge'] = 100 if self.edge_cut else 66 if self.obstruction and self.pos < 0.25 else 33
        return out

    def get(self, var):
        return {'obstruction': self.obstruction, 'jam': self.jam, 'eye_dead': self.eye_dead,
                'edge_cut': self.edge_cut, 'position': round(self.pos * 100)}[var]

    def set(self, var, v):
        if var in ('obstruction', 'jam', 'eye_dead', 'edge_cut'):
            setattr(self, var, int(v))
        elif var == 'position':
            self.pos = max(0.0, min(1.0, int(v) / 100))
        else:
            raise ValueError(var)


class BasinPlant(Plant):
    """A fountain basin: its level (%) falls while the pump runs (leak, evaporation, splash)
    and rises when refilled; low_level/high_level/level follow it, for whichever of them
    the controller has wired."""
    VARS = ('level', 'leak', 'refill')
    period = 0.005

    def __init__(self, ctrl, pins, level=60.0, leak_pct_s=2.0, low_mark=20, high_mark=90):
        Plant.__init__(self, ctrl)
        self.pins = pins
        self.level = level
        self.leak = leak_pct_s      # % per second while the pump runs
        self.refill = 0.0           # % per second flowing in
        self.low_mark = low_mark
        self.high_mark = high_mark

    def step(self, dt):
        running = 'pump' in self.pins and self.link.level(self._n('pump'))
        self.level = max(0.0, min(100.0, self.level + dt * (self.refill - (self.leak if running else 0))))

    def levels(self):
        out = {}
        if 'low_level' in self.pins:
            out['low_level'] = int(self.level < self.low_mark)
        if 'high_level' in self.pins:
            out['high_level'] = int(self.level > self.high_mark)
        if 'level' in self.pins:
            out['level'] = int(round(self.level))
        return out

    def get(self, var):
        return int(round({'level': self.level, 'leak': self.leak, 'refill': self.refill}[var]))

    def set(self, var, v):
        if var not in self.VARS:
            raise ValueError(var)
        setattr(self, var, float(v))


class EnginePlant(Plant):
    """A standby generator and the mains: the engine runs crank_ms after gen_start turns on
    (never while it `fails`), stops when gen_start turns off or its fault trips; `mains` is
    the supply (1 present, 0 failed): `edgectl io site-1 gen.mains=0` is a blackout."""
    VARS = ('mains', 'fails', 'crank_ms', 'fault', 'running')
    period = 0.01

    def __init__(self, ctrl, pins, crank_s=2.0):
        Plant.__init__(self, ctrl)
        self.pins = pins
        self.mains = 1
        self.fails = 0
        self.fault = 0
        self.crank_ms = int(crank_s * 1000)
        self.cranked = 0.0
        self.running = 0

    def step(self, dt):
        if self.link.level(self._n('gen_start')) and not self.fault:
            if not self.running:
                self.cranked += dt
                if not self.fails and self.cranked * 1000 >= self.crank_ms:
                    self.running = 1
        else:
            self.cranked = 0.0
            self.running = 0

    def levels(self):
        out = {'mains_ok': int(bool(self.mains)), 'gen_running': self.running}
        if 'gen_fault' in self.pins:
            out['gen_fault'] = int(bool(self.fault))
        return out

    def get(self, var):
        return int(getattr(self, var))

    def set(self, var, v):
        if var not in self.VARS or var == 'running':
            raise ValueError(var)
        setattr(self, var, int(v))


def plants_for(cfg):
    """The plant models a device's controllers need."""
    out = []
    for c in cfg['controllers']:
        if c['type'] == 'barrier':
            out.append(ArmPlant(c['name'], travel_s=c.get('travel_s_sim', 3.0), pins=c['pins']))
        elif c['type'] == 'pump':
            out.append(BasinPlant(c['name'], c['pins']))
        elif c['type'] == 'genset':
            out.append(EnginePlant(c['name'], c['pins'], crank_s=c.get('crank_s_sim', 2.0)))
    return out


class PlantServer:
    """Line server for plant variables: `get gate.obstruction`, `set gate.obstruction 1`."""

    def __init__(self, plants):
        self.plants = {p.ctrl: p for p in plants}
        self.srv = socket.create_server(('127.0.0.1', 0))
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                s, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._client, args=(s,), daemon=True).start()

    def _client(self, s):
        f = s.makefile('rw')
        for line in f:
            f.write(self.handle(line.split()) + '\n')
            f.flush()
        s.close()

    def handle(self, p):
        try:
            ctrl, var = p[1].split('.', 1)
            plant = self.plants[ctrl]
            if var not in plant.VARS:
                raise KeyError(var)
            if p[0] == 'set' and len(p) == 3:
                plant.set(var, int(p[2]))
                return 'ok %s %s' % (p[1], p[2])
            if p[0] == 'get' and len(p) == 2:
                return '= %s %d' % (p[1], plant.get(var))
        except (KeyError, IndexError, ValueError) as e:
            return 'err %s: plant variables are %s' % (e, ', '.join(
                '%s.%s' % (c, v) for c, p in sorted(self.plants.items()) for v in p.VARS))
        return 'err get NAME or set NAME VALUE'

    def close(self):
        self.srv.close()
