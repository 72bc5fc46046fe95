"""Single keys from the terminal for the control room's views."""
import os
import sys
import time


class Keyboard:
    """Single keys from a terminal (cbreak mode, restored on exit); a plain sleep otherwise."""

    def __init__(self, on):
        self.on = on
        self.saved = None

    def __enter__(self):
        if self.on:
            import termios
            import tty
            self.saved = termios.tcgetattr(sys.stdin.fileno())
            tty.setcbreak(sys.stdin.fileno())
        return self.read

    def read(self, timeout):
        if not self.on:
            time.sleep(timeout)
            return None
        import select
        r, _, _ = select.select([sys.stdin], [], [], timeout)
        if not r:
            return None
        ch = os.read(sys.stdin.fileno(), 1).decode('utf-8', 'replace')
        if ch == '\x1b':                  # an arrow key: ESC [ A/B
            r, _, _ = select.select([sys.stdin], [], [], 0.05)
            if r:
                ch += os.read(sys.stdin.fileno(), 2).decode('utf-8', 'replace')
        return ch

    def __exit__(self, *exc):
        if self.saved is not None:
            import termios
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.saved)
