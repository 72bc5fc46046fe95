# The persistent outbox: every event is appended to a log on the board's flash before its
# first send and leaves only when the broker has acknowledged it (PUBACK). RAM use does
# not grow with the number of events waiting: only counters and the head's file offset.
#
# Log records (append-only; a power cut can tear only the last one, which the next boot
# finds by its checksum and cuts off):
#   0xA5 | kind (1) | length (2, LE) | crc32 of kind+length+body (4, LE) | body
#   E  event:      seq (4) | sev (1) | ctrl length (1) | ctrl | JSON
#   D  delivered:  seq (4)        every event up to seq has been acknowledged
#   S  snapshot:   seq (4) | dropped (4) | reported (4) | log (4)   first record of a log
#                  (log: this log's id, picked at random when the log is started afresh,
#                  e.g. after a flash erase; every event carries it, so the control room
#                  tells a wiped board's new seq 1 from the old one. Older 12-byte
#                  snapshots have none: such a log gets one, keeping its seq.)
#   R  reported:   reported (4)   drops announced to the control room so far
# When full (outbox_max), the log is rewritten without the oldest tenth of the lowest
# severity present: info events give way before warnings, warnings before alarms.
import os
import struct
from clock import wall_ms

try:
    from binascii import crc32
except ImportError:  # ports built without it
    def crc32(data, crc=0):
        crc ^= 0xFFFFFFFF
        for b in data:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ (0xEDB88320 & -(crc & 1))
        return crc ^ 0xFFFFFFFF

import json

MAGIC = 0xA5
HDR = 8
E = 0x45
D = 0x44
S = 0x53
R = 0x52
SEV_CODES = {'info': 0, 'warn': 1, 'alarm': 2}
COMPACT_BYTES = 65536
MAX_RECORD = 1024          # an event is a few hundred bytes; a longer length is damage


def _records(f, start=0):
    """(offset, kind, body) of each good record from `start`. Anything that is not a good
    record (a torn tail, damage, a false start found while resyncing) is skipped byte by
    byte to the next good one. The last item is (end of the last good record, None,
    number of damaged spots)."""
    i = start
    good_end = start
    bad = 0
    while True:
        f.seek(i)
        hdr = f.read(HDR)
        if len(hdr) < HDR:
            if hdr:
                bad += 1                              # a torn tail
            yield good_end, None, bad
            return
        ln = hdr[2] | (hdr[3] << 8)
        ok = hdr[0] == MAGIC and ln <= MAX_RECORD       # never read a damaged length's worth
        body = f.read(ln) if ok else b''
        if not ok or len(body) < ln or \
                crc32(body, crc32(hdr[1:4])) & 0xFFFFFFFF != struct.unpack_from('<I', hdr, 4)[0]:
            bad += 1
            i = _resync(f, i + 1)
            if i < 0:
                yield good_end, None, bad
                return
            continue
        yield i, hdr[1], body
        i += HDR + ln
        good_end = i


def _resync(f, i):
    while True:
        f.seek(i)
        chunk = f.read(64)
        if not chunk:
            return -1
        k = chunk.find(bytes((MAGIC,)))
        if k >= 0:
            return i + k
        i += len(chunk)


def _damaged_tail(f, end):
    """True when what follows the last good record is not a record cut short by a power
    cut: a whole record that fails its check, or more than a record's worth of bytes."""
    f.seek(0, 2)
    size = f.tell()
    if size <= end:
        return False
    f.seek(end)
    hdr = f.read(HDR)
    if len(hdr) < HDR or hdr[0] != MAGIC:
        return len(hdr) == HDR       # a torn header is short; eight bytes of garbage are damage
    return end + HDR + (hdr[2] | (hdr[3] << 8)) <= size


def _write(f, kind, body):
    """Write one record; returns its size."""
    hdr = bytearray(HDR)
    hdr[0] = MAGIC
    hdr[1] = kind
    hdr[2] = len(body) & 0xFF
    hdr[3] = len(body) >> 8
    struct.pack_into('<I', hdr, 4, crc32(body, crc32(hdr[1:4])) & 0xFFFFFFFF)
    f.write(hdr)
    f.write(body)
    return HDR + len(body)


def _new_log_id():
    try:
        b = os.urandom(4)
    except (AttributeError, OSError):       # a port without it
        import random
        b = struct.pack('<I', random.getrandbits(32))
    return (struct.unpack('<I', b)[0] & 0x7FFFFFFF) or 1


