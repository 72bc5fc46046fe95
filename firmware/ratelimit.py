# A fixed-window rate limit that counts what it refuses.
from clock import ticks_diff


class RateLimit:
    """At most `n` per `window_ms`; take() returns -1 when over, else how many were
    refused since the last one let through."""

    def __init__(self, n, window_ms):
        self.n = n
        self.window = window_ms
        self.start = 0
        self.used = 0
        self.refused = 0

    def take(self, now):
        if ticks_diff(now, self.start) >= self.window:
            self.start = now
            self.used = 0
        if self.used >= self.n:
            self.refused += 1
            return -1
        self.used += 1
        r = self.refused
        self.refused = 0
        return r
