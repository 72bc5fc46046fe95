"""The QA rig as the host sees it: set a DUT input, read a DUT output, wait for an output
to change, every change timestamped in the rig's clock (seconds). Two implementations:
SimRig talks to a simulated DUT's virtual wires directly; SerialRig talks to the rig
firmware (firmware/rig/) over a serial line: a real ESP32 rig, or the rig firmware on the
MicroPython unix port over a pty (PtyRig starts that)."""
import json
import os
import pty
import queue
import subprocess
import threading
import time
import tty
from dataclasses import dataclass
from pathlib import Path

from ..core import boards, paths, procs
from ..core.errors import EdgeError
from ..core.recorder import Recorder
from ..sim.simio import EdgeWatcher, SimIO

TICKS_PERIOD = 1 << 30      # MicroPython ticks_us() wraps here


@dataclass
class Edge:
    signal: str
    value: int
    t: float            # rig clock, seconds
    host_t: float       # host wall clock when seen


class Unwrap:
    """Continuous time from a wrapping µs tick counter."""

    def __init__(self):
        self.base = 0
        self.last = None

    def __call__(self, us):
        if self.last is not None and us < self.last and self.last - us > TICKS_PERIOD // 2:
            self.base += TICKS_PERIOD
        self.last = us
        return (self.base + us) / 1e6


class Rig(Recorder):
    kind = 'rig'

    def __init__(self):
        Recorder.__init__(self)
        self.edges = self.items
        self.log_lines = []

    def _edge(self, e):
        self.record(e)
        self.log('edge %s=%d t=%.6f' % (e.signal, e.value, e.t))

    def log(self, line):
        self.log_lines.append('%.3f %s' % (time.time(), line))

    def wait(self, signal, value, timeout, since=0):
        """The first edge of signal to value at index >= since, or None after timeout."""
        return self.wait_for(lambda e: e.signal == signal and e.value == value, timeout, since)

    def last(self, signal):
        with self.cond:
            for e in reversed(self.edges):
                if e.signal == signal:
                    return e
        return None

    # set(signal, value) -> rig time; get(signal) -> value; close()


class SimRig(Rig):
    """Virtual wires to a simulated DUT; times are the DUT's own µs clock."""
    kind = 'sim'

    def __init__(self, io_port, signals):
        super().__init__()
        self.io = SimIO(io_port)
        self.unwrap = Unwrap()
        self.signals = signals
        self.watch = EdgeWatcher(io_port)
        self._stop = threading.Event()
        self._seen = 0
        self.t = threading.Thread(target=self._pump, daemon=True)
        self.t.start()

    def _pump(self):
        while not self._stop.is_set():
            with self.watch.cond:
                self.watch.cond.wait(0.05)
                new = self.watch.edges[self._seen:]
                self._seen = len(self.watch.edges)
            for host_t, name, v, us in new:
                if name in self.signals:
                    self._edge(Edge(name, v, self.unwrap(us), host_t))

    def set(self, signal, value):
        m = self.mark()
        self.io.set(signal, value)
        e = self.wait(signal, value, 2, m)
        if e is None:
            raise EdgeError('the DUT did not report %s=%d' % (signal, value))
        return e.t

    def get(self, signal):
        return self.io.get(signal)

    def close(self):
        self._stop.set()
        self.t.join(1)
        self.watch.close()
        self.io.close()


def wiring_check(profile, dut_cfg):
    """Signal -> rig pin for every signal of the DUT config, from a rig wiring profile;
    EdgeError naming each wire that is missing or cannot work."""
    w = boards.load(profile)
    rig_board = boards.load(w['rig_board'])
    if dut_cfg['board'] != w['dut_board']:
        raise EdgeError('rig wiring %s is for %s DUTs, the DUT is a %s' % (profile, w['dut_board'], dut_cfg['board']), 2)
    from ..core.proto import controllers
    defs = controllers()['types']
    out = {}
    problems = []
    used = {}
    for c in dut_cfg['controllers']:
        tdef = defs[c['type']]
        for sig, dut_pin in c['pins'].items():
            name = '%s.%s' % (c['name'], sig)
            rig_pin = w['wires'].get(str(dut_pin))
            if rig_pin is None:
                problems.append('%s (DUT GPIO%d) has no wire to the rig in %s' % (name, dut_pin, profile))
                continue
            drives = sig in tdef['inputs']        # the rig drives the DUT's inputs
            analog = drives and (sig in tdef.get('analog', []) or c.get(sig + '_eol'))
            if drives and rig_pin in rig_board['input_only']:
                problems.append('%s: rig GPIO%d is input-only and cannot drive DUT GPIO%d' % (name, rig_pin, dut_pin))
            if analog and rig_pin not in rig_board.get('dac', []):
                problems.append('%s is analog: rig GPIO%d has no DAC to drive it (DAC pins: %s)' % (
                    name, rig_pin, ', '.join(map(str, rig_board.get('dac', []))) or 'none'))
            if rig_pin in rig_board['flash'] or rig_pin in rig_board.get('uart0', []):
                problems.append('%s: rig GPIO%d is reserved on the rig board' % (name, rig_pin))
            if rig_pin in used:
                problems.append('%s: rig GPIO%d already wired to %s' % (name, rig_pin, used[rig_pin]))
            used[rig_pin] = name
            out[name] = (rig_pin, 'level' if analog else 'out' if drives else 'in')
    if problems:
        raise EdgeError('rig wiring does not fit the DUT:\n  ' + '\n  '.join(problems), 2)
    return out


