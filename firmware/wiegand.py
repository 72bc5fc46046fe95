# Card readers. `Reader` is what access.py asks of any reader (OSDP can follow behind it);
# `Wiegand` turns the D0/D1 bit stream into frames: 26- and 34-bit cards (parity checked)
# and keypad keys (4-bit frames, or 8-bit ones whose high nibble is the complement of the
# low one). A frame with a bad parity, check or bit count is refused and counted, never read.
# bit() takes one bit without allocating (the ESP32 calls it in the pin interrupt); a frame
# ends when no bit came for GAP_US (bits come every ~2 ms), or at once by end() (a wire
# that carries whole frames: the simulator).
from compat import const
from clock import ticks_diff

GAP_US = const(10000)
MAXBITS = const(40)
KEYS = '0123456789*#'


class Reader:
    """A reader: take(now_us) gives the next frame, ('card', 'W26:1234567'), ('key', '5')
    or ('bad', why), or None; `bad` counts the refused frames."""
    name = ''
    bad = 0

    def take(self, now_us):
        return None

    def value(self, v=None):    # (the runtime's edge path reads a signal's value)
        return 0


class Wiegand(Reader):
    def __init__(self, name):
        self.name = name
        self.bits = bytearray(MAXBITS)
        self.n = 0          # bits of the frame being received (more than MAXBITS: counted on)
        self.last = 0       # ticks_us of its last bit
        self.ended = False

    def bit(self, b, t_us):
        n = self.n
        if n < MAXBITS:
            self.bits[n] = b
        self.n = n + 1
        self.last = t_us

    def end(self):
        self.ended = True

    def take(self, now_us):
        n = self.n
        if not n or not self.ended and ticks_diff(now_us, self.last) < GAP_US:
            return None
        fr = decode(self.bits, n)
        self.n = 0
        self.ended = False
        if fr[0] == 'bad':
            self.bad += 1
        return fr


def _val(bits, a, b):
    v = 0
    for i in range(a, b):
        v = (v << 1) | bits[i]
    return v


def _ones(bits, a, b):
    s = 0
    for i in range(a, b):
        s += bits[i]
    return s


def decode(bits, n):
    """The frame of n bits (MSB first)."""
    if n == 4 or n == 8:
        k = _val(bits, n - 4, n)
        if n == 8 and _val(bits, 0, 4) != 15 - k:
            return ('bad', 'key frame check')
        if k >= len(KEYS):
            return ('bad', 'key code %d' % k)
        return ('key', KEYS[k])
    if n == 26 or n == 34:
        h = n // 2
        if _ones(bits, 0, h) & 1 or not _ones(bits, h, n) & 1:
            return ('bad', 'parity')
        return ('card', 'W%d:%d' % (n, _val(bits, 1, n - 1)))
    return ('bad', '%d bits' % n)
