# The persistent outbox: every event is appended to a log on the board's flash before its
# first send and leaves only when the broker has acknowledged it (PUBACK).
#
# Log records (append-only; a power cut can tear only the last one, which the next boot
# detects by its checksum and drops):
#   0xA5 | kind (1) | length (2, LE) | crc32 of kind+length+body (4, LE) | body
#   E  event:      seq (4) | sev (1) | ctrl length (1) | ctrl | JSON
#   D  delivered:  seq (4)          every event up to seq has been acknowledged
#   X  dropped:    seq (4)          event given up to make room (outbox_max)
#   S  snapshot:   seq (4) | dropped (4) | reported (4)   written when the log is compacted
#   R  reported:   reported (4)     drops announced to the control room so far
# Sequence numbers come from the log itself, so they survive reboots with no extra write.
import json
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

MAGIC = 0xA5
HDR = 8
SEV_CODES = {'info': 0, 'warn': 1, 'alarm': 2}
COMPACT_BYTES = 32768


class OutboxError(Exception):
    pass


class Outbox:
    def __init__(self, path='outbox.log', max_len=200):
        self.path = path
        self.max_len = max_len
        self.pending = []      # (seq, offset of body, body length, sev code), in seq order
        self.seq = 0
        self.dropped = 0       # events given up since the board was new
        self.reported = 0      # of those, how many the control room has been told about
        self.corrupt = 0       # damaged records skipped at the last scan
        self.size = 0
        self._f = None
        self._scan()
        if self.corrupt or self.size > COMPACT_BYTES:
            self.compact()   # also cuts a torn tail, so new appends follow good records

    # --- the log ---------------------------------------------------------------------------
    def _scan(self):
        """Rebuild the pending list from the log, one record at a time (bounded RAM)."""
        try:
            f = open(self.path, 'rb')
        except OSError:
            return
        pend = {}
        i = 0
        with f:
            while True:
                f.seek(i)
                hdr = f.read(HDR)
                if len(hdr) < HDR:
                    if hdr:
                        self.corrupt += 1                      # a torn tail
                    break
                ln = hdr[2] | (hdr[3] << 8)
                body = f.read(ln) if hdr[0] == MAGIC else b''
                if hdr[0] != MAGIC or len(body) < ln or \
                        crc32(body, crc32(hdr[1:4])) & 0xFFFFFFFF != struct.unpack_from('<I', hdr, 4)[0]:
                    self.corrupt += 1
                    i = self._resync(f, i + 1)
                    if i < 0:
                        break
                    continue
                self._apply(hdr[1], body, i + HDR, ln, pend)
                i += HDR + ln
        self.size = i
        self.pending = [pend[s] for s in sorted(pend)]

    def _apply(self, kind, body, off, ln, pend):
        if kind == 0x45 and ln >= 6:                           # E
            seq = struct.unpack_from('<I', body, 0)[0]
            pend[seq] = (seq, off, ln, body[4])
            if seq > self.seq:
                self.seq = seq
        elif kind == 0x44 and ln == 4:                         # D
            upto = struct.unpack_from('<I', body, 0)[0]
            for s in [s for s in pend if s <= upto]:
                del pend[s]
        elif kind == 0x58 and ln == 4:                         # X
            s = struct.unpack_from('<I', body, 0)[0]
            if s in pend:
                del pend[s]
            self.dropped += 1
        elif kind == 0x53 and ln == 12:                        # S
            s, self.dropped, self.reported = struct.unpack_from('<III', body, 0)
            if s > self.seq:
                self.seq = s
        elif kind == 0x52 and ln == 4:                         # R
            self.reported = struct.unpack_from('<I', body, 0)[0]

    @staticmethod
    def _resync(f, i):
        """Offset of the next record start candidate at or after i, or -1 at the end."""
        while True:
            f.seek(i)
            chunk = f.read(64)
            if not chunk:
                return -1
            k = chunk.find(bytes((MAGIC,)))
            if k >= 0:
                return i + k
            i += len(chunk)

    def _append(self, kind, body):
        hdr = bytearray(HDR)
        hdr[0] = MAGIC
        hdr[1] = kind
        hdr[2] = len(body) & 0xFF
        hdr[3] = len(body) >> 8
        struct.pack_into('<I', hdr, 4, crc32(body, crc32(hdr[1:4])) & 0xFFFFFFFF)
        if self._f is None:
            self._f = open(self.path, 'ab')
        off = self.size + HDR
        self._f.write(hdr)
        self._f.write(body)
        self._f.flush()
        self.size += HDR + len(body)
        return off

    def _read(self, off, ln):
        with open(self.path, 'rb') as f:
            f.seek(off)
            return f.read(ln)

    def compact(self):
        """Rewrite the log with only what is pending (tmp file, then an atomic rename).
        A torn or damaged old log is left behind whole: its good records were scanned."""
        self.close()
        src = None
        try:
            src = open(self.path, 'rb')
        except OSError:
            pass
        old_path = self.path
        tmp = old_path + '.tmp'
        try:
            os.remove(tmp)
        except OSError:
            pass
        self.path = tmp
        self.size = 0
        try:
            self._append(0x53, struct.pack('<III', self.seq, self.dropped, self.reported))
            new = []
            for seq, off, ln, sev in self.pending:
                src.seek(off)
                new.append((seq, self._append(0x45, src.read(ln)), ln, sev))
            self.close()
            os.rename(tmp, old_path)
        finally:
            self.path = old_path
            if src is not None:
                src.close()
        self.pending = new

    def close(self):
        if self._f is not None:
            self._f.close()
            self._f = None

    # --- the event path --------------------------------------------------------------------
    def add(self, ctrl, etype, sev, fields=None):
        """Number, stamp and persist an event; returns it as a dict."""
        self.seq += 1
        ev = {'seq': self.seq, 'ts': wall_ms(), 'type': etype, 'sev': sev, 'ctrl': ctrl}
        if fields:
            for k in fields:
                ev[k] = fields[k]
        if len(self.pending) >= self.max_len:
            self._make_room()
        c = ctrl.encode()
        code = SEV_CODES.get(sev, 0)
        body = struct.pack('<IBB', self.seq, code, len(c)) + c + json.dumps(ev).encode()
        if len(body) > 65535:
            raise OutboxError('event too large')
        off = self._append(0x45, body)
        self.pending.append((self.seq, off, len(body), code))
        return ev

    def _make_room(self):
        """Give up one event: the oldest info, else the oldest warning, else the oldest alarm."""
        for code in (0, 1, 2):
            for k in range(len(self.pending)):
                if self.pending[k][3] == code:
                    seq = self.pending.pop(k)[0]
                    self._append(0x58, struct.pack('<I', seq))
                    self.dropped += 1
                    return

    def peek(self):
        """The oldest pending event as (seq, ctrl, json bytes), or None."""
        if not self.pending:
            return None
        seq, off, ln, _ = self.pending[0]
        body = self._read(off, ln)
        cl = body[5]
        return seq, body[6:6 + cl].decode(), body[6 + cl:]

    def delivered(self, seq):
        """The broker acknowledged event seq (and, delivery being in order, all before it)."""
        if not self.pending or self.pending[0][0] > seq:
            return
        self._append(0x44, struct.pack('<I', seq))
        while self.pending and self.pending[0][0] <= seq:
            self.pending.pop(0)
        if not self.pending and self.size > COMPACT_BYTES // 8:
            self.compact()
        elif self.size > COMPACT_BYTES:
            self.compact()

    def unreported(self):
        return self.dropped - self.reported

    def mark_reported(self):
        self.reported = self.dropped
        self._append(0x52, struct.pack('<I', self.reported))

    def __len__(self):
        return len(self.pending)
