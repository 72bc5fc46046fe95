# Boot bookkeeping: the boot counter, why the board last reset, and crash-loop detection
# (boots in a row that die young put the board in safe mode).
import json
import os

FILE = 'boot.json'
RESET_FILE = 'reset.dat'


class BootLog:
    def __init__(self, path=FILE):
        self.path = path
        self.boots = 0
        self.short = 0          # boots in a row that have not (yet) run healthy
        self.safe_alarm = False  # a system.safe_mode alarm is raised and not yet cleared
        try:
            with open(path) as f:
                d = json.load(f)
            self.boots = d.get('boots', 0)
            self.short = d.get('short', 0)
            self.safe_alarm = d.get('safe_alarm', False)
        except (OSError, ValueError):
            pass

    def save(self):
        tmp = self.path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump({'boots': self.boots, 'short': self.short, 'safe_alarm': self.safe_alarm}, f)
        os.rename(tmp, self.path)

    def begin(self, safe_after):
        """Count this boot; True when the last `safe_after` boots all died young."""
        self.boots += 1
        died_young = self.short
        self.short += 1
        self.save()
        return safe_after > 0 and died_young >= safe_after

    def healthy(self):
        if self.short:
            self.short = 0
            self.save()


def note_reset(cause):
    """Say why the coming reset happens (read back by the next boot)."""
    try:
        with open(RESET_FILE, 'w') as f:
            f.write(cause)
    except OSError:
        pass


def take_reset(default):
    try:
        with open(RESET_FILE) as f:
            cause = f.read().strip()
        os.remove(RESET_FILE)
        return cause or default
    except OSError:
        return default


def note_crash(e, where='boot'):
    """The firmware stopped on exception e. A MemoryError is also written down (memory.dat:
    where, heap free, the error), so the next boot that gets far enough raises
    system.memory (a board that cannot say it ran out of heap only looks offline)."""
    note_reset('crash')
    import sys
    try:        # the traceback, for the next boot's system.crash (bringup.take_crash)
        with open('crash.txt', 'w') as f:
            f.write(where + '\n')
            if hasattr(sys, 'print_exception'):
                sys.print_exception(e, f)
            else:                           # CPython (the host's tests)
                import traceback
                traceback.print_exception(type(e), e, e.__traceback__, file=f)
    except Exception:
        pass
    if not isinstance(e, MemoryError):
        return
    import gc
    gc.collect()
    try:
        with open('memory.dat', 'w') as f:
            f.write('%s\n%d\n%s' % (where, gc.mem_free() if hasattr(gc, 'mem_free') else -1, str(e)[:120]))
    except OSError:
        pass


def take_memory():
    """{'where', 'free', 'err'} of a MemoryError noted before this boot (once), or None."""
    try:
        with open('memory.dat') as f:
            where, free, err = (f.read().split('\n', 2) + ['', '', ''])[:3]
        os.remove('memory.dat')
    except OSError:
        return None
    try:
        free = int(free)
    except ValueError:
        free = None
    return {'where': where, 'free': free, 'err': err}
