# End-of-line (EOL) resistor line supervision, shared by every controller with a
# supervised input (door contact now, intercom line next). The input is read as a
# percentage of full scale; the resistor network puts each line condition in its own band:
#   short < short_pct <= idle band <= mid_pct < active band < open_pct <= open
# A band must hold for debounce_ms before it counts, so a bouncing switch or a noisy
# reading does not flap between normal and fault.
from clock import ticks_diff
from compat import const

IDLE = const(0)
ACTIVE = const(1)
OPEN = const(2)
SHORT = const(3)
NAMES = ('idle', 'active', 'open', 'short')


class LineSupervisor:
    def __init__(self, debounce_ms=50, short_pct=10, mid_pct=50, open_pct=90):
        self.ms = debounce_ms
        self.short_pct = short_pct
        self.mid_pct = mid_pct
        self.open_pct = open_pct
        self.state = IDLE
        self._cand = IDLE
        self._since = 0

    def band(self, pct):
        if pct < self.short_pct:
            return SHORT
        if pct >= self.open_pct:
            return OPEN
        return IDLE if pct < self.mid_pct else ACTIVE

    def feed(self, pct, now):
        """A reading; returns the new stable condition when it changed now, else None."""
        b = self.band(pct)
        if b != self._cand:
            self._cand = b
            self._since = now
        return self.poll(now)

    def poll(self, now):
        if self._cand != self.state and ticks_diff(now, self._since) >= self.ms:
            self.state = self._cand
            return self.state
        return None

    def faulted(self):
        return self.state in (OPEN, SHORT)
