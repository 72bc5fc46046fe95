"""Client of a simulated board's virtual wires (protocol: protocols/sim-io.md)."""
import json
import socket
import threading
import time

from ..core import simstate
from ..core.errors import EdgeError
from ..core.recorder import Recorder


class SimIO:
    def __init__(self, port, host='127.0.0.1', timeout=5.0):
        self.addr = (host, port)
        try:
            self.sock = socket.create_connection(self.addr, timeout=timeout)
        except OSError as e:
            raise EdgeError('cannot reach the simulated board on %s:%d (%s): is `edgectl sim` running?' % (host, port, e))
        self.f = self.sock.makefile('rw', encoding='utf-8', newline='\n')
        self.lock = threading.Lock()

    def request(self, line, multi=False):
        with self.lock:
            self.f.write(line + '\n')
            self.f.flush()
            out = []
            while True:
                try:
                    r = self.f.readline()
                except (TimeoutError, OSError):
                    raise EdgeError('the simulated board does not answer on its wires (stopped at its REPL by a '
                                    'deploy or mpremote? rebooting?)', 1)
                if not r:
                    raise EdgeError('simulated board closed the connection')
                r = r.rstrip('\n')
                if r.startswith('err '):
                    raise EdgeError(r[4:], 2)
                if not multi:
                    return r
                if r == '.':
                    return out
                out.append(r)

    def get(self, name):
        return int(self.request('get %s' % name).split()[2])

    def wait_value(self, name, want, timeout=10.0, every=0.05):
        """Poll a signal until it reads `want`; True if it did within timeout."""
        end = time.monotonic() + timeout
        while True:
            if self.get(name) == want:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(every)

    def set(self, name, value):
        self.request('set %s %d' % (name, int(value)))

    def swipe(self, name, text):
        """A card reader's frames (W26:1234567, KEY:1234#, ...) onto its wire, each as the
        reader's bits (protocols/readerframes.py); the number of frames sent."""
        from ..core.proto import _load
        try:
            frames = _load('readerframes').frames(text)
        except ValueError as e:
            raise EdgeError(str(e), 2)
        for f in frames:
            self.request('bits %s %s' % (name, f))
        return len(frames)

    def list(self):
        out = {}
        for r in self.request('list', multi=True):
            _, name, v, d = r.split()
            out[name] = (int(v), d)
        return out

    def clock(self, ms=None):
        r = self.request('clock' if ms is None else 'clock %d' % ms)
        return int(r.split()[2])

    def info(self):
        return json.loads(self.request('info').split(' ', 2)[2])

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class EdgeWatcher(Recorder):
    """Collects `edge` lines pushed by the board: (host time, name, value, board µs)."""

    def __init__(self, port, host='127.0.0.1'):
        self.sock = socket.create_connection((host, port), timeout=5)
        try:
            self.sock.sendall(b'watch\n')
            self.f = self.sock.makefile('r', encoding='utf-8')
            if not self.f.readline().startswith('ok watch'):
                raise EdgeError('board refused watch')
        except BaseException:
            self.sock.close()
            raise
        self.sock.settimeout(None)    # quiet wires are normal: wait for edges indefinitely
        Recorder.__init__(self)
        self.edges = self.items   # (host time, name, value, board µs)
        self.latest = {}          # name -> last value seen (stale once `ended` is set)
        self.ended = threading.Event()   # the board closed the connection (rebooted, stopped)
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            for line in self.f:
                p = line.split()
                if len(p) == 4 and p[0] == 'edge':
                    self.latest[p[1]] = int(p[2])
                    self.record((time.time(), p[1], int(p[2]), int(p[3])))
        except (OSError, ValueError):
            pass
        finally:
            self.ended.set()

    def wait(self, name, value, timeout, since=0):
        return self.wait_for(lambda e: e[1] == name and e[2] == value, timeout, since)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


runtime = simstate.runtime


PLANT_VARS = ('obstruction', 'jam', 'eye_dead', 'position', 'level', 'leak', 'refill')


def connect(device, state_dir=None, signal=None):
    """The wires of a running simulated board, or its plant's controls when `signal` names
    a plant variable (e.g. gate.obstruction)."""
    rt = runtime(state_dir)
    dev = rt['devices'].get(device)
    if dev is None:
        raise EdgeError('no simulated device %r (running: %s)' % (device, ', '.join(sorted(rt['devices']))), 2)
    if signal and signal.split('=')[0].split('.')[-1] in PLANT_VARS:
        if not dev.get('plant_port'):
            raise EdgeError('%s has no plant model (only barriers have one)' % device, 2)
        return SimIO(dev['plant_port'])
    return SimIO(dev['io_port'])
