# The persistent outbox: every event is appended to a log on the board's flash before its
# first send and leaves only when the broker has acknowledged it (PUBACK). RAM use does
# not grow with the number of events waiting: only counters and the head's position.
#
# The log is a run of segment files <path>.<n> (n counting up), each up to 16 KB and
# starting with a snapshot of the counters: appends go to the newest; a segment whose
# events are all delivered is deleted (no rewrite on the delivery path, however long the
# log); each boot starts a new segment, so appends never follow a torn record.
#
# Records (append-only; a power cut can tear only the last one, which the next boot
# finds by its checksum):
#   0xA5 | kind (1) | length (2, LE) | crc32 of kind+length+body (4, LE) | body
#   E  event:      seq (4) | sev (1) | ctrl length (1) | ctrl | JSON
#   D  delivered:  seq (4)        every event up to seq has been acknowledged
#   S  snapshot:   seq (4) | dropped (4) | reported (4) | log (4) | done (4)   first
#                  record of a new segment, last of a rewritten one (every counter only
#                  grows: the largest wins)
#                  (log: this log's id, picked at random when the log is started afresh,
#                  e.g. after a flash erase; every event carries it, so the control room
#                  tells a wiped board's new seq 1 from the old one. Older 12-byte
#                  snapshots have none: such a log gets one, keeping its seq.)
#   R  reported:   reported (4)   drops announced to the control room so far
# When full (max_len events), the oldest segment holding the lowest severity present is
# rewritten without its oldest events of that severity (up to a tenth of max_len): info
# events give way before warnings, warnings before alarms; one segment's rewrite at a time
# bounds the pause. max_len 0: as many events as a share of the filesystem holds.
# With `steps` set (the runtime's control loop calls step() every pass), that rewrite runs
# `steps` records a pass instead of all at once, so the loop never waits for a whole
# segment (tens of ms on the unix port, far more on a board's flash): up to _SLACK events
# (1 % of max_len at most: none below 100) more than max_len may wait meanwhile; past
# that, or the flash budget, it ends at once.
# While it runs, no event of its segment is handed out (peek), and the event that may be
# in flight (the head, when it is in that segment) is never one it drops.
import os
import struct
from compat import const
from clock import wall_ms
from config import once

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

# _names: compile-time constants (no global, no qstr: every name is heap on the board)
_MAGIC = const(0xA5)
_HDR = const(8)
_E = const(0x45)
_D = const(0x44)
_S = const(0x53)
_R = const(0x52)
_SEG_BYTES = const(16384)  # a segment rolls over past this
_MAX_RECORD = const(1024)  # an event is a few hundred bytes; a longer length is damage
_EVENT_BYTES = const(150)  # flash a typical event takes (header, seq, ctrl, JSON), for sizing
_SLACK = const(64)         # events past max_len while a stepped rewrite runs (1 % of it at most)


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
        hdr = f.read(_HDR)
        if len(hdr) < _HDR:
            if hdr:
                bad += 1                              # a torn tail
            yield good_end, None, bad
            return
        ln = hdr[2] | (hdr[3] << 8)
        ok = hdr[0] == _MAGIC and ln <= _MAX_RECORD       # never read a damaged length's worth
        body = f.read(ln) if ok else b''
        if not ok or len(body) < ln or \
                crc32(body, crc32(hdr[1:4])) & 0xFFFFFFFF != struct.unpack_from('<I', hdr, 4)[0]:
            bad += 1
            i += 1
            while True:          # resync: on to the next 0xA5
                f.seek(i)
                chunk = f.read(64)
                if not chunk:
                    yield good_end, None, bad
                    return
                k = chunk.find(b'\xa5')
                if k >= 0:
                    i += k
                    break
                i += len(chunk)
            continue
        yield i, hdr[1], body
        i += _HDR + ln
        good_end = i


def _write(f, kind, body):
    """Write one record; returns its size."""
    hdr = bytearray(_HDR)
    hdr[0] = _MAGIC
    hdr[1] = kind
    hdr[2] = len(body) & 0xFF
    hdr[3] = len(body) >> 8
    struct.pack_into('<I', hdr, 4, crc32(body, crc32(hdr[1:4])) & 0xFFFFFFFF)
    f.write(hdr)
    f.write(body)
    return _HDR + len(body)


