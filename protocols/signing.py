# Signed safety commands: HMAC-SHA256 (RFC 2104, written here on top of hashlib.sha256)
# over a canonical form of the command, with a counter that must rise with every command
# (the control room uses its clock in ms), so a recorded command cannot work twice.
#
# Canonical form: device, controller, then every field but `sig` sorted by name, each as
# name=<type><length>:<value> (s: UTF-8 text, i: whole number, b: 0/1, n: null): the same
# bytes under CPython and MicroPython (no JSON escaping or float printing involved).
import binascii
import hashlib

BLOCK = 64


def hmac_sha256(key, msg):
    """HMAC-SHA256 of `msg`: bytes, or a list of byte strings taken as their concatenation
    (hashed piece by piece: a signed config is ~1 KB of text, and a board with a fragmented
    heap must not need several contiguous copies of it)."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + bytes(BLOCK - len(key))
    h = hashlib.sha256(bytes([b ^ 0x36 for b in key]))
    for part in (msg,) if isinstance(msg, (bytes, bytearray)) else msg:
        h.update(part)
    return hashlib.sha256(bytes([b ^ 0x5C for b in key]) + h.digest()).digest()


def _value(v):
    """The canonical form of one value, as a list of byte strings."""
    if v is None:
        return [b'n0:']
    if v is True or v is False:
        return [b'b1:1' if v else b'b1:0']
    if isinstance(v, int):
        s = str(v).encode()
        return [b'i%d:' % len(s), s]
    if isinstance(v, str):
        s = v.encode()
        return [b's%d:' % len(s), s]
    raise ValueError('signed commands carry text, whole numbers, true/false or null')


def _parts(device, ctrl, fields):
    out = [device.encode(), b'\n', ctrl.encode()]
    names = [k for k in fields if k != 'sig']
    names.sort()
    for k in names:
        out.append(b'\n' + k.encode() + b'=')
        out.extend(_value(fields[k]))
    return out


def canonical(device, ctrl, fields):
    return b''.join(_parts(device, ctrl, fields))


def hexlify(b):
    return binascii.hexlify(b).decode()


def sign(key, device, ctrl, fields):
    return hexlify(hmac_sha256(key, _parts(device, ctrl, fields)))


def same(a, b):
    """Compare two signatures in constant time."""
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= ord(a[i]) ^ ord(b[i])
    return r == 0


def _check(v):
    """The checksum a counter copy carries (a damaged copy fails it)."""
    return hexlify(hashlib.sha256(('ctr:%d' % v).encode()).digest()[:4])


class CounterStore:
    """The highest accepted counter, on the board's flash in two copies (<base>.a and
    <base>.b), each with a checksum and each replaced atomically: one lost or damaged file
    cannot reset it. `known` is False when no copy is valid (both lost, or a new board)."""

    def __init__(self, base):
        self.files = (base + '.a', base + '.b')
        self.legacy = base + '.json'        # the single file of firmware <= 0.6.0
        self.value = 0
        self.known = False
        seen = False
        for p in self.files:
            v, exists = self._read(p)
            seen = seen or exists
            if v is not None and (not self.known or v > self.value):
                self.value, self.known = v, True
        if not seen:                        # upgraded from a single-file board
            try:
                with open(self.legacy) as f:
                    v = int(f.read())
                if v > 0:
                    self.value, self.known = v, True
            except (OSError, ValueError):
                pass

    def _read(self, path):
        """(counter, True) from a valid copy, (None, exists) otherwise."""
        try:
            with open(path) as f:
                parts = f.read().split()
        except OSError:
            return None, False
        try:
            v = int(parts[0])
            if len(parts) == 2 and v > 0 and parts[1] == _check(v):
                return v, True
        except (ValueError, IndexError):
            pass
        return None, True

    def save(self, v):
        import os
        self.value, self.known = v, True
        line = '%d %s\n' % (v, _check(v))
        for p in self.files:        # one after the other: a reset between leaves one good copy
            try:
                with open(p + '.tmp', 'w') as f:
                    f.write(line)
                os.rename(p + '.tmp', p)
            except OSError:
                pass
        try:
            os.remove(self.legacy)  # read once on upgrade; later it would only be out of date
        except OSError:
            pass


class Verifier:
    """Checks signed commands for one board; keeps the highest counter accepted on flash
    (CounterStore). Freshness comes from the counter or, once set, the clock: while the
    board has neither (counter copies lost, clock never set since boot) every signed
    command is refused, as a captured one cannot be told from a new one. It accepts again
    once its clock is set (NTP at every connect; `edgectl io DEVICE --clock` on a simulated
    board), and the first command accepted then writes the counter again."""
    FILE = 'ctr.json'
    NO_FRESHNESS = ("no freshness check: the board lost its command counter and its clock is not set; "
                    "signed commands are refused until its clock is set")

    def __init__(self, key, device, path=None):
        self.key = key
        self.device = device
        if path:
            self.FILE = path
        base = self.FILE[:-5] if self.FILE.endswith('.json') else self.FILE
        self.store = CounterStore(base)
        self.last = self.store.value
        self.known = self.store.known

    MAX_AGE_MS = 30000      # a signed command older than this by a set clock has expired
    MAX_AHEAD_MS = 5000     # one newer than this is from the future: refused, nothing kept
    TIME_KNOWN_MS = 1700000000000

    def check(self, ctrl, fields, now_ms=None):
        """None when the command is genuine and fresh, else why it is refused. `now_ms`: the
        board's wall clock; once set (NTP), a command whose counter (the sender's clock) is
        more than MAX_AGE_MS behind has expired, so one held back and sent later fails too;
        one more than MAX_AHEAD_MS ahead is refused without raising the counter (else it
        would make the control room's next commands look stale)."""
        sig = fields.get('sig')
        ctr = fields.get('ctr')
        if not isinstance(sig, str) or not sig:
            return 'unsigned: this command needs a signature (sig, ctr)'
        if not isinstance(ctr, int) or isinstance(ctr, bool) or ctr <= 0:
            return "signed command needs a whole-number counter 'ctr'"
        try:
            want = sign(self.key, self.device, ctrl, fields)
        except ValueError as e:
            return str(e)
        if not same(sig, want):
            return 'bad signature'
        clock = now_ms is not None and now_ms > self.TIME_KNOWN_MS
        if not self.known and not clock:
            return self.NO_FRESHNESS
        if ctr <= self.last:
            return 'replayed or stale counter %d (last accepted %d)' % (ctr, self.last)
        if clock and now_ms - ctr > self.MAX_AGE_MS:
            return 'expired: signed %d s before the board\'s clock' % ((now_ms - ctr) // 1000)
        if clock and ctr - now_ms > self.MAX_AHEAD_MS:
            return 'from the future: signed %d s ahead of the board\'s clock' % ((ctr - now_ms) // 1000)
        self.last = ctr
        self.known = True
        self.store.save(ctr)
        return None
