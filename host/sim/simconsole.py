"""A simulated board's serial console on a pseudo-terminal, behaving like a board's USB
serial port for mpremote and edgectl deploy:

* the board process (the MicroPython unix port) runs on its own pty; the console copies
  bytes both ways between it and the pty the installer opens (`path`), and into the
  board's log;
* Ctrl-C while the firmware runs interrupts it (SIGINT, as the UART's interrupt char does
  on a board), leaving the board at its REPL; at the REPL a Ctrl-C is only a byte;
* a soft reset (Ctrl-D) ends the unix port's process: the console starts it again as the
  board reboots, printing "soft reboot" first. From the raw REPL it comes back in the raw
  REPL without running main.py (as a board does); from the friendly REPL it runs the
  firmware. A process that ends by itself (reboot, watchdog, crash) restarts the firmware.

Both ptys are in raw mode: no CR/LF translation, or mpremote never sees its prompts.
"""
import os
import pty
import select
import signal
import subprocess
import threading
import time
import tty

from ..core import procs
from ..core.paths import firmware_constant

CTRL_A, CTRL_B, CTRL_C, CTRL_D = 1, 2, 3, 4


# how long an interrupted board stays at its REPL before its watchdog resets it
MAINTENANCE_S = firmware_constant('start.py', 'MAINTENANCE_MS') / 1000
PROMPTS = (b'>>> ', b'raw REPL; CTRL-B to exit\r\n>')


class SimConsole:
    def __init__(self, spawn, log_path, restart_ok=lambda: True, fs=None):
        """spawn(mode) -> (argv, env, cwd) for mode 'firmware' or 'repl'; restart_ok() is
        False while the board is meant to stay off (a power cut)."""
        self.spawn = spawn
        self.restart_ok = restart_ok
        self.fs = fs                  # the board's filesystem folder (its config.json)
        self.log_path = log_path
        self.master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)   # what the installer opens
        self.proc = None
        self.board_fd = None
        self.raw = False            # the client put the REPL in raw mode (Ctrl-A, left by Ctrl-B)
        self.at_repl = False        # the board shows a REPL prompt (not running firmware)
        self.reset_asked = False    # a Ctrl-D reached the REPL: the coming exit is a soft reset
        self.interrupted_at = None  # when a Ctrl-C stopped the firmware (the watchdog's maintenance hold)
        self.maintenance_s = MAINTENANCE_S
        self.spoke = False
        self.pending_interrupt = False
        self.restarts = []          # (mode, exit status) per restart
        self.stopped = False
        self.lock = threading.Lock()
        self._tail = b''
        self.thread = None

    # --- processes ------------------------------------------------------------------------
    def start(self, mode='firmware'):
        argv, env, cwd = self.spawn(mode)
        bm, bs = pty.openpty()
        tty.setraw(bs)
        with open(self.log_path, 'ab') as log:
            log.write(b'--- start %s (%s)\n' % (time.strftime('%H:%M:%S').encode(), mode.encode()))
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=bs, stdout=bs, stderr=bs,
                                     start_new_session=True)
        os.close(bs)
        self.board_fd = bm
        self.at_repl = False
        self.reset_asked = False
        self.interrupted_at = None
        self.spoke = False              # the process has printed: MicroPython is running
        self.pending_interrupt = False
        if mode == 'repl' and self.raw:
            os.write(bm, bytes([CTRL_A]))    # back in the raw REPL after the soft reset
        if self.thread is None:
            self.thread = threading.Thread(target=self._run, daemon=True)
            self.thread.start()
        return self.proc

    def _restart(self):
        rc = self.proc.wait()
        os.close(self.board_fd)
        self.board_fd = None
        soft = self.reset_asked
        mode = 'repl' if soft and self.raw else 'firmware'
        if not self.restart_ok():
            return
        self.restarts.append((mode, rc))
        if soft:
            self._to_client(b'MPY: soft reboot\r\n')
        self.start(mode)

    # --- the copying thread ---------------------------------------------------------------
    def _to_client(self, data):
        try:
            os.write(self.master, data)
        except OSError:
            pass
        with open(self.log_path, 'ab') as log:
            log.write(data)

    def _from_client(self, data):
        for b in data:
            if b == CTRL_A:
                self.raw = True
            elif b == CTRL_B:
                self.raw = False
            elif b == CTRL_C and not self.at_repl and self.proc is not None and self.proc.poll() is None:
                if self.locked():
                    pass                   # console_locked: the firmware ignores Ctrl-C (kbd_intr(-1) on a board)
                elif self.spoke:
                    self._interrupt()          # the firmware is running: interrupt it
                else:
                    self.pending_interrupt = True   # still starting: once MicroPython runs
            elif b == CTRL_D and self.at_repl:
                self.reset_asked = True
        if self.board_fd is not None:
            try:
                os.write(self.board_fd, data)
            except OSError:
                pass

    def locked(self):
        """The board runs a config with console_locked (the unix port cannot ignore SIGINT
        as an ESP32's firmware ignores Ctrl-C, so the console does it for it)."""
        import json
        try:
            with open('%s/config.json' % self.fs) as f:
                return bool(json.load(f).get('console_locked'))
        except (OSError, ValueError):
            return False

    def _interrupt(self):
        self.pending_interrupt = False
        self.proc.send_signal(signal.SIGINT)
        self.interrupted_at = time.monotonic()

    def _run(self):
        while not self.stopped:
            fds = [self.master] + ([self.board_fd] if self.board_fd is not None else [])
            try:
                r, _, _ = select.select(fds, [], [], 0.1)
            except (OSError, ValueError):
                continue
            with self.lock:
                if self.stopped:
                    return
                if self.interrupted_at is not None and time.monotonic() - self.interrupted_at > self.maintenance_s:
                    self.interrupted_at = None
                    self.proc.kill()          # the watchdog's maintenance hold ran out: it resets
                if self.master in r:
                    try:
                        self._from_client(os.read(self.master, 4096))
                    except OSError:
                        pass
                if self.board_fd is not None and self.board_fd in r:
                    try:
                        data = os.read(self.board_fd, 4096)
                    except OSError:
                        data = b''
                    if data:
                        self.spoke = True        # MicroPython runs (and handles SIGINT) by now
                        self._tail = (self._tail + data)[-64:]
                        if self._tail.endswith(PROMPTS):
                            self.at_repl = True
                            self.pending_interrupt = False
                        self._to_client(data)
                        if self.pending_interrupt and not self.at_repl:
                            self._interrupt()
                    else:
                        self._restart()      # the process ended: the board reboots
                elif self.proc is not None and self.proc.poll() is not None and self.board_fd is not None:
                    # ended without a last read (killed): drain, then reboot
                    self._restart()

    def stop(self):
        with self.lock:
            self.stopped = True
            procs.end(self.proc)
            for fd in (self.board_fd, self.master, self._slave):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            self.board_fd = None
