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
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + bytes(BLOCK - len(key))
    inner = hashlib.sha256(bytes([b ^ 0x36 for b in key]) + msg).digest()
    return hashlib.sha256(bytes([b ^ 0x5C for b in key]) + inner).digest()


def _value(v):
    if v is None:
        return b'n0:'
    if v is True or v is False:
        return b'b1:' + (b'1' if v else b'0')
    if isinstance(v, int):
        s = str(v).encode()
        return b'i' + str(len(s)).encode() + b':' + s
    if isinstance(v, str):
        s = v.encode()
        return b's' + str(len(s)).encode() + b':' + s
    raise ValueError('signed commands carry text, whole numbers, true/false or null')


def canonical(device, ctrl, fields):
    out = [device.encode(), ctrl.encode()]
    names = [k for k in fields if k != 'sig']
    names.sort()
    for k in names:
        out.append(k.encode() + b'=' + _value(fields[k]))
    return b'\n'.join(out)


def hexlify(b):
    return binascii.hexlify(b).decode()


def sign(key, device, ctrl, fields):
    return hexlify(hmac_sha256(key, canonical(device, ctrl, fields)))


def same(a, b):
    """Compare two signatures in constant time."""
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= ord(a[i]) ^ ord(b[i])
    return r == 0


class Verifier:
    """Checks signed commands for one board; keeps the highest counter accepted on flash."""
    FILE = 'ctr.json'

    def __init__(self, key, device, path=None):
        self.key = key
        self.device = device
        if path:
            self.FILE = path
        self.last = self._load()

    def _load(self):
        try:
            with open(self.FILE) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    MAX_AGE_MS = 30000      # a signed command older or newer than this by a set clock is refused
    TIME_KNOWN_MS = 1700000000000

    def check(self, ctrl, fields, now_ms=None):
        """None when the command is genuine and fresh, else why it is refused. `now_ms`: the
        board's wall clock; once set (NTP), a command whose counter (the sender's clock) is
        more than MAX_AGE_MS away has expired, so one held back and sent later fails too."""
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
        if ctr <= self.last:
            return 'replayed or stale counter %d (last accepted %d)' % (ctr, self.last)
        if now_ms is not None and now_ms > self.TIME_KNOWN_MS and abs(now_ms - ctr) > self.MAX_AGE_MS:
            return 'expired: signed %d s from the board\'s clock' % ((now_ms - ctr) // 1000)
        self.last = ctr
        try:
            with open(self.FILE + '.tmp', 'w') as f:
                f.write(str(ctr))
            import os
            os.rename(self.FILE + '.tmp', self.FILE)
        except OSError:
            pass
        return None
