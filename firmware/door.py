# Access-controlled door: lock, contact, request-to-exit, fire release.
#
# Two state variables, each with an explicit transition table:
#   lock: LOCKED -> UNLOCKED (rex/cmd) -> LOCKED (timer/cmd); any -> RELEASED (fire) -> LOCKED
#   (fire: the door's fire input or the site's fire linkage; released while either is active)
#   door: CLOSED -> OPEN -> HELD (past held_open_s) ; OPEN/HELD -> CLOSED
# Alarms: door.forced (opened while LOCKED), door.held_open, door.fire_release; each raised
# with active=true and cleared with active=false.
from compat import const
from clock import ticks_diff
from ctrl_base import Controller, SEV_INFO
import settings

LOCKED = const(0)
UNLOCKED = const(1)
RELEASED = const(2)
CLOSED = const(0)
OPEN = const(1)
HELD = const(2)

LOCK_NAMES = ('locked', 'unlocked', 'released')
DOOR_NAMES = ('closed', 'open', 'held_open')

LOCK_T = (
    (LOCKED, UNLOCKED), (UNLOCKED, LOCKED),
    (LOCKED, RELEASED), (UNLOCKED, RELEASED), (RELEASED, LOCKED),
)
DOOR_T = ((CLOSED, OPEN), (OPEN, HELD), (OPEN, CLOSED), (HELD, CLOSED))


