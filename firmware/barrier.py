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
#
# UL 325 behaviours:
# - warn (optional output: flashing light or buzzer) is on for warn_s before every
#   auto-close (the close comes max(auto_close_s, warn_s) after the way cleared) and during
#   the eye test and every motion.
# - Hold-to-run: with barrier.fault eye_test (the photo-eye failed its self-test) the arm
#   closes only while close_held (a key switch) is held (HELD_CLOSE), stops in the call of
#   the release edge, and the fault stays raised until `reset`.
# - A contact edge (optional `edge`, on an end-of-line resistor line read through the shared
#   line supervision) reverses a closing arm like the beam. A cut or shorted edge line is
#   barrier.fault edge_line_open/_short: a close under way reverses, and no close starts
#   (command or auto) until the line is normal: the edge is checked before every close.
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
HELD_CLOSE = const(10)

NAMES = ('unknown', 'closed', 'opening', 'open', 'eye_test', 'eye_test', 'closing', 'reversing',
         'stopped', 'fault', 'closing_held')

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
    (FAULT, UNKNOWN), (FAULT, HELD_CLOSE),
    (HELD_CLOSE, FAULT),
)
MOVING = (OPENING, CLOSING, HELD_CLOSE)
WARNED = (OPENING, CLOSING, HELD_CLOSE, DEAD, EYE_OFF, EYE_ON)   # the warn output is on


