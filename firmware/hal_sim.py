# Simulated back-end for the MicroPython unix port: virtual wires served on a loopback
# TCP port (EDGE_IO_PORT) with the line protocol in protocols/sim-io.md.
# Input levels persist in wires.json, as a physical wire keeps its level across a reboot.
import asyncio
import json
import os
from clock import ticks_us, ticks_ms, ticks_diff
from hal import Signal, HalError

WIRES = 'wires.json'
FAULT_BOOT = 'fault_boot'


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


async def _hang():
    while True:     # a busy loop that never yields, like a driver call that never returns
        pass


class SimWatchdog:
    """machine.WDT for the unix port: a thread that kills the process (a hardware reset)
    when it is not fed within the timeout. The host restarts the board, as power does."""

    def __init__(self, ms):
        import _thread
        self.ms = ms
        self.fed = ticks_ms()
        _thread.start_new_thread(self._watch, ())

    def feed(self):
        self.fed = ticks_ms()

    def hold(self, ms):
        """Maintenance (the firmware was interrupted at the console): the thread ends, since
        a live thread keeps the firmware's objects in the heap the installer needs; the
        simulator's console resets a board left at its REPL after the maintenance time."""
        import time
        self.stopped = True
        time.sleep_ms(80)       # the thread sees it within its 50 ms poll and ends

    def _watch(self):
        import time
        self.stopped = False
        while not self.stopped:
            time.sleep_ms(50)
            if not self.stopped and ticks_diff(ticks_ms(), self.fed) > self.ms:
                try:
                    with open('reset.dat', 'w') as f:
                        f.write('watchdog')
                except OSError:
                    pass
                os.system('kill -9 $PPID')


class SimPin:
    def __init__(self, level=0):
        self.level = level

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v


class SimHal:
    def __init__(self, cfg):
        self.cfg = cfg
        self.signals = {}     # name -> Signal
        self._edge = None
        self._watchers = []
        self._saved = self._load()
        self.port = int(os.getenv('EDGE_IO_PORT') or 0)
        self.info = {}
        self.info_fn = None    # the app's figures (seq, outbox) for tests and benchmarks

    def _load(self):
        try:
            with open(WIRES) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _save(self):
        d = {}
        for n in self.signals:
            s = self.signals[n]
            if not s.is_output and not hasattr(s, 'is_reader'):
                d[n] = s.raw.level
        try:
            with open(WIRES, 'w') as f:
                json.dump(d, f)
        except OSError:
            pass

    def input(self, name, pin, active_low=False):
        if _exists(FAULT_BOOT):
            raise HalError('injected fault: inputs fail at boot (%s)' % FAULT_BOOT)
        if name in self.signals:
            raise HalError('signal %s wired twice' % name)
        idle = 1 if active_low else 0
        s = Signal(name, SimPin(self._saved.get(name, idle)), active_low, False)
        self.signals[name] = s
        return s

    def analog(self, name, pin):
        """An analog input: its wire carries 0..100 (percent of full scale)."""
        if name in self.signals:
            raise HalError('signal %s wired twice' % name)
        s = Signal(name, SimPin(self._saved.get(name, 0)), False, False)
        s.analog = True
        self.signals[name] = s
        return s

    def output(self, name, pin, active_low=False, value=0):
        if name in self.signals:
            raise HalError('signal %s wired twice' % name)
        s = Signal(name, SimPin(0), active_low, True)
        s.value(value)
        self.signals[name] = s
        return s

    def reader(self, name, d0, d1):
        """A card reader: its wire carries whole frames as the reader's bits (`bits`)."""
        import wiegand
        if name in self.signals:
            raise HalError('signal %s wired twice' % name)
        r = wiegand.Wiegand(name)
        r.is_output = False
        r.is_reader = True
        self.signals[name] = r
        return r

    def on_edge(self, cb):
        self._edge = cb

    def output_changed(self, sig, value):
        self._notify('edge %s %d %d\n' % (sig.name, value, ticks_us()))

    def _notify(self, line):
        data = line.encode()
        keep = []
        for w in self._watchers:
            try:
                w.write(data)
                keep.append(w)
            except Exception:
                pass
        self._watchers = keep

    def watchdog(self, ms):
        self.wdt = SimWatchdog(ms)
        return self.wdt

    def maintenance(self, ms):
        """The firmware was interrupted (Ctrl-C at the console): keep the watchdog from
        resetting the board for ms, then let it reset into the firmware."""
        w = getattr(self, 'wdt', None)
        if w is not None:
            w.hold(ms)

    def net_up(self):
        return True     # the simulated board shares the host's network

    def rssi(self):
        return None

    def sync_time(self, host):
        pass        # the simulated board has the host's clock (or the one `clock` set)

    # --- the virtual wire server ----------------------------------------------------------
    async def serve(self):
        if not self.port:
            return
        import hal_simio    # now, while the heap is in one piece (see handle)
        await asyncio.start_server(self._client, '127.0.0.1', self.port)

    async def _client(self, r, w):
        try:
            while True:
                line = await r.readline()
                if not line:
                    break
                reply = self.handle(line.decode().strip(), w)
                if reply:
                    w.write(reply.encode())
                    await w.drain()
        except Exception:
            pass
        if w in self._watchers:
            self._watchers.remove(w)
        try:
            await w.wait_closed()   # MicroPython: this, not close(), closes the socket
        except Exception:
            pass

    def handle(self, line, w=None):
        """One request of the I/O line protocol (hal_simio). A board has no such server: its
        code is loaded when the server starts and stays (loaded and dropped per request it
        fragmented the board's heap until a signed fire reset could not be checked; loaded at
        the first request, late, its names could need a new qstr pool, one block a fragmented
        heap may not have), and the simulator gives the board that much heap on top of its
        own (host/sim.py SIM_IO_KB)."""
        import hal_simio
        return hal_simio.handle(self, line, w)
