# Vehicle barrier with a monitored infrared anti-crush photo-eye.
#
# States and their transitions (BAR_T): the arm moves only in OPENING and CLOSING, each
# with a maximum time; a change of direction always passes through DEAD (both motors
# off for reverse_dead_ms). Before every close the photo-eye is tested: emitter off, the
# beam must read broken (EYE_OFF); emitter on, it must read clear (EYE_ON).
#
# Anti-crush: the beam breaking while CLOSING stops motor_down in the same call as the
# input edge, then reverses to open (barrier.obstructed, active until the beam clears).
# A second obstruction before the arm reaches the down limit holds it open with
# barrier.fault (repeated_obstruction) until `reset`. A failed eye test, a move past
# travel_timeout_s or both limits at once is barrier.fault: motors off, close refused.
# Site fire linkage: the arm opens and stays open (no auto-close, close refused) until the
# site's fire state is reset; barrier.fire_open is active meanwhile. A faulted barrier
# does not move for it (it stays safe) and says so in the alarm.
from compat import const
from clock import ticks_diff
from ctrl_base import Controller, SEV_INFO

UNKNOWN = const(0)
CLOSED = const(1)
OPENING = const(2)
OPEN = const(3)
EYE_OFF = const(4)
EYE_ON = const(5)
CLOSING = const(6)
DEAD = const(7)
STOPPED = const(8)
FAULT = const(9)

NAMES = ('unknown', 'closed', 'opening', 'open', 'eye_test', 'eye_test', 'closing', 'reversing',
         'stopped', 'fault')

BAR_T = (
    (UNKNOWN, CLOSED), (UNKNOWN, OPEN), (UNKNOWN, OPENING), (UNKNOWN, FAULT),
    (CLOSED, OPENING), (CLOSED, OPEN), (CLOSED, FAULT),
    (OPENING, OPEN), (OPENING, STOPPED), (OPENING, FAULT),
    (OPEN, EYE_OFF), (OPEN, FAULT),
    (EYE_OFF, EYE_ON), (EYE_OFF, OPEN), (EYE_OFF, STOPPED), (EYE_OFF, FAULT),
    (EYE_ON, CLOSING), (EYE_ON, OPEN), (EYE_ON, STOPPED), (EYE_ON, FAULT),
    (CLOSING, CLOSED), (CLOSING, DEAD), (CLOSING, STOPPED), (CLOSING, FAULT),
    (DEAD, OPENING), (DEAD, STOPPED), (DEAD, FAULT),
    (STOPPED, OPENING), (STOPPED, OPEN), (STOPPED, EYE_OFF), (STOPPED, FAULT),
    (FAULT, UNKNOWN),
)
MOVING = (OPENING, CLOSING)


