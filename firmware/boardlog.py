# The board's log lines for the control room (topic .../<device>/log, `edgectl logs`): kept
# only at or below the level (log_level, or the system `log` command until the next boot),
# at most 10 lines per 10 s, 8 waiting (the oldest go first), none when the heap is short.
# Nothing here waits: the link sends a waiting line when it has nothing more urgent, at
# QoS 0. Lines lost are counted and said with the next line sent.
import gc
import json
from clock import ticks_ms, wall_ms
from ratelimit import RateLimit
from compat import const

_QUEUE = const(8)
_TEXT = const(200)


class BoardLog:
    def __init__(self, level):
        self.level = level
        self.q = []
        self.rate = RateLimit(10, 10000)
        self.min_free = 16384   # below this much free heap, log lines are the first thing dropped
        self.dropped = 0        # lines lost (rate, queue, heap) since the last one sent

    def add(self, lvl, text):
        """Queue a line (1 error .. 4 debug); False when it is not kept."""
        if lvl > self.level:
            return False
        try:
            if self.rate.take(ticks_ms()) < 0 or (hasattr(gc, 'mem_free') and gc.mem_free() < self.min_free):
                self.dropped += 1
                return False
            if len(self.q) >= _QUEUE:
                self.q.pop(0)
                self.dropped += 1
            self.q.append((lvl, wall_ms(), text if len(text) <= _TEXT else text[:_TEXT]))
            return True
        except MemoryError:
            self.dropped += 1
            return False

    def take(self):
        """The oldest waiting line as JSON ({"lvl", "ts", "msg"[, "dropped"]}), or None."""
        if not self.q:
            return None
        lvl, ts, text = self.q.pop(0)
        d = {'lvl': lvl, 'ts': ts, 'msg': text}
        if self.dropped:
            d['dropped'] = self.dropped
            self.dropped = 0
        return json.dumps(d)
