# End-of-line (EOL) resistor line supervision, shared by every controller with a
# supervised input (door contact now, intercom line next). The input is read as a
# percentage of full scale; the resistor network puts each line condition in its own band:
#   short < short_pct <= idle band <= mid_pct < active band < open_pct <= open
# A band must hold for debounce_ms before it counts (a Debounce over the band), so a
# bouncing switch or a noisy reading does not flap between normal and fault.
from compat import const
from debounce import Debounce

IDLE = const(0)
ACTIVE = const(1)
OPEN = const(2)
SHORT = const(3)
NAMES = ('idle', 'active', 'open', 'short')


class LineSupervisor(Debounce):
    """Debounces the band of each reading: `value` is the line's stable condition."""

    def __init__(self, debounce_ms=50, short_pct=10, mid_pct=50, open_pct=90):
        Debounce.__init__(self, debounce_ms, IDLE)
        self.short_pct = short_pct
        self.mid_pct = mid_pct
        self.open_pct = open_pct

    def band(self, pct):
        if pct < self.short_pct:
            return SHORT
        if pct >= self.open_pct:
            return OPEN
        return IDLE if pct < self.mid_pct else ACTIVE

    def feed(self, pct, now):
        """A reading; returns the new stable condition when it changed now, else None."""
        return Debounce.feed(self, self.band(pct), now)

    def faulted(self):
        return self.value in (OPEN, SHORT)
