"""Simulated boards: each device's firmware runs as a `micropython` process (the real
MicroPython VM, heap capped as on the board) in its own filesystem folder, with virtual
wires served on a loopback port. The unix port is 64-bit, its objects larger than an
ESP32's: a board gets its profile's heap plus what its objects take more there, measured
for its layout and controller types (protocols/heap_costs.json, core/heapfit.vm_heap_kb):
it has the chip's free heap, so what fits the chip fits here and what does not, does not."""
import json
import os
import shutil
import signal
import threading
import subprocess
import time
from functools import lru_cache
from pathlib import Path

from ..core import boards, paths, procs, simstate
from ..core.heapfit import vm_heap_kb
from ..core.broker import free_port, wait_port
from ..core.errors import EdgeError


def write_atomic(path, text):
    tmp = Path(str(path) + '.tmp')
    tmp.write_text(text)
    os.replace(tmp, path)


@lru_cache(maxsize=4)
def _bits(vm):
    try:
        r = subprocess.run([vm, '-c', 'import sys; print(64 if sys.maxsize > 2**31 else 32)'],
                           capture_output=True, text=True, timeout=30)
        return int(r.stdout.split()[-1])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return 64


def vm_bits(vm=None):
    """The word size of a MicroPython unix port (None: the one boards run, paths.micropython())."""
    return _bits(vm or paths.micropython())


# What the simulator's own wire server takes from a simulated board's heap, which a board
# has no part of: its code (firmware/hal_simio.py, resident: 2.6 KB measured) and a stream
# with its buffers per open wire connection (plants, tests, `edgectl io` hold several).
SIM_IO_KB = 12