class Barrier(Controller):
    TYPE = 'barrier'
    SIGNED = ('open',)    # with a key on the board, these need a signed, fresh command
    FIRE_LINKED = True    # the site's fire state opens the arm and holds it open (site_fire)
    INPUTS = ('beam', 'loop', 'up_limit', 'down_limit')
    OUTPUTS = ('motor_up', 'motor_down', 'eye_tx')
    OPTIONAL = ('loop',)
    SAFE = {'motor_up': 0, 'motor_down': 0, 'eye_tx': 1}
    FAST = {'beam': 'beam_debounce_ms'}

    def __init__(self, name, cfg):
        Controller.__init__(self, name, cfg)
        self.travel_ms = int(self.num('travel_timeout_s') * 1000)
        self.dead_ms = int(self.num('reverse_dead_ms'))
        self.eye_ms = int(self.num('eye_test_ms'))
        self.auto_ms = int(self.num('auto_close_s') * 1000)
        self.max_obs = int(self.num('max_obstructions'))
        self.st = UNKNOWN
        self.since = 0            # when the current state began
        self.fault = None         # reason of the active barrier.fault
        self.obstructed = False   # barrier.obstructed is active
        self.obstructions = 0     # since the arm last reached the down limit
        self.held = False         # held open after repeated obstructions, until reset
        self.clear_since = None   # when the way became clear while OPEN (auto-close timer)
        self.close_by = 'cmd'
        self.fire = False         # site fire linkage holds the arm open
        self.out('motor_up', 0)
        self.out('motor_down', 0)
        self.out('eye_tx', 1)

    # --- motion: the only place motor outputs change -----------------------------------------
    def _motors(self, up, down):
        if up and down:
            raise Exception('interlock: both motor outputs requested')
        if up and self.outputs.get('motor_down') or down and self.outputs.get('motor_up'):
            raise Exception('interlock: direction change without dead time')
        self.out('motor_down', down)    # off first
        self.out('motor_up', up)

    def _go(self, new, now):
        self.st = self.go(BAR_T, self.st, new)
        self.since = now

    def _fault(self, reason, now):
        self._motors(0, 0)
        self.out('eye_tx', 1)
        if self.st != FAULT:
            self._go(FAULT, now)
        if self.fault is None:
            self.fault = reason
            self.alarm('barrier.fault', True, {'reason': reason})

    def _open(self, now, by):
        """Start (or continue) opening; from CLOSING via the dead time."""
        st = self.st
        if st == CLOSING:
            self._motors(0, 0)
            self._go(DEAD, now)
            self.emit('barrier.opening', SEV_INFO, {'by': by})
        elif st in (CLOSED, STOPPED, UNKNOWN):
            if self.value('up_limit'):
                self._go(OPEN, now)
                return
            self._go(OPENING, now)
            self._motors(1, 0)
            self.emit('barrier.opening', SEV_INFO, {'by': by})
        elif st in (EYE_OFF, EYE_ON):
            self.out('eye_tx', 1)
            self._go(OPEN, now)
            self._arm_auto(now)

    def _close(self, now, by):
        """Start a close: the eye test first."""
        self.out('eye_tx', 0)
        self._go(EYE_OFF, now)
        self.close_by = by

    def _arm_auto(self, now):
        self.clear_since = now if self._way_clear() else None

    def _way_clear(self):
        return not self.value('beam') and not self.value('loop')

    # --- inputs: the anti-crush reaction happens here, in the edge's own call -------------------
    def on_input(self, sig, v, now):
        st = self.st
        if self.value('up_limit') and self.value('down_limit'):
            self._fault('limits', now)
            return
        if sig == 'beam':
            if v and st == CLOSING:
                self._obstruction(now)
            elif v and st == EYE_OFF:
                self.out('eye_tx', 1)          # part one passed: emitter on, expect clear
                self._go(EYE_ON, now)
            if not v and self.obstructed:
                self.obstructed = False
                self.alarm('barrier.obstructed', False)
            if not v and st == EYE_ON:         # part two passed: the way is clear, close
                self._go(CLOSING, now)
                self._motors(0, 1)
                self.emit('barrier.closing', SEV_INFO, {'by': self.close_by})
        elif sig == 'loop':
            if v and st == CLOSING:
                self._open(now, 'loop')
            elif v and st in (EYE_OFF, EYE_ON):
                self._open(now, 'loop')
        elif sig == 'up_limit' and v and st == OPENING:
            self._arrived_up(now)
        elif sig == 'down_limit' and v and st == CLOSING:
            self._arrived_down(now)
        if self.st == OPEN and sig in ('beam', 'loop'):
            self._arm_auto(now)

    def _arrived_up(self, now):
        self._motors(0, 0)
        self._go(OPEN, now)
        self._arm_auto(now)
        self.emit('barrier.opened', SEV_INFO)
        if self.obstructions >= self.max_obs and not self.held:
            self.held = True
            self._hold_alarm()

    def _arrived_down(self, now):
        self._motors(0, 0)
        self._go(CLOSED, now)
        self.obstructions = 0
        self.emit('barrier.closed', SEV_INFO)

    def _obstruction(self, now):
        self._motors(0, 0)                     # stop at once; reverse after the dead time
        self._go(DEAD, now)
        self.obstructions += 1
        if not self.obstructed:
            self.obstructed = True
            self.alarm('barrier.obstructed', True, {'count': self.obstructions})
        self.emit('barrier.opening', SEV_INFO, {'by': 'obstruction'})

    def _hold_alarm(self):
        self.fault = 'repeated_obstruction'
        self.alarm('barrier.fault', True, {'reason': 'repeated_obstruction', 'count': self.obstructions})

    # --- time ---------------------------------------------------------------------------
    def on_tick(self, now):
        st = self.st
        age = ticks_diff(now, self.since)
        if st == UNKNOWN:
            if not (self._deb['up_limit'].pending() or self._deb['down_limit'].pending()):
                self._find_position(now)   # only once the limits read at boot have settled
        elif st == OPENING and self.value('up_limit'):
            self._arrived_up(now)      # the level counts: a reversal within the debounce
        elif st == CLOSING and self.value('down_limit'):   # leaves no edge to react to
            self._arrived_down(now)
        elif st in MOVING and age >= self.travel_ms:
            self._fault('motor_timeout', now)
        elif st == DEAD and age > self.dead_ms:    # strictly: ms ticks may be up to 1 ms short
            # of the real time; the motor must have had at least the whole dead time
            self._go(OPENING, now)
            self._motors(1, 0)
        elif st == EYE_OFF and self.value('beam'):
            self.on_input('beam', 1, now)          # already reads broken: the level counts
        elif st == EYE_ON and not self.value('beam'):
            self.on_input('beam', 0, now)
        elif st in (EYE_OFF, EYE_ON) and age >= self.eye_ms:
            if st == EYE_OFF:
                self._fault('eye_test', now)   # the beam never broke: a dead or bridged eye
            else:
                self.out('eye_tx', 1)          # still broken with the emitter on: in the way
                self._go(OPEN, now)
                self._arm_auto(now)
        elif st == OPEN and self.auto_ms and not self.held and self.fault is None and not self.fire:
            if not self._way_clear():
                self.clear_since = None            # the timer starts again once clear
            elif self.clear_since is None:
                self.clear_since = now
            if self.clear_since is not None and ticks_diff(now, self.clear_since) >= self.auto_ms:
                self._close(now, 'auto')

    def _find_position(self, now):
        up, down = self.value('up_limit'), self.value('down_limit')
        if up and down:
            self._fault('limits', now)
        elif up:
            self._go(OPEN, now)
            self._arm_auto(now)
        elif down:
            self._go(CLOSED, now)
            if self.fire:
                self._open(now, 'fire')
        else:
            self._open(now, 'power_up')        # unknown position: open before anything else

    # --- site fire linkage -------------------------------------------------------------------
    def site_fire(self, active, now):
        if active == self.fire:
            return
        self.fire = active
        if not active:
            self.alarm('barrier.fire_open', False)
            if self.st == OPEN:
                self._arm_auto(now)        # back to normal: auto-close once the way is clear
            return
        if self.st == FAULT:
            self.alarm('barrier.fire_open', True, {'blocked': self.fault})
            return
        self.alarm('barrier.fire_open', True)
        if self.st not in (OPEN, OPENING, DEAD, UNKNOWN):   # UNKNOWN: finding the position opens it
            self._open(now, 'fire')

    # --- commands -----------------------------------------------------------------------
    def cmd_open(self, args, now):
        if self.st == FAULT:
            return 'fault active (%s): send reset first' % self.fault
        self._open(now, 'cmd')
        return None

    def cmd_close(self, args, now):
        if self.fire:
            return 'fire linkage: the barrier stays open until the site fire state is reset'
        if self.fault or self.st == FAULT:
            return 'fault active (%s): the barrier stays open until reset' % self.fault
        if self.value('beam'):
            return 'beam broken: something is under the arm'
        if self.value('loop'):
            return 'vehicle on the loop'
        if self.st in (CLOSED, CLOSING, EYE_OFF, EYE_ON):
            return None
        if self.st not in (OPEN, STOPPED):
            return 'cannot close while %s' % NAMES[self.st]
        self._close(now, 'cmd')
        return None

    def cmd_stop(self, args, now):
        if self.st in (OPENING, CLOSING, DEAD, EYE_OFF, EYE_ON):
            self._motors(0, 0)
            self.out('eye_tx', 1)
            self._go(STOPPED, now)
        return None

    def cmd_reset(self, args, now):
        if self.fault is not None:
            self.alarm('barrier.fault', False, {'reason': self.fault})
        self.fault = None
        self.held = False
        self.obstructions = 0
        if self.st == FAULT:
            self._go(UNKNOWN, now)
            self._find_position(now)
            if self.fire and self.st != FAULT:
                self._open(now, 'fire')     # the fire state still holds: open now it can move
        return None

    def state(self):
        return {'state': NAMES[self.st], 'fault': self.fault, 'obstructed': self.obstructed,
                'held_open': self.held, 'obstructions': self.obstructions, 'fire': self.fire,
                'beam': self.value('beam'), 'loop': self.value('loop')}


CONTROLLER = Barrier
