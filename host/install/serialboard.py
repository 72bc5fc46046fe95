"""A board at the other end of a serial line, through mpremote's serial transport (the same
code `mpremote` runs): raw REPL without a soft reset (a soft reset would drop the running
firmware's watchdog feeding on an ESP32), probing, files in and out, every error said in
one line with what to do."""
import base64
import contextlib
import json
import os
import stat

from ..core.errors import EdgeError

# sys.implementation._mpy: bits 0-7 .mpy version, 8-9 sub-version, 10+ native arch
ARCHS = {0: None, 1: 'x86', 2: 'x64', 3: 'armv6', 4: 'armv6m', 5: 'armv7m', 6: 'armv7em',
         7: 'armv7emsp', 8: 'armv7emdp', 9: 'xtensa', 10: 'xtensawin', 11: 'rv32imc', 12: 'rv64imc'}
CHUNK = 1536          # raw bytes per write command (base64 on the wire)


class SerialBoard:
    opened = 0            # sessions opened by this process (the installer opens one)

    def __init__(self, port, baud=115200, timeout=10.0):
        self.port, self.baud, self.timeout = port, baud, timeout
        self.sent = 0
        self._open()

    def _open(self):
        port, baud, timeout = self.port, self.baud, self.timeout
        if not (port.startswith(('socket://', 'rfc2217://')) or os.path.exists(port)):
            raise EdgeError('no serial port %s: plug the board in and look for it with '
                            '`ls /dev/ttyUSB* /dev/ttyACM*` (or `mpremote devs`)' % port, 2)
        if os.path.exists(port) and not stat.S_ISCHR(os.stat(port).st_mode):
            raise EdgeError('%s is not a serial device' % port, 2)
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport
        try:
            self.t = SerialTransport(port, baudrate=baud, timeout=1.0)   # reads never block for ever
        except (TransportError, OSError) as e:
            raise EdgeError('cannot open %s: %s (is another program, e.g. a serial monitor, using it?)' % (port, e))
        SerialBoard.opened += 1
        ser = self.t.serial
        write = ser.write

        def counting_write(data):
            self.sent += len(data)
            return write(data)
        ser.write = counting_write
        try:
            # Ctrl-C interrupts the running firmware (it drives its outputs safe first)
            self.t.enter_raw_repl(soft_reset=False, timeout_overall=timeout)
        except TransportError:
            self.close()
            raise EdgeError('no MicroPython REPL answering on %s within %.0f s: is MicroPython on the board '
                            '(`edgectl flash`)? is the board powered and the port right? (a board whose config '
                            'has console_locked ignores the console: reflash it)' % (port, timeout))

    def close(self):
        try:
            if self.t.in_raw_repl:
                self.t.exit_raw_repl()
            self.t.close()
        except Exception:
            pass

    def reopen(self):
        """Open the line again after another program had it (mpremote writing a ROMFS
        image): the same session object, so whoever holds it keeps using it."""
        self.close()
        self._open()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- running code -------------------------------------------------------------------
    def run(self, code):
        """Run code on the board; returns its output. EdgeError with the board's traceback."""
        from mpremote.transport import TransportError
        try:
            out = self.t.exec(code)
        except TransportError as e:
            raise EdgeError('the board on %s failed: %s' % (self.port, str(e).strip().splitlines()[-1] if str(e).strip() else e))
        return out.decode('utf-8', 'replace')

    def eval_json(self, code):
        """Run code that prints one JSON line; returns it parsed."""
        out = self.run(code).strip().splitlines()
        try:
            return json.loads(out[-1])
        except (IndexError, ValueError):
            raise EdgeError('the board on %s answered %r, not JSON' % (self.port, '\n'.join(out)[-200:]))

    def probe(self):
        """What the board runs: platform, MicroPython version, .mpy version and arch."""
        p = self.eval_json('import sys, json\n'
                           'print(json.dumps({"platform": sys.platform, "version": list(sys.implementation.version[:3]),'
                           '"mpy": getattr(sys.implementation, "_mpy", 0), "machine": sys.implementation._machine}))')
        m = p['mpy']
        p['mpy_version'] = (m & 0xff, (m >> 8) & 3)
        p['arch'] = ARCHS.get(m >> 10)
        return p

    # --- files ----------------------------------------------------------------------------
    def write(self, path, data, progress=None):
        """Write a file in chunks (base64 on the wire); progress(n) after each chunk."""
        self.run('import binascii\n_f=open(%r,"wb")\n_w=_f.write\n_d=binascii.a2b_base64' % path)
        for i in range(0, len(data), CHUNK):
            chunk = data[i:i + CHUNK]
            self.run('_w(_d(%r))' % base64.b64encode(chunk).decode())
            if progress:
                progress(len(chunk))
        self.run('_f.close()\ndel _f,_w,_d')

    def read(self, path, chunk=768):
        """A file's bytes, or None when it does not exist (read in chunks: little board RAM)."""
        ok = self.eval_json('import json\ntry:\n _f=open(%r,"rb")\nexcept OSError:\n print("false")\n'
                            'else:\n print("true")' % path)
        if not ok:
            return None
        out = bytearray()
        try:
            while True:
                r = self.run('import binascii\n_b=_f.read(%d)\nprint(binascii.b2a_base64(_b).decode().strip() if _b else "")'
                             % chunk).strip()
                if not r:
                    break
                out += base64.b64decode(r)
        finally:
            self.run('_f.close()\ndel _f')
        return bytes(out)

    def read_json(self, path):
        raw = self.read(path)
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return None

    def sizes(self, folder):
        """{name: size} of the files in a folder on the board ({} when it does not exist)."""
        return self.eval_json('import os, json\nr={}\ntry:\n for n in os.listdir(%r):\n'
                              '  r[n]=os.stat(%r+"/"+n)[6]\nexcept OSError:\n pass\nprint(json.dumps(r))' % (folder, folder))

    def soft_reboot(self):
        """Leave the raw REPL and soft-reset from the friendly REPL: main.py runs (a board's
        reset button does the same, and an ESP32 is hard-reset with machine.reset())."""
        self.t.exit_raw_repl()
        self.t.serial.write(b'\x04')
        self.t.serial.flush()

    def restart(self):
        """Start the firmware again after this session interrupted it."""
        if self.probe()['platform'] == 'esp32':
            self.hard_reset()
        else:
            self.soft_reboot()

    def hard_reset(self):
        try:
            self.t.exec_raw_no_follow('import machine\nmachine.reset()')
        except Exception:
            pass


