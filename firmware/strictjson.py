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


def _fail(i, what):
    raise ValueError('malformed JSON: %s at byte %d' % (what, i))


def _ws(b, i):
    n = len(b)
    while i < n and b[i] in b' \t\r\n':
        i += 1
    return i


def _value(b, i, depth, m):
    """The end of the value at i (m[0]: object members seen, as json.loads keeps one per
    distinct key)."""
    n = len(b)
    i = _ws(b, i)
    if i >= n:
        _fail(i, 'value expected')
    c = b[i]
    if c == 0x7B or c == 0x5B:          # { [
        if depth >= _MAX_DEPTH:
            _fail(i, 'nested deeper than %d' % _MAX_DEPTH)
        obj = c == 0x7B
        close = c + 2                   # } ]
        i = _ws(b, i + 1)
        if i < n and b[i] == close:
            return i + 1
        while True:
            if obj:
                i = _ws(b, i)
                if i >= n or b[i] != 0x22:
                    _fail(i, 'member name expected')
                i = _ws(b, _string(b, i))
                if i >= n or b[i] != 0x3A:
                    _fail(i, "':' expected")
                m[0] += 1
                i += 1
            i = _ws(b, _value(b, i, depth + 1, m))
            if i >= n:
                _fail(i, 'unterminated %s' % ('object' if obj else 'array'))
            if b[i] == close:
                return i + 1
            if b[i] != 0x2C:
                _fail(i, "',' or '%s' expected" % chr(close))
            i += 1
    if c == 0x22:
        return _string(b, i)
    if c == 0x2D or 0x30 <= c <= 0x39:
        return _number(b, i)
    for word in (b'true', b'false', b'null'):
        if b[i:i + len(word)] == word:
            return i + len(word)
    _fail(i, 'value expected')


def _string(b, i):
    n = len(b)
    i += 1
    while i < n:
        c = b[i]
        if c == 0x22:
            return i + 1
        if c < 0x20:
            _fail(i, 'control character in a string')
        if c == 0x5C:
            if i + 1 >= n or b[i + 1] not in b'"\\/bfnrtu':
                _fail(i, 'bad escape')
            if b[i + 1] == 0x75:        # \uXXXX
                for k in range(i + 2, i + 6):
                    if k >= n or b[k] not in b'0123456789abcdefABCDEF':
                        _fail(i, 'bad \\u escape')
                if b[i + 2] in b'dD' and b[i + 3] in b'89abcdefABCDEF':
                    _fail(i, 'surrogate \\u escape (send the character as UTF-8)')
                i += 6
            else:
                i += 2
        elif c < 0x80:
            i += 1
        else:
            i = _utf8(b, i, c)
    _fail(i, 'unterminated string')


def _utf8(b, i, c):
    """Skip one multi-byte UTF-8 character (no overlong forms, no surrogates, <= U+10FFFF)."""
    n = len(b)
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
        _fail(i, 'invalid UTF-8')
    for j in range(i + 1, i + 1 + k):
        if j >= n or not lo <= b[j] <= hi:
            _fail(i, 'invalid UTF-8')
        lo, hi = 0x80, 0xBF
    return i + 1 + k


def _digits(b, i):
    n = len(b)
    j = i
    while j < n and 0x30 <= b[j] <= 0x39:
        j += 1
    if j == i:
        _fail(i, 'digit expected')
    return j


def _number(b, i):
    n = len(b)
    if b[i] == 0x2D:
        i += 1
    if i < n and b[i] == 0x30:
        i += 1
        if i < n and 0x30 <= b[i] <= 0x39:
            _fail(i, 'leading zero')
    else:
        i = _digits(b, i)
    if i < n and b[i] == 0x2E:
        i = _digits(b, i + 1)
    if i < n and b[i] in b'eE':
        i += 1
        if i < n and b[i] in b'+-':
            i += 1
        i = _digits(b, i)
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
    m = [0]
    end = _ws(data, _value(data, 0, 0, m))
    if end != len(data):
        _fail(end, 'text after the value')
    v = json.loads(data)
    if m[0] != _count(v):
        raise ValueError('malformed JSON: duplicate key')
    return v