def _u32(body, at=0):
    return struct.unpack_from('<I', body, at)[0]


class Outbox:
    def __init__(self, path='outbox.log', max_len=200):
        self.path = path
        self.max_len = max_len
        self.seq = 0
        self.done = 0          # every event up to this seq is delivered
        self.dropped = 0       # events given up since the board was new
        self.reported = 0      # of those, how many the control room has been told about
        self.corrupt = 0       # spots the last scan skipped (damage or a torn tail)
        self.damaged = 0       # of those, damage (a torn last record is a power cut, not damage)
        self.pending = 0
        self.counts = [0, 0, 0]  # pending by severity code
        self.head = -1         # file offset of the oldest pending event record
        self.size = 0
        self.log = 0           # this log's id (see S above)
        self._f = None
        self._resend = None    # (first, last) seq whose delivery the damage may have erased
        self._scan()
        fresh = not self.log
        if fresh:
            self.log = _new_log_id()
        if self.corrupt or self.size > COMPACT_BYTES or fresh:
            self.compact()     # also cuts a torn tail, so new appends follow good records
        if self.damaged:       # never silent: the control room hears of it, and of what comes twice
            f = {'file': self.path, 'spots': self.damaged}
            if self._resend:
                f['resent'] = list(self._resend)
            self.add('system', 'system.log_damaged', 'warn', f)

    # --- the log ---------------------------------------------------------------------------
    def _scan(self):
        try:
            f = open(self.path, 'rb')
        except OSError:
            return
        with f:
            end = 0
            gap = -1           # where the scan last skipped damage
            last_d = -1        # offset of the last good delivery mark
            seq_at_gap = 0     # highest event seq before that damage
            for off, kind, body in _records(f):      # pass 1: counters and delivery mark
                if kind is None:
                    end = off
                    self.corrupt = body
                    break
                if off > end:                        # skipped damage between records
                    gap = off
                    seq_at_gap = self.seq
                    self.damaged += 1
                end = off + HDR + len(body)
                if kind == E:
                    self.seq = max(self.seq, _u32(body))
                elif kind == D:
                    self.done = max(self.done, _u32(body))
                    last_d = off
                elif kind == S:
                    # a rewritten log holds only pending events: no delivery mark needed
                    s, self.dropped, self.reported = struct.unpack_from('<III', body, 0)
                    self.seq = max(self.seq, s)
                    if len(body) >= 16:
                        self.log = _u32(body, 12)
                elif kind == R:
                    self.reported = _u32(body)
            if _damaged_tail(f, end):
                gap, seq_at_gap = end, self.seq
                self.damaged += 1
            if self.damaged and gap > last_d and seq_at_gap > self.done:
                # a delivery mark lost in the damage cannot be told from none: the events
                # before the damage and after the last good mark may have been delivered
                self._resend = (self.done + 1, seq_at_gap)
            for off, kind, body in _records(f):      # pass 2: what is still pending
                if kind is None:
                    break
                if kind == E and _u32(body) > self.done:
                    self._count(body[4], 1)
                    if self.head < 0:
                        self.head = off
        self.size = end

    def _count(self, sev, d):
        self.pending += d
        self.counts[sev if sev < 3 else 0] += d

    def _append(self, kind, body):
        if self._f is None:
            self._f = open(self.path, 'ab')
        off = self.size
        self.size += _write(self._f, kind, body)
        self._f.flush()
        return off

    def compact(self, drop=None):
        """Rewrite the log with only the pending events (tmp file, then an atomic rename),
        leaving out the oldest drop[sev] events of each severity."""
        self.close()
        plan = list(drop) if drop else [0, 0, 0]
        gone = plan[0] + plan[1] + plan[2]
        tmp = self.path + '.tmp'
        try:
            os.remove(tmp)
        except OSError:
            pass
        try:
            src = open(self.path, 'rb')
        except OSError:
            src = None
        dst = open(tmp, 'wb')
        size = _write(dst, S, struct.pack('<IIII', self.seq, self.dropped + gone, self.reported, self.log))
        head = -1
        pending = 0
        counts = [0, 0, 0]
        if src is not None and self.head >= 0:
            for off, kind, body in _records(src, self.head):
                if kind is None:
                    break
                if kind != E or _u32(body) <= self.done:
                    continue
                sev = body[4] if body[4] < 3 else 0
                if plan[sev]:
                    plan[sev] -= 1
                    continue
                head = size if head < 0 else head
                size += _write(dst, E, body)
                pending += 1
                counts[sev] += 1
        if src is not None:
            src.close()
        dst.close()
        os.rename(tmp, self.path)
        self.size = size
        self.head = head
        self.pending = pending
        self.counts = counts
        self.dropped += gone

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None

    # --- the event path --------------------------------------------------------------------
    def add(self, ctrl, etype, sev, fields=None):
        """Number, stamp and persist an event; returns it as a dict."""
        if self.pending >= self.max_len:
            self._make_room()
        self.seq += 1
        ev = {'seq': self.seq, 'log': self.log, 'ts': wall_ms(), 'type': etype, 'sev': sev, 'ctrl': ctrl}
        if fields:
            for k in fields:
                ev[k] = fields[k]
        c = ctrl.encode()[:64]
        code = SEV_CODES.get(sev, 0)
        body = struct.pack('<IBB', self.seq, code, len(c)) + c + json.dumps(ev).encode()
        if len(body) > MAX_RECORD:     # keep the event, lose its extra fields
            ev = {'seq': ev['seq'], 'log': self.log, 'ts': ev['ts'], 'type': etype, 'sev': sev, 'ctrl': ctrl[:64],
                  'truncated': True}
            if fields and 'active' in fields:
                ev['active'] = fields['active']
            body = struct.pack('<IBB', self.seq, code, len(c)) + c + json.dumps(ev).encode()
        off = self._append(E, body)
        if self.head < 0:
            self.head = off
        self._count(code, 1)
        return ev

    def _make_room(self):
        """Give up up to a tenth of the outbox, oldest first, all from the lowest severity
        present: an alarm goes only when nothing but alarms is waiting."""
        plan = [0, 0, 0]
        for sev in (0, 1, 2):
            if self.counts[sev]:
                plan[sev] = min(self.counts[sev], max(1, self.max_len // 10))
                break
        self.compact(plan)

    def _read(self, off):
        with open(self.path, 'rb') as f:
            for o, kind, body in _records(f, off):
                if kind is None:
                    return None, None
                if kind == E and _u32(body) > self.done:
                    return o, body
        return None, None

    def peek(self):
        """The oldest pending event as (seq, ctrl, json bytes), or None."""
        if self.head < 0:
            return None
        off, body = self._read(self.head)
        if body is None:
            return None
        self.head = off
        cl = body[5]
        return _u32(body), body[6:6 + cl].decode(), body[6 + cl:]

    def delivered(self, seq):
        """The broker acknowledged event seq (and, delivery being in order, all before it)."""
        if seq <= self.done:
            return
        self._append(D, struct.pack('<I', seq))
        with open(self.path, 'rb') as f:
            head = -1
            for off, kind, body in _records(f, self.head if self.head >= 0 else 0):
                if kind is None:
                    break
                if kind != E:
                    continue
                s = _u32(body)
                if s <= seq:
                    if s > self.done:
                        self._count(body[4], -1)
                elif head < 0:
                    head = off
                    break
        self.done = seq
        self.head = head
        if (not self.pending and self.size > 4096) or self.size > COMPACT_BYTES:
            self.compact()

    def items(self):
        """Every pending event as (seq, sev code, json bytes), oldest first."""
        out = []
        if self.head < 0:
            return out
        with open(self.path, 'rb') as f:
            for off, kind, body in _records(f, self.head):
                if kind is None:
                    break
                if kind == E and _u32(body) > self.done:
                    out.append((_u32(body), body[4], body[6 + body[5]:]))
        return out

    def unreported(self):
        return self.dropped - self.reported

    def report_drops(self):
        """Add system.events_dropped for the drops not yet announced; returns it, or None.
        Room is made first, so adding the report gives up nothing it does not count."""
        if self.dropped == self.reported:
            return None
        if self.pending >= self.max_len:
            self._make_room()
        n = self.dropped - self.reported
        ev = self.add('system', 'system.events_dropped', 'warn', {'count': n, 'total': self.dropped})
        self.reported += n
        self._append(R, struct.pack('<I', self.reported))
        return ev

    def mark_reported(self):
        self.reported = self.dropped
        self._append(R, struct.pack('<I', self.reported))

    def __len__(self):
        return self.pending
