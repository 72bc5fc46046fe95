# Debounce a digital input: a change counts once it has been stable for `ms`.
from clock import ticks_diff


class Debounce:
    def __init__(self, ms, value=0):
        self.ms = ms
        self.value = value      # the debounced value
        self._cand = value      # the latest raw value
        self._since = 0         # ticks when the raw value last changed

    def feed(self, raw, now):
        """Record a raw sample; returns the new stable value if it changed now, else None."""
        if raw != self._cand:
            self._cand = raw
            self._since = now
        return self.poll(now)

    def poll(self, now):
        if self._cand != self.value and ticks_diff(now, self._since) >= self.ms:
            self.value = self._cand
            return self.value
        return None

    def pending(self):
        return self._cand != self.value
