"""The control room's record of events in memory: duplicates dropped by (device, log, seq),
gaps and out-of-order arrivals reported. (host/store.py keeps the events themselves on disk.)

`log` is the board's event-log id (firmware/outbox.py): it changes only when the board's
log starts afresh (a flash erase, a replacement board under the same name), whose seq
starts again at 1; events of older firmware have none (0). Questions about a device
(gaps, has, highest) are about its current log.

Memory stays bounded however long the monitor runs: per device it keeps a watermark (every
seq up to it has arrived), the seqs seen above it, and the holes given up on. A hole that
has not filled after WINDOW later events is given up (it was reported as a gap when it
opened); an event that still arrives for it later is taken as new, not as a duplicate."""
import threading

WINDOW = 4096        # seqs held above the watermark before the oldest hole is given up
MAX_HOLES = 1024     # given-up holes remembered per device (the oldest are forgotten)


class _Seen:
    __slots__ = ('low', 'top', 'above', 'holes', 'count')

    def __init__(self):
        self.low = 0          # every seq <= low has arrived (or lies in a hole below)
        self.top = 0          # the highest seq seen
        self.above = set()    # seqs seen above low
        self.holes = []       # [first, last] ranges at or below low never seen
        self.count = 0

    def _in_hole(self, seq):
        for i, (a, b) in enumerate(self.holes):
            if a <= seq <= b:
                return i
        return -1

    def seen(self, seq):
        if seq > self.low:
            return seq in self.above
        return not self.holes or self._in_hole(seq) < 0

    def add(self, seq):
        if seq <= self.low:               # a late event for a hole given up on
            i = self._in_hole(seq)
            a, b = self.holes.pop(i)
            self.holes[i:i] = [r for r in ([a, seq - 1], [seq + 1, b]) if r[0] <= r[1]]
        else:
            self.above.add(seq)
            self.top = max(self.top, seq)
            self._advance()
            if len(self.above) > WINDOW:
                first = self.low + 1
                last = min(self.above) - 1
                self.holes.append([first, last])
                del self.holes[:-MAX_HOLES]
                self.low = last
                self._advance()
        self.count += 1

    def _advance(self):
        above = self.above
        low = self.low
        while low + 1 in above:
            low += 1
            above.discard(low)
        self.low = low

    def missing(self, upto):
        out = [tuple(h) for h in self.holes if h[0] <= upto]
        out = [(a, min(b, upto)) for a, b in out]
        start = None
        for s in range(self.low + 1, upto + 1):
            if s not in self.above:
                start = s if start is None else start
            elif start is not None:
                out.append((start, s - 1))
                start = None
        if start is not None:
            out.append((start, upto))
        return sorted(out)


class Journal:
    def __init__(self, keep=True):
        """keep: also hold every event body in `events` (test rigs read them back); the
        control room keeps them on disk instead."""
        self.keep = keep
        self.seen = {}           # (device, log) -> _Seen
        self.current = {}        # device -> its newest log id
        self.events = {}         # device -> {seq: event} of its current log, when keep
        self.duplicates = 0
        self.out_of_order = 0
        self.lock = threading.Lock()

    def admit(self, device, ev):
        """Record an event; returns (verdict, gap): verdict 'new', 'dup', 'bad' (no usable
        seq) or 'new-log' (new, and the first of a log other than the device's current
        one: its board was wiped or replaced); gap (first, last) when this event jumps past
        seqs not yet seen, else None."""
        seq = ev.get('seq') if isinstance(ev, dict) else None
        if type(seq) is not int or seq < 1:
            return 'bad', None
        log = ev.get('log', 0)
        if type(log) is not int:
            return 'bad', None
        with self.lock:
            s = self.seen.get((device, log))
            fresh_log = s is None and device in self.current and self.current[device] != log
            if s is None:
                s = self.seen[(device, log)] = _Seen()
            if s.seen(seq):
                self.duplicates += 1
                return 'dup', None
            gap = (s.top + 1, seq - 1) if s.top and seq > s.top + 1 else None
            if seq < s.top:
                self.out_of_order += 1
            s.add(seq)
            if fresh_log or device not in self.current:
                self.current[device] = log
                if fresh_log and self.keep:
                    self.events[device] = {}
            if self.keep and self.current[device] == log:
                self.events.setdefault(device, {})[seq] = ev
            return 'new-log' if fresh_log else 'new', gap

    def add(self, device, ev):
        """Record an event; returns 'new' (also for the first of a new log), 'dup' or 'bad'."""
        verdict = self.admit(device, ev)[0]
        return 'new' if verdict == 'new-log' else verdict

    def _now(self, device):
        return self.seen.get((device, self.current.get(device, 0)))

    def gaps(self, device, upto=None):
        """Missing seqs of a device as (first, last) ranges, up to `upto` (default: highest seen)."""
        with self.lock:
            s = self._now(device)
            if s is None:
                return [(1, upto)] if upto else []
            return s.missing(s.top if upto is None else upto)

    def count(self, device=None):
        with self.lock:
            return sum(s.count for k, s in self.seen.items() if device is None or k[0] == device)

    def has(self, device, seq):
        with self.lock:
            s = self._now(device)
            return bool(s) and s.seen(seq)

    def highest(self, device):
        with self.lock:
            s = self._now(device)
            return s.top if s else 0
