"""The control room's record of events in memory: duplicates dropped by (device, seq), gaps
and out-of-order arrivals reported. (host/store.py keeps them on disk.)"""
import threading


class Journal:
    def __init__(self):
        self.events = {}         # device -> {seq: event}
        self.order = {}          # device -> seqs in first-arrival order
        self.duplicates = 0
        self.out_of_order = 0
        self.lock = threading.Lock()

    def add(self, device, ev):
        """Record an event; returns 'new', 'dup' or 'bad' (no usable seq)."""
        seq = ev.get('seq') if isinstance(ev, dict) else None
        if not isinstance(seq, int):
            return 'bad'
        with self.lock:
            seen = self.events.setdefault(device, {})
            if seq in seen:
                self.duplicates += 1
                return 'dup'
            order = self.order.setdefault(device, [])
            if order and seq < order[-1]:
                self.out_of_order += 1
            seen[seq] = ev
            order.append(seq)
            return 'new'

    def gaps(self, device, upto=None):
        """Missing seqs of a device as (first, last) ranges, up to `upto` (default: highest seen)."""
        with self.lock:
            seen = self.events.get(device, {})
            top = upto if upto is not None else (max(seen) if seen else 0)
            out = []
            start = None
            for s in range(1, top + 1):
                if s not in seen:
                    start = s if start is None else start
                elif start is not None:
                    out.append((start, s - 1))
                    start = None
            if start is not None:
                out.append((start, top))
            return out

    def count(self, device=None):
        with self.lock:
            if device is not None:
                return len(self.events.get(device, {}))
            return sum(len(v) for v in self.events.values())

    def has(self, device, seq):
        with self.lock:
            return seq in self.events.get(device, {})

    def highest(self, device):
        with self.lock:
            seen = self.events.get(device, {})
            return max(seen) if seen else 0
