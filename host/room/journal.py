"""The control room's record of events in memory: duplicates dropped by (device, log, seq),
gaps and out-of-order arrivals reported. (host/store.py keeps the events themselves on disk.)

`log` is the board's event-log id (firmware/outbox.py): it changes only when the board's
log starts afresh (a flash erase, a replacement board under the same name), whose seq
starts again at 1; events of older firmware have none (0). Questions about a device
(gaps, has, highest) are about its current log.

Memory stays bounded however long the monitor runs: per device it keeps a watermark (every
seq up to it has arrived), the seqs seen above it, and the holes given up on. A hole that
has not filled after WINDOW later events is given up (it was reported as a gap when it
opened); an event that still arrives for it later is taken as new, not as a duplicate.

Events may arrive out of order (several publishers, a board resending its outbox after a
reconnect): a jump past unseen seqs opens a gap that is only *reported* (`overdue()`)
once it is still open REORDER_S later, and then only the seqs that have not arrived."""
import collections
import threading
import time

REORDER_S = 5.0      # a gap is reported once it is still open this long after it opened
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

    def missing(self, first, last):
        """Seqs first..last not seen, as sorted (first, last) ranges. Walks the seqs held
        above the watermark, never the range itself (a seq may jump to 2**62)."""
        out = []
        for a, b in self.holes:
            a, b = max(a, first), min(b, last)
            if a <= b:
                out.append((a, b))
        start = max(first, self.low + 1)
        if start <= last:
            for s in sorted(v for v in self.above if start <= v <= last):
                if s > start:
                    out.append((start, s - 1))
                start = s + 1
            if start <= last:
                out.append((start, last))
        return sorted(out)


class Journal:
    def __init__(self, keep=True, reorder_s=REORDER_S):
        """keep: also hold every event body in `events` (test rigs read them back); the
        control room keeps them on disk instead. reorder_s: how long a gap may stay open
        before `overdue()` reports it."""
        self.keep = keep
        self.reorder_s = reorder_s
        self.pending = collections.deque()    # (due, device, log, first, last), oldest first
        self.seen = {}           # (device, log) -> _Seen
        self.current = {}        # device -> its newest log id
        self.events = {}         # device -> {seq: event} of its current log, when keep
        self.duplicates = 0
        self.out_of_order = 0
        self.lock = threading.Lock()

    def admit(self, device, ev, now=None):
        """Record an event; returns (verdict, gap): verdict 'new', 'dup', 'bad' (no usable
        seq) or 'new-log' (new, and the first of a log other than the device's current
        one: its board was wiped or replaced); gap (first, last) when this event jumps past
        seqs not yet seen, else None (the gap is only opened: see overdue())."""
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
            if gap:
                self.pending.append(((now or time.time()) + self.reorder_s, device, log) + gap)
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

    def overdue(self, now=None):
        """Gaps still open REORDER_S after they opened, as (device, log, first, last): only
        the seqs of each that have not arrived meanwhile; each gap is reported once."""
        now = now or time.time()
        out = []
        with self.lock:
            while self.pending and self.pending[0][0] <= now:
                _, device, log, first, last = self.pending.popleft()
                out += [(device, log, a, b) for a, b in self.seen[(device, log)].missing(first, last)]
        return out

    def _now(self, device):
        return self.seen.get((device, self.current.get(device, 0)))

    def gaps(self, device, upto=None):
        """Missing seqs of a device as (first, last) ranges, up to `upto` (default: highest seen)."""
        with self.lock:
            s = self._now(device)
            if s is None:
                return [(1, upto)] if upto else []
            return s.missing(1, s.top if upto is None else upto)

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