class Door(Controller):
    TYPE = 'door'
    SIGNED = ('unlock',)    # with a key on the board, these need a signed, fresh command
    FIRE_LINKED = True      # the site's fire state releases the lock (site_fire)
    INPUTS = ('contact', 'rex', 'fire')
    OUTPUTS = ('lock', 'buzzer')
    OPTIONAL = ('rex', 'fire', 'buzzer')

    @classmethod
    def safe_values(cls, cfg):
        # fail-safe doors (the default) release on error; fail-secure doors stay locked
        return {'lock': 0 if settings.get(cfg, 'fail_safe', 'door') else 1, 'buzzer': 0}

    @classmethod
    def supervised_inputs(cls, cfg):
        # a contact line with an end-of-line resistor is read through the line supervisor
        return ('contact',) if settings.get(cfg, 'contact_eol', 'door') else ()

    def __init__(self, name, cfg):
        Controller.__init__(self, name, cfg)
        self.held_ms = int(self.num('held_open_s') * 1000)
        pre = int(self.num('prealarm_s') * 1000)
        self.pre_ms = self.held_ms - pre if 0 < pre < self.held_ms else -1
        self.unlock_ms = int(self.num('unlock_s') * 1000)
        # s= of `unlock` has unlock_s's safety bound: read now, while the settings table is
        # loaded (boot), not per command (loading it then faulted a door on a short heap)
        Door.unlock_hi = settings.spec('unlock_s', 'door')[4]
        self.lock = LOCKED
        self.door = CLOSED
        self.forced = False
        self.fire = False
        self.fire_src = {}         # 'input' / 'site' -> True while that fire source is active
        self.opened_at = 0
        self.unlocked_at = 0
        self.unlock_for = self.unlock_ms
        self.out('lock', 1)
        self.out('buzzer', 0)

    # --- inputs -------------------------------------------------------------------------
    def on_input(self, sig, v, now):
        if sig == 'contact':
            if v:
                self._opened(now)
            else:
                self._closed(now)
        elif sig == 'rex':
            if v:
                self._unlock(now, 'rex', self.unlock_ms)
        elif sig == 'fire':
            self._fire_source('input', v, now)

    def _opened(self, now):
        if self.door != CLOSED:
            return
        self.door = self.go(DOOR_T, self.door, OPEN)
        self.opened_at = now
        self.emit('door.opened', SEV_INFO)
        if self.lock == LOCKED:
            self.forced = True
            self.alarm('door.forced', True)
        self._buzzer(now)

    def _closed(self, now):
        if self.door == CLOSED:
            return
        was_held = self.door == HELD
        self.door = self.go(DOOR_T, self.door, CLOSED)
        self.emit('door.closed', SEV_INFO, {'open_s': ticks_diff(now, self.opened_at) // 1000})
        if was_held:
            self.alarm('door.held_open', False)
        if self.forced:
            self.forced = False
            self.alarm('door.forced', False)
        self._buzzer(now)

    def _unlock(self, now, by, ms):
        if self.lock == RELEASED:
            return
        if self.lock == LOCKED:
            self.lock = self.go(LOCK_T, self.lock, UNLOCKED)
            self.out('lock', 0)
        self.unlocked_at = now
        self.unlock_for = ms
        self.emit('door.unlocked', SEV_INFO, {'by': by, 's': ms // 1000})

    def _relock(self, by):
        self.lock = self.go(LOCK_T, self.lock, LOCKED)
        self.out('lock', 1)
        self.emit('door.locked', SEV_INFO, {'by': by})

    def opened(self, sig):
        # the contact as the door sees it: also on an end-of-line line (no plain reading)
        return self.door != CLOSED if sig == 'contact' else Controller.opened(self, sig)

    def access_grant(self, now):
        self._unlock(now, 'card', self.unlock_ms)      # (released by fire: it stays released)
        return None

    def site_fire(self, active, now):
        self._fire_source('site', active, now)

    def fire_input(self):
        return 'input' in self.fire_src

    def _fire_source(self, src, active, now):
        """Two fire sources release the lock: the door's own fire input and the site's fire
        linkage. The lock stays released while either is active."""
        was = self.fire
        if active:
            self.fire_src[src] = True
        elif src in self.fire_src:
            del self.fire_src[src]
        self.fire = bool(self.fire_src)
        if self.fire and not was:
            self._fire_on(now, src)
        elif was and not self.fire:
            self._fire_off(now, src)

    def _fire_on(self, now, src):
        if self.lock != RELEASED:
            self.lock = self.go(LOCK_T, self.lock, RELEASED)
        self.out('lock', 0)
        self.alarm('door.fire_release', True, {'source': src})
        self._buzzer(now)

    def _fire_off(self, now, src):
        self.alarm('door.fire_release', False, {'source': src})
        if self.lock == RELEASED:
            self._relock('fire_clear')
        self._buzzer(now)

    def _buzzer(self, now):
        on = 0
        if self.door != CLOSED and not self.fire:
            if self.forced or self.door == HELD:
                on = 1
            elif self.pre_ms >= 0 and ticks_diff(now, self.opened_at) >= self.pre_ms:
                on = 1
        self.out('buzzer', on)

    # --- time ---------------------------------------------------------------------------
    def on_tick(self, now):
        if self.lock == UNLOCKED and ticks_diff(now, self.unlocked_at) >= self.unlock_for:
            self._relock('timer')
        if self.door == OPEN and not self.fire:
            open_ms = ticks_diff(now, self.opened_at)
            if open_ms >= self.held_ms:
                self.door = self.go(DOOR_T, self.door, HELD)
                self.alarm('door.held_open', True, {'open_s': open_ms // 1000})
        self._buzzer(now)

    # --- commands -----------------------------------------------------------------------
    def cmd_unlock(self, args, now):
        s = args.get('s', self.unlock_ms // 1000)
        hi = self.unlock_hi
        if not isinstance(s, int) or isinstance(s, bool) or s < 1 or s > hi:
            return "'s' must be whole seconds 1..%d" % hi
        if self.lock == RELEASED:
            return None  # already released by the fire input
        self._unlock(now, 'cmd', s * 1000)
        return None

    def cmd_lock(self, args, now):
        if self.lock == RELEASED:
            return 'fire release active: the lock stays released until the fire input clears'
        if self.lock == UNLOCKED:
            self._relock('cmd')
        return None

    def state(self):
        return {
            'lock': LOCK_NAMES[self.lock],
            'door': DOOR_NAMES[self.door],
            'forced': self.forced,
            'held_open': self.door == HELD,
            'fire': self.fire,
            'fire_sources': sorted(self.fire_src),
            'buzzer': self.outputs.get('buzzer', 0),
            'line_fault': self.line_fault(),
        }


CONTROLLER = Door