# what a board prints when it cannot run: the line the installer shows instead of a guess
BOARD_ERROR = ('MemoryError', 'crashed', 'cannot start', 'Traceback')
FATAL = ('MemoryError', 'cannot start')     # the board cannot come up: no point waiting


def error_line(lines):
    """The board's own last error line in its console output (a traceback's last line, or
    the firmware's `edgectl: ...` line naming the error), or None."""
    for i in range(len(lines) - 1, -1, -1):
        ln = lines[i].strip()
        if ln.startswith('Traceback'):
            tail = [x.strip() for x in lines[i + 1:] if x.strip() and not x.startswith(' ')]
            return tail[0] if tail else ln
        if any(k in ln for k in BOARD_ERROR):
            return ln
    return None


class ConsoleWatch:
    """Reads what a board prints on its serial console (in a thread) after the installer
    restarted it into the firmware, so a board that dies at boot says why."""

    def __init__(self, board, keep=300):
        import threading
        self.board = board
        self.lines = []
        self.keep = keep
        self._buf = b''
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()

    def _read(self):
        ser = self.board.t.serial
        while not self._stop.is_set():
            try:
                data = ser.read(ser.in_waiting or 1)
            except Exception:
                return
            if not data:
                continue
            self._buf += data
            while b'\n' in self._buf:
                ln, self._buf = self._buf.split(b'\n', 1)
                self.lines.append(ln.decode('utf-8', 'replace').rstrip('\r'))
                del self.lines[:-self.keep]

    def error(self):
        """The board's last error line, or None while it has printed none."""
        return error_line(list(self.lines) + ([self._buf.decode('utf-8', 'replace')] if self._buf else []))

    def fatal(self):
        """The error line when it says the board cannot come up at all, else None."""
        e = self.error()
        return e if e and any(k in e for k in FATAL) else None

    def close(self):
        self._stop.set()
        self._t.join(2)
        try:
            self.board.t.close()
        except Exception:
            pass


@contextlib.contextmanager
def session(target, baud=115200):
    """An open board: `target` itself when it is a SerialBoard (its holder closes it), else
    a new session on that port, closed afterwards."""
    if isinstance(target, SerialBoard):
        yield target
        return
    b = SerialBoard(target, baud)
    try:
        yield b
    finally:
        b.close()


def restart_watched(target):
    """Start the board's firmware again and watch its console (ConsoleWatch, which closes
    the session). `target`: an open SerialBoard or a port."""
    b = target if isinstance(target, SerialBoard) else SerialBoard(target)
    try:
        b.restart()
    except Exception:
        b.close()
        raise
    return ConsoleWatch(b)
