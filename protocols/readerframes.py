# What a Wiegand reader sends, as the bits on its D0/D1 lines (MSB first): for the
# simulator's reader wire (`edgectl io lobby-1 front.reader=W26:1234567`, `...=KEY:1234#`)
# and the firmware cases. The board only decodes (firmware/wiegand.py). MicroPython subset.
KEYS = '0123456789*#'


def _bin(v, n):
    return ''.join('1' if v >> (n - 1 - i) & 1 else '0' for i in range(n))


def card(bits, value):
    """A 26- or 34-bit card frame: even parity over the first half, odd over the second."""
    if bits not in (26, 34):
        raise ValueError('Wiegand cards are 26 or 34 bits')
    if not 0 <= value < 1 << (bits - 2):
        raise ValueError('a %d-bit card number is 0..%d' % (bits, (1 << (bits - 2)) - 1))
    data = _bin(value, bits - 2)
    h = bits // 2 - 1
    even = '1' if data[:h].count('1') & 1 else '0'
    odd = '0' if data[h:].count('1') & 1 else '1'
    return even + data + odd


def key(ch, bits=4):
    """One keypad key: 4 bits, or 8 (the complement of the key's nibble, then the nibble)."""
    k = KEYS.find(ch)
    if k < 0 or len(ch) != 1:
        raise ValueError('keys are 0-9, * and #')
    return _bin(k, 4) if bits == 4 else _bin(15 - k, 4) + _bin(k, 4)


def frames(text):
    """The frames for 'W26:1234567', 'W34:...', 'KEY:1234#' (4-bit keys), 'KEY8:1234#', or
    raw 'BITS:0101...'; ValueError says what is accepted."""
    kind, _, v = text.partition(':')
    kind = kind.upper()
    if kind in ('W26', 'W34') and v.isdigit():
        return [card(int(kind[1:]), int(v))]
    if kind in ('KEY', 'KEY8') and v:
        return [key(c, 8 if kind == 'KEY8' else 4) for c in v]
    if kind == 'BITS' and v and not v.strip('01'):
        return [v]
    raise ValueError('a reader frame is W26:<number>, W34:<number>, KEY:<keys>, KEY8:<keys> or BITS:<0/1...>')
