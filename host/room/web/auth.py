"""Who is at the browser: operators log in with the logins of `edgectl operator` (the
site's secrets keep only mosquitto's salted hash of each password, checked here the way
mosquitto checks it), a session is a random token in an HttpOnly, SameSite=Strict cookie
with its own CSRF token, and failed logins are rate-limited per operator name and per
client address."""
import base64
import hashlib
import hmac
import secrets as _random
import threading
import time

SESSION_IDLE_S = 12 * 3600       # a session unused this long is over (a guard's shift)
SESSIONS_MAX = 1000              # the oldest session goes first beyond this
FAILS_MAX = 5                    # failed logins per name or address within FAILS_WINDOW_S ...
FAILS_WINDOW_S = 300             # ... then every login attempt from it is refused until the window passes


def check_password(stored, password):
    """True when `password` matches mosquitto's hash `stored`: $7$ITERATIONS$SALT$HASH
    (PBKDF2-HMAC-SHA512, mosquitto 2) or $6$SALT$HASH (SHA-512 of password + salt)."""
    try:
        parts = stored.split('$')
        pw = password.encode('utf-8')
        if len(parts) == 5 and parts[1] == '7':
            iterations, salt, want = int(parts[2]), base64.b64decode(parts[3]), base64.b64decode(parts[4])
            if not 1 <= iterations <= 1000000:
                return False
            got = hashlib.pbkdf2_hmac('sha512', pw, salt, iterations, len(want))
        elif len(parts) == 4 and parts[1] == '6':
            salt, want = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            got = hashlib.sha512(pw + salt).digest()
        else:
            return False
    except (ValueError, AttributeError, UnicodeError):
        return False
    return hmac.compare_digest(got, want)


class Sessions:
    """Session token -> {'operator', 'csrf', 'seen', 'addr'}; thread-safe."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.by_token = {}

    def start(self, operator, addr):
        token = _random.token_urlsafe(32)
        s = {'operator': operator, 'csrf': _random.token_urlsafe(24), 'seen': self.clock(), 'addr': addr}
        with self.lock:
            self.by_token[token] = s
            if len(self.by_token) > SESSIONS_MAX:
                oldest = min(self.by_token, key=lambda t: self.by_token[t]['seen'])
                del self.by_token[oldest]
        return token, s

    def get(self, token):
        """The live session of `token` (its idle time restarts), or None."""
        if not token:
            return None
        with self.lock:
            s = self.by_token.get(token)
            if s is None:
                return None
            now = self.clock()
            if now - s['seen'] > SESSION_IDLE_S:
                del self.by_token[token]
                return None
            s['seen'] = now
            return s

    def end(self, token):
        with self.lock:
            return self.by_token.pop(token, None)

    def end_operator(self, operator):
        """Every session of an operator (their login was removed)."""
        with self.lock:
            for t in [t for t, s in self.by_token.items() if s['operator'] == operator]:
                del self.by_token[t]


class Throttle:
    """Failed logins counted per key (operator name, client address) over a sliding
    window; a key past FAILS_MAX is refused until its oldest failure leaves the window."""

    def __init__(self, clock=time.monotonic, limit=FAILS_MAX, window_s=FAILS_WINDOW_S):
        self.clock, self.limit, self.window_s = clock, limit, window_s
        self.lock = threading.Lock()
        self.fails = {}

    def _recent(self, key, now):
        times = [t for t in self.fails.get(key, ()) if now - t < self.window_s]
        if times:
            self.fails[key] = times
        else:
            self.fails.pop(key, None)
        return times

    def wait_s(self, *keys):
        """Seconds until any of `keys` may try again (0: now)."""
        now = self.clock()
        with self.lock:
            waits = [self.window_s - (now - times[0]) for times in (self._recent(k, now) for k in keys)
                     if len(times) >= self.limit]
        return max(waits) if waits else 0

    def failed(self, *keys):
        now = self.clock()
        with self.lock:
            for k in keys:
                self._recent(k, now)
                self.fails.setdefault(k, []).append(now)
            if len(self.fails) > 10000:        # many addresses: forget the quiet ones
                for k in [k for k, v in self.fails.items() if now - v[-1] >= self.window_s]:
                    del self.fails[k]
