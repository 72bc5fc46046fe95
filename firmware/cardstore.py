# The board's card store (layout: protocols/cardrec.py): sorted fixed-size records in
# cards.db, found by a binary search on the file, one record in a 40-byte buffer at a time;
# the heap holds this object, its buffer and the salt whatever the count. cardsync.py
# replaces the file (a new one, then a rename); a board without one has version 0.
import struct
import cardrec
from cardrec import HDR, REC, MAGIC

PATH = 'cards.db'


class Store:
    def __init__(self, path=PATH):
        self.path = path
        self.buf = bytearray(REC)
        self.load()

    def load(self):
        """(Re)read the header: after a delta was applied."""
        self.version = 0
        self.count = 0
        self.salt = b''
        try:
            with open(self.path, 'rb') as f:
                h = f.read(HDR)
        except OSError:
            return
        if len(h) == HDR:
            magic, ver, n, salt, _ = struct.unpack(cardrec.HDR_FMT, h)
            if magic == MAGIC:
                self.version, self.count, self.salt = ver, n, salt

    def find(self, k):
        """The index of key k (8 bytes), its record in self.buf; -1 when absent."""
        lo, hi = 0, self.count - 1
        if hi < 0:
            return -1
        buf = self.buf
        with open(self.path, 'rb') as f:
            while lo <= hi:
                mid = (lo + hi) >> 1
                f.seek(HDR + mid * REC)
                if f.readinto(buf) != REC:
                    return -1
                d = _cmp(buf, k)
                if d == 0:
                    return mid
                if d < 0:
                    lo = mid + 1
                else:
                    hi = mid - 1
        return -1

    def write(self, i, off, b):
        """Change bytes of record i in place (uses left, anti-passback): the file keeps its
        size and order, so a cut write damages at most these bytes of one card."""
        with open(self.path, 'r+b') as f:
            f.seek(HDR + i * REC + off)
            f.write(b)
        for j in range(len(b)):
            self.buf[off + j] = b[j]

    def u16(self, off):
        return (self.buf[off] << 8) | self.buf[off + 1]

    def u32(self, off):
        b = self.buf
        return (b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]


def _cmp(buf, k):
    for i in range(8):
        d = buf[i] - k[i]
        if d:
            return d
    return 0


_store = None


def get():
    """The board's store, made once (every reader shares it)."""
    global _store
    if _store is None:
        _store = Store()
    return _store
