# The outbox's boot-time scan of its segments (outbox.Outbox), loaded for it and then dropped
# from the heap (config.once). The record format is outbox.py's.
import os
import struct
from compat import const
from outbox import _records, _u32

# outbox.py's record constants (compile-time there: not importable)
_MAGIC = const(0xA5)
_HDR = const(8)
_E = const(0x45)
_D = const(0x44)
_S = const(0x53)
_R = const(0x52)


def scan(self):
    """Counters, pending events and the head from every segment; damage (and a torn
    tail) is cut out of its segment, so it is said once."""
    i = self.path.rfind('/')
    base = self.path[i + 1:] + '.'
    lo = hi = 0
    folder = self.path[:i] if i > 0 else '.'
    for name in os.listdir(folder):
        if name.startswith(base) and name.endswith('.tmp'):     # a rewrite a power cut ended
            os.remove(folder + '/' + name)
        elif name.startswith(base) and name[len(base):].isdigit():
            n = int(name[len(base):])
            lo = n if not lo or n < lo else lo
            hi = n if n > hi else hi
    self.first, self.last = lo or 1, hi
    bad = []
    gap = (-1, -1)         # where the scan last skipped damage
    last_d = (-1, -1)      # where the last good delivery mark is
    seq_at_gap = 0         # highest event seq before that damage
    for n in range(self.first, self.last + 1):
        try:
            f = open(self.seg(n), 'rb')
        except OSError:
            continue
        with f:
            f.seek(0, 2)
            self.bytes += f.tell()
            end = 0
            for off, kind, body in _records(f):
                if kind is None:
                    end = off
                    self.corrupt += body
                    break
                if off > end:                    # skipped damage between records
                    gap = (n, off)
                    seq_at_gap = self.seq
                    self.damaged += 1
                    if n not in bad:
                        bad.append(n)
                end = off + _HDR + len(body)
                if kind == _E:
                    self.seq = max(self.seq, _u32(body))
                elif kind == _D:
                    self.done = max(self.done, _u32(body))
                    last_d = (n, off)
                elif kind == _S:
                    s, d, r = struct.unpack_from('<III', body, 0)
                    self.seq = max(self.seq, s)
                    self.dropped = max(self.dropped, d)
                    self.reported = max(self.reported, r)
                    if len(body) >= 16:
                        self.log = _u32(body, 12)
                    if len(body) >= 20:
                        self.done = max(self.done, _u32(body, 16))
                elif kind == _R:
                    self.reported = max(self.reported, _u32(body))
            f.seek(0, 2)
            size = f.tell()
            if size > end:
                # what follows the last good record: cut short by a power cut (torn),
                # or damage (a whole record failing its check, or a record's worth of garbage)
                f.seek(end)
                hdr = f.read(_HDR)
                if len(hdr) == _HDR and (hdr[0] != _MAGIC or end + _HDR + (hdr[2] | (hdr[3] << 8)) <= size):
                    gap = (n, end)
                    seq_at_gap = self.seq
                    self.damaged += 1
                if n not in bad:                 # either way it is cut off
                    bad.append(n)
    if self.damaged and gap > last_d and seq_at_gap > self.done:
        # a delivery mark lost in the damage cannot be told from none: the events
        # before the damage and after the last good mark may have been delivered
        self._resend = (self.done + 1, seq_at_gap)
    if not self.log:       # a fresh log: an id picked at random
        try:
            b = os.urandom(4)
        except (AttributeError, OSError):       # a port without it
            import random
            b = struct.pack('<I', random.getrandbits(32))
        self.log = (_u32(b) & 0x7FFFFFFF) or 1
    for n in bad:
        self._rewrite(n)
    for n, off, kind, body in self._each():
        if kind == _E and _u32(body) > self.done:
            self._pend(body[4], n)
            if self.head < 0:
                self.hseg, self.head = n, off

