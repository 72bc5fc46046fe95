"""Simulated boards: each device's firmware runs as a `micropython` process (the real
MicroPython VM, heap capped as on the board) in its own filesystem folder, with virtual
wires served on a loopback port."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from . import boards, paths
from .broker import free_port, wait_port
from .errors import EdgeError


def write_atomic(path, text):
    tmp = Path(str(path) + '.tmp')
    tmp.write_text(text)
    os.replace(tmp, path)


class SimBoard:
    def __init__(self, cfg, fsdir, heap_kb=None, io_port=None):
        self.cfg = cfg
        self.device = cfg['device']
        self.fs = Path(fsdir)
        self.heap_kb = heap_kb or boards.load(cfg['board'])['heap_kb']
        self.io_port = io_port or free_port()
        self.proc = None
        self.log = self.fs / 'board.log'
        self.starts = 0

    def start(self, timeout=10.0, reset='power'):
        self.fs.mkdir(parents=True, exist_ok=True)
        write_atomic(self.fs / 'config.json', json.dumps(self.cfg, indent=1))
        env = dict(os.environ)
        env.update(MICROPYPATH=paths.micropython_path(), EDGE_IO_PORT=str(self.io_port),
                   EDGE_RESET=reset)
        cmd = [paths.micropython(), '-X', 'heapsize=%dK' % self.heap_kb, str(paths.FIRMWARE / 'main.py')]
        logf = open(self.log, 'ab')
        logf.write(b'--- start %s (%s)\n' % (time.strftime('%H:%M:%S').encode(), reset.encode()))
        logf.flush()
        self.proc = subprocess.Popen(cmd, cwd=self.fs, env=env, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        logf.close()
        self.starts += 1
        if not wait_port('127.0.0.1', self.io_port, timeout, self.proc):
            self.stop()
            raise EdgeError('simulated board %s did not start; its log %s ends:\n%s' % (
                self.device, self.log, self.log_tail()))
        return self

    def log_tail(self, n=1200):
        try:
            return self.log.read_text(errors='replace')[-n:]
        except OSError:
            return ''

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self):
        """Power cut: SIGKILL, nothing flushed."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


class SimSite:
    """All devices of a site as simulated boards; `state_dir/sim.json` tells other shells."""

    def __init__(self, site, state_dir=None, broker=None, fresh=False, devices=None):
        from .site import device_config
        self.site = site
        self.state_dir = Path(state_dir or paths.STATE_DIR)
        self.broker = broker or dict(site.data['broker'])
        self.boards = {}
        for dev in devices or sorted(site.devices):
            fs = self.state_dir / 'sim' / dev
            if fresh and fs.exists():
                shutil.rmtree(fs)
            cfg = device_config(site, dev, self.broker)
            self.boards[dev] = SimBoard(cfg, fs)

    def start(self):
        try:
            for b in self.boards.values():
                b.start()
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
                              'pid': b.proc.pid if b.proc else None}
                          for d, b in self.boards.items()}}
        write_atomic(self.state_dir / 'sim.json', json.dumps(rt, indent=1))

    def supervise(self):
        """Restart boards whose process ended (a soft reset or a crash ends the unix port).
        Returns the devices restarted."""
        out = []
        for d, b in self.boards.items():
            if b.proc is not None and b.proc.poll() is not None:
                b.start(reset='soft' if b.proc.returncode == 0 else 'crash')
                out.append(d)
        if out:
            self.write_runtime()
        return out

    def stop(self):
        for b in self.boards.values():
            b.stop()
        try:
            (self.state_dir / 'sim.json').unlink()
        except FileNotFoundError:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
