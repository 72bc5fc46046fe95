"""Shelving: an operator puts an active alarm aside for a set time with a reason. A shelved
alarm leaves the active list (no sound, no pop-up) and comes back by itself when the time is
up, or at once when it clears and is raised again (a new raise is a new alarm: it is never
hidden by an old shelving). Both ends are journaled (Store.action: `shelve`, `unshelve`
with why: `operator`, `expired`, `cleared`, or `stopped` when the view keeping it stops: a
shelving lives in the view that made it, and a restart brings the alarm back)."""
import time

MIN_S = 60                  # shortest shelving
MAX_S = 24 * 3600           # longest: a shift; an alarm must not vanish for good
REASON_MAX = 200


class ShelfError(ValueError):
    """A shelving that cannot be done (bad time, no reason, no such alarm)."""


class Shelf:
    def __init__(self, store=None, clock=time.time):
        self.store = store
        self.clock = clock
        self.items = {}          # alarm key -> {'by', 'at', 'until', 'reason', 'since'}

    def shelve(self, key, alarm, by, seconds, reason):
        """Shelve the active alarm `alarm` (its event, with `_since`) under `key`."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not MIN_S <= seconds <= MAX_S:
            raise ShelfError('shelve for %d s to %d h' % (MIN_S, MAX_S // 3600))
        reason = reason.strip() if isinstance(reason, str) else ''
        if not reason or len(reason) > REASON_MAX:
            raise ShelfError('a reason of 1..%d characters is needed' % REASON_MAX)
        if alarm is None:
            raise ShelfError('no such active alarm')
        now = self.clock()
        entry = {'by': by, 'at': now, 'until': now + seconds, 'reason': reason, 'since': alarm.get('_since')}
        self.items[key] = entry
        self._journal(by, 'shelve', key, {'until': entry['until'], 'reason': reason, 'seconds': seconds})
        return entry

    def unshelve(self, key, by, why='operator'):
        entry = self.items.pop(key, None)
        if entry is not None:
            self._journal(by, 'unshelve', key, {'why': why, 'shelved_by': entry['by'],
                                                'shelved_s': round(self.clock() - entry['at'], 1)})
        return entry

    def get(self, key):
        return self.items.get(key)

    def review(self, alarms):
        """End the shelvings that are over: time up, or the alarm cleared (not in `alarms`, the
        active alarms by key) or raised again since (another `_since`). Returns the keys."""
        now = self.clock()
        ended = []
        for key, entry in list(self.items.items()):
            ev = alarms.get(key)
            if now >= entry['until']:
                why = 'expired'
            elif ev is None or ev.get('_since') != entry['since']:
                why = 'cleared'
            else:
                continue
            self.unshelve(key, None, why)
            ended.append(key)
        return ended

    def _journal(self, by, action, key, detail):
        if self.store is not None:
            self.store.action(by, action, key[0], key[1], key[2], detail)