class SimBoard:
    """firmware='host': the board runs this checkout's firmware (a ROMFS image, as if
    pre-flashed); 'fs': it runs what was deployed on its filesystem (main.py, lib/), or sits
    at its REPL when nothing was (a blank board). console=True: its serial console is a pty
    (`console.path`) that mpremote and `edgectl deploy` open like a USB serial port."""
    vm = None                 # another MicroPython unix port to run (None: paths.micropython())

    def __init__(self, cfg, fsdir, heap_kb=None, io_port=None, firmware='host', console=False, secret=None,
                 ca_der=None):
        self.cfg = cfg
        self.ca_der = ca_der      # the site CA for TLS (ca.der), or None
        self.secret = secret      # the board's secrets.json (MQTT login, command key), or None
        self.firmware = firmware
        self.console = None
        self.want_console = console
        self.device = cfg['device']
        self.fs = Path(fsdir)
        self.heap_kb = heap_kb or boards.load(cfg['board'])['heap_kb']     # the chip's (profile) terms
        self.io_port = io_port or free_port()
        self._proc = None
        self.log = self.fs / 'board.log'
        self.starts = 0
        self.stopped = True
        self.resets = []          # (reason, exit status) of every restart by the supervisor
        self.lock = threading.RLock()   # start/stop from a test vs. the supervisor thread
        from .plants import plants_for
        self.plants = plants_for(cfg)   # machines this board drives (barrier arm, ...)
        self.plant_server = None

    def provision(self):
        """Put the device's config on the board's filesystem (as `config push` over serial),
        and the plants' starting levels on its input wires."""
        self.fs.mkdir(parents=True, exist_ok=True)
        write_atomic(self.fs / 'config.json', json.dumps(self.cfg, indent=1))
        if self.secret:
            write_atomic(self.fs / 'secrets.json', json.dumps(self.secret))
        if self.ca_der:
            (self.fs / 'ca.der').write_bytes(self.ca_der)
        wires = {}
        for c in self.cfg['controllers']:
            if c.get('contact_eol'):
                wires['%s.contact' % c['name']] = 33     # an intact, closed EOL loop
        for p in self.plants:
            wires.update(p.initial_wires())
        if wires:
            write_atomic(self.fs / 'wires.json', json.dumps(wires))
        return self

    def start_plants(self, connect=None):
        """Run the plant models against this board (or through `connect`, e.g. a rig)."""
        from .plants import PlantServer, WireLink
        if not self.plants or self.plant_server is not None:
            return
        for p in self.plants:
            p.start(connect or (lambda: WireLink(self.io_port)))
        self.plant_server = PlantServer(self.plants)

    def spawn(self, mode, reset='power'):
        """(argv, env, cwd) of the board process: mode 'firmware' runs the firmware, 'repl'
        only MicroPython (after a soft reset from the raw REPL, or a blank board)."""
        env = dict(os.environ)
        env.update(EDGE_IO_PORT=str(self.io_port), EDGE_RESET=reset,
                   EDGE_FS_KB=str(boards.load(self.cfg['board']).get('fs_kb', 2048)))  # sizes the outbox
        argv = [self.vm or paths.micropython()]
        heap = self.vm_heap_kb()
        if self.firmware == 'host':
            from ..core.build import build_romfs
            romfs = build_romfs()
            # the image stands for the board's ROM partition (flash, run in place): the heap
            # left for the firmware is the board's heap, as on the board
            # (or an updated image the board boots instead: firmware/main.py, fw.slot)
            size = max([romfs.stat().st_size] + [p.stat().st_size for p in (self.fs / 'fw.a', self.fs / 'fw.b')
                                                 if p.exists()])
            heap += (size + 1023) // 1024
            env.update(MICROPYPATH=paths.micropython_path(), EDGE_ROMFS=str(romfs))
            main = str(paths.FIRMWARE / 'main.py')
        else:
            env.update(MICROPYPATH=':.frozen:lib')       # as sys.path on a board: '', .frozen, /lib
            env.pop('EDGE_ROMFS', None)
            main = 'main.py' if (self.fs / 'main.py').exists() else None
        heap += SIM_IO_KB      # the simulator's own wire server lives in the board's heap
        argv += ['-X', 'heapsize=%dK' % heap]
        if self.console is not None:
            env['EDGE_CONSOLE'] = '1'
            argv.append('-i')          # an interrupted or finished main.py leaves the REPL, as on a board
        if mode == 'firmware' and main:
            argv.append(main)
        elif self.console is None:
            raise EdgeError('simulated board %s has no firmware on its filesystem (deploy it first)' % self.device)
        return argv, env, str(self.fs)

    def layout(self):
        """The firmware layout the board runs: the ROMFS image ('host') or lib/ on its filesystem."""
        return 'romfs' if self.firmware == 'host' else 'lib'

    def vm_heap_kb(self):
        """The chip's heap_kb in the VM's terms (without the image and the wire server)."""
        return vm_heap_kb(self.heap_kb, self.layout(), vm_bits(self.vm),
                          types=[c['type'] for c in self.cfg['controllers']])

    def heap_note(self):
        """One line for status output: the chip's heap and what the VM is given for it."""
        vm = self.vm_heap_kb()
        if vm == self.heap_kb:
            return 'heap %d KB' % self.heap_kb
        return 'heap %d KB; %d KB on the 64-bit VM, whose objects are larger than a chip\'s' % (self.heap_kb, vm)

    def start(self, timeout=10.0, reset='power', wait=True):
        with self.lock:
            self.fs.mkdir(parents=True, exist_ok=True)
            if self.firmware == 'host' and not (self.fs / 'config.json').exists():
                self.provision()
            self.stopped = False
            if self.want_console:
                from .simconsole import SimConsole
                if self.console is None:
                    self.console = SimConsole(lambda mode: self.spawn(mode), self.log,
                                              restart_ok=lambda: not self.stopped, fs=self.fs)
                self.proc = self.console.start('firmware')
            else:
                argv, env, cwd = self.spawn('firmware', reset)
                logf = open(self.log, 'ab')
                logf.write(b'--- start %s (%s)\n' % (time.strftime('%H:%M:%S').encode(), reset.encode()))
                logf.flush()
                self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=logf, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL)
                logf.close()
            self.starts += 1
            runs_firmware = self.firmware == 'host' or (self.fs / 'main.py').exists()
            if wait and runs_firmware and (self.fs / 'config.json').exists() and \
                    not wait_port('127.0.0.1', self.io_port, timeout, self.proc):
                self.stop()
                raise EdgeError('simulated board %s did not start; its log %s ends:\n%s' % (
                    self.device, self.log, self.log_tail()))
            return self

    @property
    def proc(self):
        """The board's current process (with a console, the one it restarted last)."""
        return self.console.proc if self.console is not None else self._proc

    @proc.setter
    def proc(self, p):
        self._proc = p

    @property
    def serial_port(self):
        return self.console.path if self.console else None

    def log_tail(self, n=1200):
        try:
            return self.log.read_text(errors='replace')[-n:]
        except OSError:
            return ''

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def restart_if_ended(self):
        """A board whose process ended rebooted (reset, watchdog, crash) or lost power
        (kill -9): start it again as the hardware would. Returns the reason or None."""
        with self.lock:
            if self.console is not None:
                return None           # the console restarts its board itself
            if self.stopped or self.proc is None or self.proc.poll() is None:
                return None
            rc = self.proc.returncode
            if rc == 2:               # no usable config: a real board would sit at the REPL
                self.stopped = True
                return None
            reason = 'power' if rc == -signal.SIGKILL else 'soft'
            self.resets.append((reason, rc))
            self.start(reset=reason, wait=False)
            return reason

    def stop(self):
        with self.lock:
            self.stopped = True
            if self.console is not None:
                self.console.stop()
                self.console = None
            procs.end(self.proc)

    def stop_plants(self):
        for p in self.plants:
            p.stop()
        if self.plant_server:
            self.plant_server.close()
            self.plant_server = None

    def kill(self, restart=False):
        """Power cut: SIGKILL, nothing flushed. With restart=False the board stays off."""
        with self.lock:
            self.stopped = not restart
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()