class SerialRig(Rig):
    """The rig firmware over a serial line (protocols/rig-serial.md)."""
    kind = 'serial'

    def __init__(self, port, wiring, baud=115200, timeout=3.0):
        super().__init__()
        import serial
        self.wiring = wiring                      # signal -> (rig pin, 'in'|'out'|'level')
        self.by_pin = {p: s for s, (p, d) in wiring.items()}
        try:
            self.ser = serial.Serial(port, baud, timeout=0.05)
        except (serial.SerialException, OSError) as e:
            raise EdgeError('cannot open the rig on %s: %s' % (port, e))
        self.port = port
        self.timeout = timeout
        self.replies = queue.Queue()
        self.unwrap = Unwrap()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self._hello()
        for sig, (pin, d) in sorted(wiring.items()):
            self.request('IN %d' % pin if d == 'in' else 'OUT %d' % pin)

    def _read(self):
        buf = b''
        while not self._stop.is_set():
            try:
                chunk = self.ser.read(256)
            except Exception:
                return
            buf += chunk
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                line = line.decode('utf-8', 'replace').strip()
                if not line:
                    continue
                self.log('< ' + line)
                p = line.split()
                if p[0] == 'E' and len(p) == 4:
                    sig = self.by_pin.get(int(p[1]))
                    if sig:
                        self._edge(Edge(sig, int(p[2]), self.unwrap(int(p[3])), time.time()))
                elif p[0] in ('OK', 'ERR', 'READY'):
                    self.replies.put(line)

    def _hello(self):
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                r = self.request('PING', 1.0)
                if 'PONG' in r:
                    return
            except EdgeError:
                pass
        raise EdgeError('no rig firmware answering on %s (flash firmware/rig/ onto the rig board)' % self.port)

    def request(self, line, timeout=None):
        with self._lock:
            while not self.replies.empty():
                self.replies.get_nowait()
            self.log('> ' + line)
            self.ser.write(line.encode() + b'\n')
            self.ser.flush()
            end = time.monotonic() + (timeout or self.timeout)
            while True:
                try:
                    r = self.replies.get(timeout=max(0.01, end - time.monotonic()))
                except queue.Empty:
                    raise EdgeError('rig on %s did not answer %r' % (self.port, line))
                if r.startswith('READY'):
                    continue
                if r.startswith('ERR'):
                    raise EdgeError('rig refused %r: %s' % (line, r[4:]))
                return r

    def _pin(self, signal, want):
        if signal not in self.wiring:
            raise EdgeError('no rig wire for %s' % signal)
        pin, d = self.wiring[signal]
        if d == 'level':
            d = 'out'
        if want and d != want:
            raise EdgeError('%s is a DUT %s: the rig cannot %s it' % (signal, 'output' if d == 'in' else 'input',
                                                                     'drive' if want == 'out' else 'read'))
        return pin

    def set(self, signal, value):
        pin = self._pin(signal, 'out')
        if self.wiring[signal][1] == 'level':
            r = self.request('LEVEL %d %d' % (pin, value))
        else:
            r = self.request('SET %d %d' % (pin, value))
        t = self.unwrap(int(r.split()[1]))
        self._edge(Edge(signal, value, t, time.time()))
        return t

    def get(self, signal):
        return int(self.request('GET %d' % self._pin(signal, None)).split()[1])

    def close(self):
        self._stop.set()
        self.t.join(1)
        self.ser.close()


class PtyRig(SerialRig):
    """The rig firmware on the MicroPython unix port, its console on a pty, its pins wired
    to a simulated DUT: the serial rig path end to end without hardware."""
    kind = 'pty'

    def __init__(self, workdir, dut_io_port, wiring, heap_kb=64):
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / 'rig-wiring.json').write_text(json.dumps(
            {'dut_io_port': dut_io_port, 'pins': {str(p): s for s, (p, d) in wiring.items()}}))
        master, slave = pty.openpty()
        tty.setraw(slave)
        self.slave_path = os.ttyname(slave)
        rigdir = paths.FIRMWARE / 'rig'
        env = dict(os.environ, MICROPYPATH=':'.join(['.frozen', str(rigdir)]))
        self.errlog = open(workdir / 'rig-firmware.log', 'ab')
        self.proc = subprocess.Popen([paths.micropython(), '-X', 'heapsize=%dK' % heap_kb, str(rigdir / 'main.py')],
                                     cwd=workdir, env=env, stdin=master, stdout=master, stderr=self.errlog)
        os.close(master)
        self._slave_fd = slave
        try:
            super().__init__(self.slave_path, wiring)
        except EdgeError:
            self.close()
            raise

    def close(self):
        try:
            super().close()
        except Exception:
            pass
        procs.end(self.proc, 3)
        try:
            os.close(self._slave_fd)
        except OSError:
            pass
        self.errlog.close()
