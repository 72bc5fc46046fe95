"""Operators' disarm PINs (arming, brief §19). The site's secrets file keeps only a salted
PBKDF2-SHA256 hash of each PIN, never the PIN; the control room checks a PIN before it sends a
zone's `disarm` (signed with the board's key), and the board never sees a PIN."""
import hashlib
import hmac
import os

from ..core import secrets
from ..core.errors import EdgeError

ITERATIONS = 200000
SCHEME = 'pbkdf2_sha256'


def valid(pin):
    return isinstance(pin, str) and pin.isdigit() and pin.isascii() and 4 <= len(pin) <= 12


def hash_pin(pin, salt=None, iterations=ITERATIONS):
    salt = salt or os.urandom(16)
    dk = hashlib.pbkdf2_hmac('sha256', pin.encode(), salt, iterations)
    return '%s$%d$%s$%s' % (SCHEME, iterations, salt.hex(), dk.hex())


def matches(stored, pin):
    """The PIN against a stored hash, in constant time; False for anything malformed."""
    try:
        scheme, n, salt, want = stored.split('$')
        n = int(n)
        if scheme != SCHEME or not 1000 <= n <= 10000000:
            return False
        got = hashlib.pbkdf2_hmac('sha256', str(pin).encode(), bytes.fromhex(salt), n).hex()
    except (AttributeError, ValueError):
        return False
    return hmac.compare_digest(got, want)


def set_pin(site_path, operator, pin):
    """Store an operator's PIN (its hash); True when it replaced one."""
    if not valid(pin):
        raise EdgeError('a PIN is 4 to 12 digits; nothing changed', 2)
    if not secrets.OPERATOR.fullmatch(operator or '') or operator in secrets.RESERVED:
        raise EdgeError('operator name %r: a letter, then letters, digits, _ . - (up to 32)' % (operator,), 2)
    s = secrets.load(site_path)
    if s is None:
        raise EdgeError('no secrets beside %s: run `edgectl broker --site %s --secure` first' % (site_path, site_path), 2)
    pins = s.setdefault('pins', {})
    had = operator in pins
    pins[operator] = hash_pin(pin)
    secrets.save(site_path, s)
    return had


def check(sec, operator, pin):
    """True when `pin` is `operator`'s PIN in the secrets `sec`. An unknown operator costs the
    same hashing as a wrong PIN (no telling which names have a PIN)."""
    stored = ((sec or {}).get('pins') or {}).get(operator)
    if stored is None:
        matches(hash_pin('0000', b'\0' * 16), pin)
        return False
    return matches(stored, pin)