class FolderLock:
    """One simulated site per folder: an exclusive lock (fcntl) on `state_dir/sim.lock`
    holding the owner's pid, so a second `edgectl sim` is refused before it touches the
    running boards' files, client ids or sim.json. The kernel drops it with the process."""

    def __init__(self, state_dir):
        import fcntl
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / 'sim.lock'
        self.f = open(self.path, 'a+')
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.f.seek(0)
            owner = self.f.read().strip() or '?'
            self.f.close()
            raise EdgeError('a simulated site already runs in %s (edgectl sim, pid %s): stop it first (Ctrl-C '
                            'in its shell, or kill %s), or run this one in another folder'
                            % (Path(state_dir).resolve().parent, owner, owner), 1)
        self.f.seek(0)
        self.f.truncate()
        self.f.write('%d\n' % os.getpid())
        self.f.flush()

    def release(self):
        if self.f and not self.f.closed:
            self.f.close()        # closing the file drops the lock


class SimSite:
    """All devices of a site as simulated boards; `state_dir/sim.json` tells other shells."""

    def __init__(self, site, state_dir=None, broker=None, fresh=False, devices=None, serial=False, blank=False):
        """serial: each board's console on a pty (mpremote, edgectl deploy); blank: boards with
        only MicroPython on them (empty filesystem), as after `edgectl flash` wrote the image.
        Refused (EdgeError) while another SimSite runs in the same state_dir."""
        from ..core.site import device_config
        self.blank = blank
        self.site = site
        self.state_dir = Path(state_dir or paths.STATE_DIR)
        self.lock = FolderLock(self.state_dir)
        self.broker = broker or dict(site.data['broker'])
        self.boards = {}
        try:
            for dev in devices or sorted(site.devices):
                fs = self.state_dir / 'sim' / dev
                if (fresh or blank) and fs.exists():
                    shutil.rmtree(fs)
                cfg = device_config(site, dev, self.broker)
                from ..core import secrets
                secret = secrets.board_file(secrets.load(site.path), dev) if site.path else None
                self.boards[dev] = SimBoard(cfg, fs, firmware='fs' if blank else 'host', console=serial or blank,
                                            secret=secret)
        except BaseException:
            self.lock.release()
            raise

    def start(self):
        try:
            for b in self.boards.values():
                if not self.blank:
                    b.provision()
                b.start()
                b.start_plants()
        except EdgeError:
            self.stop()
            raise
        self.write_runtime()
        return self

    def write_runtime(self):
        self.state_dir.mkdir(parents=True, exist_ok=True)
        rt = {'site': self.site.name, 'site_file': str(Path(self.site.path).resolve()),
              'broker': self.broker, 'pid': os.getpid(),
              'devices': {d: {'io_port': b.io_port, 'fs': str(b.fs.resolve()),
                              'pid': b.proc.pid if b.proc else None, 'serial': b.serial_port,
                              'plant_port': b.plant_server.port if b.plant_server else None}
                          for d, b in self.boards.items()}}
        write_atomic(simstate.path(self.state_dir), json.dumps(rt, indent=1))

    def supervise(self):
        """Restart boards whose process ended (a reboot ends the unix port's process).
        Returns the devices restarted."""
        out = [d for d, b in self.boards.items() if b.restart_if_ended()]
        if out:
            self.write_runtime()
        return out

    def stop(self):
        for b in self.boards.values():
            b.stop_plants()
            b.stop()
        try:
            (simstate.path(self.state_dir)).unlink()
        except FileNotFoundError:
            pass
        self.lock.release()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class Supervisor:
    """A thread that restarts ended boards, as power and the reset line do on hardware."""

    def __init__(self, boards, period=0.05):
        import threading
        self.boards = boards      # a list the caller may append to
        self.period = period
        self.halt = threading.Event()
        self.errors = []
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.halt.wait(self.period):
            for b in list(self.boards):
                try:
                    b.restart_if_ended()
                except EdgeError as e:
                    self.errors.append(str(e))

    def stop(self):
        self.halt.set()
        self.t.join(2)