def _u32(body, at=0):
    return struct.unpack_from('<I', body, at)[0]


def budget(path, fs=0):
    """Bytes of flash the outbox may fill: 3/4 of the filesystem holding path (fs bytes;
    EDGE_FS_KB on the simulator: the board profile's filesystem, not the host disk)."""
    if not fs:
        kb = os.getenv('EDGE_FS_KB') if hasattr(os, 'getenv') else None
        if kb:
            fs = int(kb) * 1024
        else:
            i = path.rfind('/')
            st = os.statvfs(path[:i] if i > 0 else '.')
            fs = st[1] * st[2]
    return fs * 3 // 4


class Outbox:
    def __init__(self, path='outbox.log', max_len=200, max_bytes=None):
        self.path = path
        self.max_bytes = max_bytes or budget(path)
        # max_len 0: as many as the byte budget holds at a typical event's size (the budget
        # itself holds whatever their size)
        self.max_len = max_len or self.max_bytes // _EVENT_BYTES
        self.bytes = 0         # of every segment on flash
        self.seq = 0
        self.done = 0          # every event up to this seq is delivered
        self.dropped = 0       # events given up since the board was new
        self.reported = 0      # of those, how many the control room has been told about
        self.corrupt = 0       # spots the last scan skipped (damage or a torn tail)
        self.damaged = 0       # of those, damage (a torn last record is a power cut, not damage)
        self.pending = 0
        self.counts = [0, 0, 0]  # pending by severity code
        # by severity code: no pending event of it lies in a segment before this one (0: from
        # the head), so making room reads from there, not through every older segment (an
        # alarm storm's thousands of alarms before the first info were read on every add)
        self.oldest = [0, 0, 0]
        self.first = 1         # segments first..last (some may be gone)
        self.last = 0
        self.hseg = 0          # segment and offset of the oldest pending event record
        self.head = -1
        self.size = 0          # of the newest segment
        self.log = 0           # this log's id (see S above)
        self._f = None
        self.steps = 0         # records a stepped rewrite copies per step() (0: rewrites run at once)
        self._job = None       # a stepped rewrite: [segment, sev, drop, read offset, tmp file, size, gone, keep seq]
        self.oldest_sev = 0    # the severity _room_at found
        self._resend = None    # (first, last) seq whose delivery the damage may have erased
        try:                   # a single-file log from earlier firmware becomes the first segment
            os.rename(path, self.seg(1))
        except OSError:
            pass
        once('outbox_scan', 'scan', self)     # boot-only code, dropped afterwards
        self._roll()
        self.compact()
        if self.damaged:       # never silent: the control room hears of it, and of what comes twice
            f = {'file': self.path, 'spots': self.damaged}
            if self._resend:
                f['resent'] = list(self._resend)
            self.add('system', 'system.log_damaged', 'warn', f)

    # --- segments --------------------------------------------------------------------------
    def seg(self, n):
        return '%s.%d' % (self.path, n)

    def _each(self, n=0, off=0):
        """(segment, offset, kind, body) of every good record from segment n at off."""
        n = n or self.first
        while n <= self.last:
            try:
                f = open(self.seg(n), 'rb')
            except OSError:
                n += 1
                off = 0
                continue
            with f:
                for o, kind, body in _records(f, off):
                    if kind is None:
                        break
                    yield n, o, kind, body
            n += 1
            off = 0

    def _snapshot(self, dropped=None):
        return struct.pack('<IIIII', self.seq, self.dropped if dropped is None else dropped, self.reported,
                           self.log, self.done)

    def _roll(self):
        """Start a new newest segment with a snapshot of the counters."""
        self.close()
        self.last += 1
        if self.last < self.first:
            self.first = self.last
        with open(self.seg(self.last), 'wb') as f:
            self.size = _write(f, _S, self._snapshot())
        self.bytes += self.size

    def _trim(self, keep_from):
        """Delete the segments before keep_from (all their events are delivered)."""
        while self.first < keep_from:
            try:
                self.bytes -= os.stat(self.seg(self.first))[6]
                os.remove(self.seg(self.first))
            except OSError:
                pass
            self.first += 1

    def _rewrite(self, n, sev=0, drop=0):
        """Rewrite segment n with only its pending events, leaving out its oldest `drop`
        events of severity `sev`, and a snapshot of the counters that counts them dropped;
        returns how many it left out."""
        self._begin(n, sev, drop)
        return self._feed(0)

    def _begin(self, n, sev, drop, keep=0):
        """Start rewriting segment n (see _rewrite); `keep`: a seq never to leave out."""
        if n == self.last:
            self.close()
        self._job = [n, sev, drop, 0, open(self.seg(n) + '.tmp', 'wb'), 0, 0, keep]

    def _feed(self, k):
        """Copy up to k records (0: all) of the rewrite under way; when its segment is done,
        the snapshot, the rename and how many it left out (else -1)."""
        j = self._job
        n = j[0]
        try:
            f = open(self.seg(n), 'rb')
        except OSError:         # delivered and deleted under the rewrite: nothing left to do
            self._abandon()
            return 0
        try:
            with f:
                i = 0
                for off, kind, body in _records(f, j[3]):
                    if kind is None:
                        break
                    if kind == _E and _u32(body) > self.done:
                        if j[6] < j[2] and (body[4] if body[4] < 3 else 0) == j[1] and _u32(body) != j[7]:
                            j[6] += 1
                        else:
                            j[5] += _write(j[4], _E, body)
                    j[3] = off + _HDR + len(body)     # past it only once it is written
                    i += 1
                    if i == k:
                        return -1
        except Exception:   # (no heap, a flash error): the segment stays as it was, room is made later
            self._abandon()
            raise
        dst = j[4]
        size = j[5] + _write(dst, _S, self._snapshot(self.dropped + j[6]))
        dst.close()
        self._job = None
        try:
            self.bytes -= os.stat(self.seg(n))[6]
        except OSError:
            pass
        os.rename(self.seg(n) + '.tmp', self.seg(n))
        self.bytes += size
        if n == self.last:
            self.size = size
        return j[6]

    def _abandon(self):
        """Give up the rewrite under way: its segment is untouched, its copy removed."""
        j = self._job
        self._job = None
        try:
            j[4].close()
        except OSError:
            pass
        try:
            os.remove(self.seg(j[0]) + '.tmp')
        except OSError:
            pass

    def _count(self, sev, d):
        self.pending += d
        self.counts[sev if sev < 3 else 0] += d

    def _pend(self, sev, n):
        """Count one more pending event of severity code `sev`, which is in segment n."""
        if not self.counts[sev if sev < 3 else 0]:
            self.oldest[sev if sev < 3 else 0] = n
        self._count(sev, 1)

    def _append(self, kind, body):
        if self._f is None:
            self._f = open(self.seg(self.last), 'ab')
        off = self.size
        n = _write(self._f, kind, body)
        self._f.flush()
        self.size += n
        self.bytes += n
        return off

    def compact(self):
        """Delete what is delivered; start a fresh newest segment when it has grown."""
        if self.head < 0:
            if self.size > 4096:
                self._roll()
            self._trim(self.last)
        else:
            self._trim(self.hseg)

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None

    # --- the event path --------------------------------------------------------------------
    def add(self, ctrl, etype, sev, fields=None):
        """Number, stamp and persist an event; returns it as a dict."""
        if self.pending >= self.max_len and not (self.steps and self._room_later()):
            self._make_room()
        while self.pending and self.bytes + _MAX_RECORD + _HDR > self.max_bytes and self._make_room():
            pass
        if self.size >= _SEG_BYTES:
            self._roll()
        seq = self.seq + 1      # (counted once written: an event that finds no heap leaves no gap)
        ev = {'seq': seq, 'log': self.log, 'ts': wall_ms(), 'type': etype, 'sev': sev, 'ctrl': ctrl}
        if fields:
            for k in fields:
                ev[k] = fields[k]
        c = ctrl.encode()[:64]
        code = 2 if sev == 'alarm' else (1 if sev == 'warn' else 0)    # severity codes 0..2
        body = struct.pack('<IBB', seq, code, len(c)) + c + json.dumps(ev).encode()
        if len(body) > _MAX_RECORD:     # keep the event, lose its extra fields
            ev = {'seq': ev['seq'], 'log': self.log, 'ts': ev['ts'], 'type': etype, 'sev': sev, 'ctrl': ctrl[:64],
                  'truncated': True}
            if fields and 'active' in fields:
                ev['active'] = fields['active']
            body = struct.pack('<IBB', seq, code, len(c)) + c + json.dumps(ev).encode()
        try:
            off = self._append(_E, body)
        except OSError:                # the filesystem is full after all: room, then once more
            self.close()
            if not self._make_room():
                raise
            off = self._append(_E, body)
        self.seq = seq
        if self.head < 0:
            self.hseg, self.head = self.last, off
        self._pend(code, self.last)
        return ev

    def _make_room(self):
        """Give up the oldest events (up to a tenth of max_len) of the lowest severity
        present, from the oldest segment holding one: an alarm goes only when nothing but
        alarms is waiting. One segment is rewritten, so the pause is bounded."""
        if self._job is not None:               # a stepped one under way ends first
            return self._made(self._job[0], self._job[1], self._feed(0))
        at = self._room_at()
        if at is None:
            return 0
        return self._made(at, self.oldest_sev, self._rewrite(at, self.oldest_sev, max(1, self.max_len // 10)))

    def _room_at(self):
        """The segment of the oldest pending event of the lowest severity present (that
        severity in oldest_sev), or None."""
        for sev in (0, 1, 2):
            if self.counts[sev]:
                break
        self.oldest_sev = sev
        n, off = (self.hseg, self.head) if self.head >= 0 else (0, 0)
        if self.oldest[sev] > n:
            n, off = self.oldest[sev], 0
        for n, off, kind, body in self._each(n, off):
            if kind == _E and _u32(body) > self.done and (body[4] if body[4] < 3 else 0) == sev:
                self.oldest[sev] = n
                return n
        return None

    def _made(self, n, sev, gone):
        self.dropped += gone
        self._count(sev, -gone)
        self._append(_S, self._snapshot())     # the newest segment keeps the count
        if n == self.hseg:
            self.head = 0
            self.peek()
        self.compact()
        return gone

    def step(self):
        """The runtime's control loop, every pass: a stepped rewrite copies `steps` more
        records (and ends, renamed, counted, when its segment is done)."""
        if self._job is not None:
            j = self._job
            gone = self._feed(self.steps)
            if gone >= 0:
                self._made(j[0], j[1], gone)

    def _room_later(self):
        """Full, with steps: start a stepped rewrite (none under way and within the slack);
        False when room must be made now."""
        if self.pending >= self.max_len + min(_SLACK, self.max_len // 100):
            return False
        if self._job is not None:
            return True
        at = self._room_at()
        if at is None:
            return False
        if at == self.last:
            self._roll()                        # appends never go to the segment being rewritten
        keep = 0
        if at == self.hseg and self.head >= 0:  # the head may be on its way: it is never dropped
            item = self.peek()
            keep = item[0] if item else 0
        self._begin(at, self.oldest_sev, max(1, self.max_len // 10), keep)
        return True

    def peek(self):
        """The oldest pending event as (seq, ctrl, json bytes), or None."""
        if self.head < 0:
            return None
        for n, off, kind, body in self._each(self.hseg, self.head):
            if kind == _E and _u32(body) > self.done:
                self.hseg, self.head = n, off
                if self._job is not None and n == self._job[0] and _u32(body) != self._job[7]:
                    return None     # its segment is being rewritten: after that
                cl = body[5]
                return _u32(body), body[6:6 + cl].decode(), body[6 + cl:]
        self.head = -1
        return None

    def delivered(self, seq):
        """The broker acknowledged event seq (and, delivery being in order, all before it)."""
        if seq <= self.done:
            return
        self._append(_D, struct.pack('<I', seq))
        head = -1
        if self.head >= 0:
            for n, off, kind, body in self._each(self.hseg, self.head):
                if kind != _E:
                    continue
                s = _u32(body)
                if s <= seq:
                    if s > self.done:
                        self._count(body[4], -1)
                        self.done = s       # (a MemoryError further on, retried, counts none twice)
                else:
                    self.hseg, head = n, off
                    break
        self.done = seq
        self.head = head
        self.compact()

    def items(self):
        """Every pending event as (seq, sev code, json bytes), oldest first."""
        out = []
        if self.head < 0:
            return out
        for n, off, kind, body in self._each(self.hseg, self.head):
            if kind == _E and _u32(body) > self.done:
                out.append((_u32(body), body[4], body[6 + body[5]:]))
        return out

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
        self._append(_R, struct.pack('<I', self.reported))
        return ev

    def __len__(self):
        return self.pending