class Barrier(Controller):
    TYPE = 'barrier'
    SIGNED = ('open',)    # with a key on the board, these need a signed, fresh command
    FIRE_LINKED = True    # the site's fire state opens the arm and holds it open (site_fire)
    INPUTS = ('beam', 'loop', 'up_limit', 'down_limit', 'edge', 'close_held')
    OUTPUTS = ('motor_up', 'motor_down', 'eye_tx', 'warn')
    OPTIONAL = ('loop', 'edge', 'close_held', 'warn')
    SAFE = {'motor_up': 0, 'motor_down': 0, 'eye_tx': 1, 'warn': 0}
    FAST = {'beam': 'beam_debounce_ms', 'edge': 'beam_debounce_ms'}   # entrapment sensors: on the edge

    @classmethod
    def supervised_inputs(cls, cfg):
        # the contact edge is monitored: an end-of-line line whenever it is wired
        return ('edge',) if 'edge' in (cfg.get('pins') or {}) else ()

    def __init__(self, name, cfg):
        Controller.__init__(self, name, cfg)
        self.travel_ms = int(self.num('travel_timeout_s') * 1000)
        self.dead_ms = int(self.num('reverse_dead_ms'))
        self.eye_ms = int(self.num('eye_test_ms'))
        self.auto_ms = int(self.num('auto_close_s') * 1000)
        self.max_obs = int(self.num('max_obstructions'))
        self.warn_ms = int(self.num('warn_s') * 1000)
        self.prewarn = False      # the warning before an auto-close is on
        self.edge = 0             # the contact edge is pressed
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
        self.out('warn', 0)

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
        self.prewarn = False
        self._warning()

    def _warning(self):
        self.out('warn', 1 if self.st in WARNED or self.prewarn else 0)

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
        return not self.value('beam') and not self.value('loop') and not self.edge

    def _unobstructed(self):
        if self.obstructed and not self.value('beam') and not self.edge:
            self.obstructed = False
            self.alarm('barrier.obstructed', False)

    # --- inputs: the anti-crush reaction happens here, in the edge's own call -------------------
    def input(self, sig, raw, now):
        if sig == 'close_held' and not raw and self.st == HELD_CLOSE:
            self._hold_stop(now, False)    # hold-to-run released: stop now, not a debounce later
        Controller.input(self, sig, raw, now)

    def on_input(self, sig, v, now):
        st = self.st
        if self.value('up_limit') and self.value('down_limit'):
            self._fault('limits', now)
            return
        if sig == 'beam':
            if v and st == CLOSING:
                self._obstruction(now, 'beam')
            elif v and st == HELD_CLOSE:
                self._hold_stop(now, False)
            elif v and st == EYE_OFF:
                self.out('eye_tx', 1)          # part one passed: emitter on, expect clear
                self._go(EYE_ON, now)
            if not v:
                self._unobstructed()
            if not v and st == EYE_ON:         # part two passed: the way is clear, close
                self._go(CLOSING, now)
                self._motors(0, 1)
                self.emit('barrier.closing', SEV_INFO, {'by': self.close_by})
        elif sig == 'edge':
            self.edge = v
            if v and st == CLOSING:
                self._obstruction(now, 'edge')
            elif v and st == HELD_CLOSE:
                self._hold_stop(now, False)
            elif v and st in (EYE_OFF, EYE_ON):
                self._open(now, 'edge')
            if not v:
                self._unobstructed()
        elif sig == 'loop':
            if v and st in (CLOSING, EYE_OFF, EYE_ON):
                self._open(now, 'loop')
            elif v and st == HELD_CLOSE:
                self._hold_stop(now, False)
        elif sig == 'close_held':
            if v and st == FAULT:
                self._hold_close(now)
        elif sig == 'up_limit' and v and st == OPENING:
            self._arrived_up(now)
        elif sig == 'down_limit' and v and st == CLOSING:
            self._arrived_down(now)
        elif sig == 'down_limit' and v and st == HELD_CLOSE:
            self._hold_stop(now, True)
        if self.st == OPEN and sig in ('beam', 'loop', 'edge'):
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

    def _obstruction(self, now, by):
        self._motors(0, 0)                     # stop at once; reverse after the dead time
        self._go(DEAD, now)
        self.obstructions += 1
        if not self.obstructed:
            self.obstructed = True
            self.alarm('barrier.obstructed', True, {'count': self.obstructions, 'sensor': by})
        self.emit('barrier.opening', SEV_INFO, {'by': 'obstruction'})

    # --- hold-to-run: a close by a held key switch while the photo-eye has failed ---------------
    def _hold_close(self, now):
        if self.fault != 'eye_test' or self.fire or self.value('down_limit') or not self._way_clear():
            return
        self._go(HELD_CLOSE, now)
        self._motors(0, 1)
        self.emit('barrier.closing', SEV_INFO, {'by': 'hold_to_run'})

    def _hold_stop(self, now, arrived):
        """Hold-to-run ends: motors off, back to FAULT (the eye_test fault stays raised)."""
        self._motors(0, 0)
        self._go(FAULT, now)
        if arrived:
            self.emit('barrier.closed', SEV_INFO)

    def on_line_fault(self, sig, why, now):
        """The contact edge's line is cut or shorted: it cannot protect a close. A close under
        way reverses (hold-to-run stops); none starts until the line is normal."""
        self.edge = 0
        if self.st in (CLOSING, EYE_OFF, EYE_ON):
            self._open(now, 'edge_fault')
        elif self.st == HELD_CLOSE:
            self._hold_stop(now, False)

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
        elif st == HELD_CLOSE and self.value('down_limit'):
            self._hold_stop(now, True)
        elif st == HELD_CLOSE and not self.value('close_held'):
            self._hold_stop(now, False)        # (released within the press's debounce)
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
        elif st == OPEN:
            self._auto(now)
        self._warning()

    def _auto(self, now):
        """Auto-close: the way clear (beam, loop, edge) and the edge line normal for
        auto_close_s, the warning on for the last warn_s of it (at least warn_s), then close."""
        self.prewarn = False
        if not self.auto_ms or self.held or self.fault is not None or self.fire:
            return
        if not self._way_clear() or self.line_faults:
            self.clear_since = None            # the timer starts again once clear
        elif self.clear_since is None:
            self.clear_since = now
        if self.clear_since is None:
            return
        due = self.auto_ms if self.auto_ms > self.warn_ms else self.warn_ms
        age = ticks_diff(now, self.clear_since)
        if age >= due:
            self._close(now, 'auto')
        else:
            self.prewarn = age >= due - self.warn_ms

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
        if active and self.st == HELD_CLOSE:
            self._hold_stop(now, False)
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
    def access_grant(self, now):
        if self.st == FAULT:
            return 'barrier_fault'
        self._open(now, 'card')
        return None

    def cmd_open(self, args, now):
        if self.st in (FAULT, HELD_CLOSE):
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
        if self.edge:
            return 'contact edge pressed: something is under the arm'
        if self.line_faulted('edge'):
            return 'contact edge line fault (%s): no close until the line is normal' % self.line_faults['edge']
        if self.st in (CLOSED, CLOSING, EYE_OFF, EYE_ON):
            return None
        if self.st not in (OPEN, STOPPED):
            return 'cannot close while %s' % NAMES[self.st]
        self._close(now, 'cmd')
        return None

    def cmd_stop(self, args, now):
        if self.st == HELD_CLOSE:
            self._hold_stop(now, False)
        elif self.st in (OPENING, CLOSING, DEAD, EYE_OFF, EYE_ON):
            self._motors(0, 0)
            self.out('eye_tx', 1)
            self._go(STOPPED, now)
        return None

    def cmd_reset(self, args, now):
        if self.st == HELD_CLOSE:
            self._hold_stop(now, False)
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
                'beam': self.value('beam'), 'loop': self.value('loop'), 'edge': self.edge,
                'warn': self.outputs.get('warn', 0), 'line_fault': self.line_fault()}


CONTROLLER = Barrier
