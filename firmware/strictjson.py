# Strict JSON (RFC 8259) for everything the board takes from the network (commands, config
# pushes, the site fire state). MicroPython's json accepts malformed text: a missing ',' or
# ':', a doubled ',', '[1}]', '01', raw control characters, unknown escapes. So the text is
# scanned against the grammar first, byte by byte, building nothing; json.loads then builds
# the value. Also refused: duplicate keys, nesting deeper than MAX_DEPTH, invalid UTF-8,
# and \u escapes of surrogates (MicroPython would not join a pair into one character, so the
# two interpreters would read different text). Same verdicts on CPython and MicroPython.
import json
from compat import const

_MAX_DEPTH = const(8)


class _Scan:
    def __init__(self, b):
        self.b = b
        self.n = len(b)
        self.members = 0        # object members seen: json.loads keeps one per distinct key

    def fail(self, i, what):
        raise ValueError('malformed JSON: %s at byte %d' % (what, i))

    def ws(self, i):
        b, n = self.b, self.n
        while i < n and b[i] in b' \t\r\n':
            i += 1
        return i

    def value(self, i, depth):
        b = self.b
        i = self.ws(i)
        if i >= self.n:
            self.fail(i, 'value expected')
        c = b[i]
        if c == 0x7B or c == 0x5B:          # { [
            if depth >= _MAX_DEPTH:
                self.fail(i, 'nested deeper than %d' % _MAX_DEPTH)
            return self.container(i, depth + 1, c == 0x7B)
        if c == 0x22:
            return self.string(i)
        if c == 0x2D or 0x30 <= c <= 0x39:
            return self.number(i)
        for word in (b'true', b'false', b'null'):
            if b[i:i + len(word)] == word:
                return i + len(word)
        self.fail(i, 'value expected')

    def container(self, i, depth, obj):
        b = self.b
        close = 0x7D if obj else 0x5D
        i = self.ws(i + 1)
        if i < self.n and b[i] == close:
            return i + 1
        while True:
            if obj:
                i = self.ws(i)
                if i >= self.n or b[i] != 0x22:
                    self.fail(i, 'member name expected')
                i = self.ws(self.string(i))
                if i >= self.n or b[i] != 0x3A:
                    self.fail(i, "':' expected")
                self.members += 1
                i += 1
            i = self.ws(self.value(i, depth))
            if i >= self.n:
                self.fail(i, 'unterminated %s' % ('object' if obj else 'array'))
            if b[i] == close:
                return i + 1
            if b[i] != 0x2C:
                self.fail(i, "',' or '%s' expected" % chr(close))
            i += 1

    def string(self, i):
        b, n = self.b, self.n
        i += 1
        while i < n:
            c = b[i]
            if c == 0x22:
                return i + 1
            if c < 0x20:
                self.fail(i, 'control character in a string')
            if c == 0x5C:
                if i + 1 >= n or b[i + 1] not in b'"\\/bfnrtu':
                    self.fail(i, 'bad escape')
                if b[i + 1] == 0x75:        # \uXXXX
                    for k in range(i + 2, i + 6):
                        if k >= n or b[k] not in b'0123456789abcdefABCDEF':
                            self.fail(i, 'bad \\u escape')
                    if b[i + 2] in b'dD' and b[i + 3] in b'89abcdefABCDEF':
                        self.fail(i, 'surrogate \\u escape (send the character as UTF-8)')
                    i += 6
                else:
                    i += 2
            elif c < 0x80:
                i += 1
            else:
                i = self.utf8(i, c)
        self.fail(i, 'unterminated string')

    def utf8(self, i, c):
        """Skip one multi-byte UTF-8 character (no overlong forms, no surrogates, <= U+10FFFF)."""
        b, n = self.b, self.n
        lo, hi = 0x80, 0xBF
        if 0xC2 <= c <= 0xDF:
            k = 1
        elif 0xE0 <= c <= 0xEF:
            k = 2
            if c == 0xE0:
                lo = 0xA0
            elif c == 0xED:
                hi = 0x9F
        elif 0xF0 <= c <= 0xF4:
            k = 3
            if c == 0xF0:
                lo = 0x90
            elif c == 0xF4:
                hi = 0x8F
        else:
            self.fail(i, 'invalid UTF-8')
        for j in range(i + 1, i + 1 + k):
            if j >= n or not lo <= b[j] <= hi:
                self.fail(i, 'invalid UTF-8')
            lo, hi = 0x80, 0xBF
        return i + 1 + k

    def digits(self, i):
        b, n = self.b, self.n
        j = i
        while j < n and 0x30 <= b[j] <= 0x39:
            j += 1
        if j == i:
            self.fail(i, 'digit expected')
        return j

    def number(self, i):
        b, n = self.b, self.n
        if b[i] == 0x2D:
            i += 1
        if i < n and b[i] == 0x30:
            i += 1
            if i < n and 0x30 <= b[i] <= 0x39:
                self.fail(i, 'leading zero')
        else:
            i = self.digits(i)
        if i < n and b[i] == 0x2E:
            i = self.digits(i + 1)
        if i < n and b[i] in b'eE':
            i += 1
            if i < n and b[i] in b'+-':
                i += 1
            i = self.digits(i)
        return i


def _count(v):
    """Members of every object in a parsed value (a duplicate key leaves one fewer)."""
    n = 0
    if isinstance(v, dict):
        n = len(v)
        v = v.values()
    elif not isinstance(v, list):
        return 0
    for x in v:
        n += _count(x)
    return n


def loads(data):
    """The value of a JSON text (bytes or str); ValueError('malformed JSON: ...') for
    anything a strict parser refuses."""
    if isinstance(data, str):
        data = data.encode()
    s = _Scan(data)
    end = s.ws(s.value(0, 0))
    if end != s.n:
        s.fail(end, 'text after the value')
    v = json.loads(data)
    if s.members != _count(v):
        raise ValueError('malformed JSON: duplicate key')
    return v
