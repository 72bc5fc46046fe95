"""Shelving: an operator puts an active alarm aside for a set time with a reason. A shelved
alarm leaves the active list (no sound, no pop-up, no escalation) and comes back by itself
when the time is up, or at once when it clears or is raised again (a new raise, another
(log, seq) from the board, is a new alarm: it is never hidden by an old shelving).

With the site's journal (host/room/store.py: table `shelves`) a shelving is the site's, not
a view's: every `edgectl web` and `edgectl monitor` on that journal reads it (within
REFRESH_S), whichever of them runs ends it when its time is up, and a restart keeps it.
Without a journal (--no-journal) it lives in the view that made it and ends with it
(`stopped`). Both ends are journaled (Store.action: `shelve`; `unshelve` with who and why:
`operator`, `expired`, `cleared`, `stopped`); of views ending one together, one journals it."""
import time

MIN_S = 60                  # shortest shelving
MAX_S = 24 * 3600           # longest: a shift; an alarm must not vanish for good
REASON_MAX = 200
REFRESH_S = 0.5             # how stale a view's copy of the site's shelvings may be


class ShelfError(ValueError):
    """A shelving that cannot be done (bad time, no reason, no such alarm)."""


def raise_of(ev):
    """Which raise of an alarm this is: 'log:seq' of a board's event (the same in every view),
    None for the control room's own alarms (they carry no sequence)."""
    if ev is None or ev.get('seq') is None:
        return None
    return '%s:%s' % (ev.get('log', 0), ev.get('seq'))


class Shelf:
    def __init__(self, store=None, clock=time.time, monotonic=time.monotonic):
        self.store = store                                              # journals both ends
        self.shared = store is not None and getattr(store, 'SHELVES', False) is True   # and keeps them
        self.clock = clock
        self.monotonic = monotonic
        self.items = {}          # alarm key -> {'by', 'at', 'until', 'reason', 'since', 'raised'} (as last read)
        self.seen = set()        # shelved alarms this view saw active: their clearing here ends the shelving
        self.read_at = None

    def refresh(self, force=False):
        """Re-read the site's shelvings (at most every REFRESH_S unless forced); `items` is
        changed in place (the monitor's escalation holds it)."""
        if not self.shared:
            return
        now = self.monotonic()
        if not force and self.read_at is not None and now - self.read_at < REFRESH_S:
            return
        rows = self.store.shelves()
        self.read_at = now
        self.items.clear()
        self.items.update(rows)
        self.seen &= set(rows)

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
        entry = {'by': by, 'at': now, 'until': now + seconds, 'reason': reason, 'since': alarm.get('_since'),
                 'raised': raise_of(alarm)}
        if self.shared:
            self.store.shelf_put(key, entry)
        self.items[key] = entry
        self.seen.add(key)
        self._journal(by, 'shelve', key, {'until': entry['until'], 'reason': reason, 'seconds': seconds})
        return entry

    def unshelve(self, key, by, why='operator', at=None):
        """End a shelving (`at`: only that one, not one made since); it, or None when there was none."""
        if self.shared:
            entry = self.store.shelf_take(key, at)
            if entry is not None or at is None:
                self.items.pop(key, None)
        else:
            entry = self.items.pop(key, None)
        self.seen.discard(key)
        if entry is not None:
            self._journal(by, 'unshelve', key, {'why': why, 'shelved_by': entry['by'], 'reason': entry['reason'],
                                                'until': entry['until'],
                                                'shelved_s': round(self.clock() - entry['at'], 1)})
        return entry

    def get(self, key):
        return self.items.get(key)

    def review(self, alarms):
        """End the shelvings that are over: time up; the alarm raised again (another raise
        than the one shelved); or cleared, when this view had seen it active. Returns the keys."""
        self.refresh()
        now = self.clock()
        ended = []
        for key, entry in list(self.items.items()):
            ev = alarms.get(key)
            if now >= entry['until']:
                why = 'expired'
            elif ev is not None and entry.get('raised') is not None and raise_of(ev) != entry['raised']:
                why = 'cleared'
            elif ev is None and key in self.seen:
                why = 'cleared'
            else:
                if ev is not None:
                    self.seen.add(key)
                continue
            if self.unshelve(key, None, why, at=entry['at']) is not None:
                ended.append(key)
            else:
                self.items.pop(key, None)     # another view ended it (or shelved it anew: read next time)
                self.read_at = None
        return ended

    def stop(self):
        """The view stops: a shelving only it kept ends (`stopped`); the site's stay."""
        if not self.shared:
            for key in list(self.items):
                self.unshelve(key, None, 'stopped')

    def _journal(self, by, action, key, detail):
        if self.store is not None:
            self.store.action(by, action, key[0], key[1], key[2], detail)
