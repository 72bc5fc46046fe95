"""The limit on wrong disarm PINs (`edgectl zone disarm`): after LIMIT wrong PINs within
WINDOW_S for one zone, or for one operator, further attempts on that zone (or by that
operator) are refused for LOCKOUT_S, whatever the PIN. The counts live in
`<site>.pinguard.json` beside the site file (0600, written whole to a temporary file and
renamed in, under an exclusive lock), so the limit holds across processes and restarts.

A right PIN clears that operator's count, never the zone's: an operator who knows their own
PIN cannot wipe out the wrong guesses made on a zone under another name. Nothing but
`edgectl zone unlock` (the site's administrator, who can write its secrets and this file)
ends a lockout early; the control-room logins (MQTT) never reach this file. It binds only
who cannot write the site's files: whoever can disarm (which needs the site's secrets to
sign) can also run `zone unlock` or remove the counts. Times are wall-clock (they outlast
restarts), so setting the host's clock forward ends a lockout early.

Each attempt holds the lock from the lockout check through the PIN's hash to its count
(attempt()), so attempts made side by side are counted one by one."""
import contextlib
import json
import os
import time
from pathlib import Path

LIMIT = 5               # wrong PINs ...
WINDOW_S = 600          # ... within this long lock ...
LOCKOUT_S = 900         # ... for this long


def path_for(site_path):
    p = Path(site_path)
    return p.with_name(p.stem + '.pinguard.json')


def _keys(zone, operator):
    return ['zone:' + zone] + (['operator:' + operator] if operator else [])


class Guard:
    def __init__(self, site_path, limit=LIMIT, window_s=WINDOW_S, lockout_s=LOCKOUT_S):
        self.path = path_for(site_path)
        self.limit, self.window_s, self.lockout_s = limit, window_s, lockout_s

    @contextlib.contextmanager
    def _state(self):
        """The counts, under an exclusive lock held across read and write (another process
        waits): {key: {"wrong": [times], "until": time}}; written back when changed."""
        import fcntl
        try:
            fd = os.open(str(self.path) + '.lock', os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as e:
            from ..core.errors import EdgeError
            raise EdgeError('cannot use the PIN limit beside the site file (%s): %s' % (self.path, e.strerror), 1)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                state = json.loads(self.path.read_text())
                if not isinstance(state, dict):
                    raise ValueError
            except FileNotFoundError:
                state = {}
            except ValueError:          # damaged: locked down rather than open to guessing
                state = {'damaged': {'wrong': [], 'until': time.time() + self.lockout_s}}
            before = json.dumps(state, sort_keys=True)
            yield state
            if json.dumps(state, sort_keys=True) != before:
                tmp = str(self.path) + '.tmp'
                tfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
                os.fchmod(tfd, 0o600)       # (one left by another umask or hand)
                with os.fdopen(tfd, 'w') as f:
                    json.dump(state, f)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
        finally:
            os.close(fd)        # (the lock goes with it)

    def locked(self, zone, operator=None, now=None):
        """(seconds left, what is locked: 'zone vault' / 'operator ann') of the longest lockout
        that covers this attempt, or (0, None)."""
        now = time.time() if now is None else now
        with self._state() as st:
            return _left(st, zone, operator, now)

    def wrong(self, zone, operator=None, now=None):
        """Count a wrong PIN. Returns (wrong PINs in the window for the zone, the keys that
        this one locked: [(what, seconds)])."""
        now = time.time() if now is None else now
        with self._state() as st:
            return self._count(st, zone, operator, now)

    def attempt(self, zone, operator, check, now=None):
        """One disarm PIN, from the lockout check to its count under one lock (check() hashes
        the PIN meanwhile), so attempts made side by side cannot all pass the check before any
        is counted. ('locked', (seconds left, what)), ('right', None) or ('wrong', (count,
        locks)) as wrong() gives them."""
        with self._state() as st:
            now = time.time() if now is None else now
            left = _left(st, zone, operator, now)
            if left[0] > 0:
                return 'locked', left
            if check():
                st.pop('operator:' + operator, None)
                return 'right', None
            return 'wrong', self._count(st, zone, operator, now)

    def _count(self, st, zone, operator, now):
        locks = []
        counts = []
        for k in _keys(zone, operator):
            e = st.setdefault(k, {'wrong': [], 'until': 0})
            e['wrong'] = [t for t in e['wrong'] if now - t < self.window_s] + [now]
            counts.append(len(e['wrong']))
            if len(e['wrong']) >= self.limit and e.get('until', 0) <= now:
                e['until'], e['wrong'] = now + self.lockout_s, []
                locks.append((k.replace(':', ' ', 1), self.lockout_s))
        return counts[0], locks

    def right(self, operator):
        """A right PIN: that operator's count starts again (the zone's stays)."""
        with self._state() as st:
            st.pop('operator:' + operator, None)

    def unlock(self, name):
        """The administrator ends the lockouts and counts of zone or operator `name`; the
        names it cleared."""
        with self._state() as st:
            gone = [k for k in ('zone:' + name, 'operator:' + name, 'damaged') if st.pop(k, None) is not None]
        return [k.replace(':', ' ', 1) for k in gone]


def _left(st, zone, operator, now):
    left = max([((st.get(k) or {}).get('until', 0) - now, k.replace(':', ' ', 1))
                for k in _keys(zone, operator) + ['damaged']])
    return (left[0], left[1]) if left[0] > 0 else (0, None)


def span(s):
    """'14 min 5 s' / '40 s'."""
    s = int(s + 0.999)
    return '%d min %d s' % (s // 60, s % 60) if s >= 60 else '%d s' % s
