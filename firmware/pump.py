# Water-feature / tank pump: dry-run protection, restart lockout, schedules, run supervision,
# and level alarms for tanks (with or without a pump).
#
# States (PUMP_T): OFF, RUNNING, LOW (low water: off, alarm), RESTORE (level back, waiting
# restore_s), LOCKOUT (max_trips low-water trips within trip_window_s; until `reset`),
# FAULT (ran past max_run_s; until `reset`). Low water stops the pump in the same call as
# the input edge. Mode: auto (schedule), on or off (commands `start`, `stop`, `auto`).
from compat import const
from clock import ticks_diff, wall_ms
from ctrl_base import Controller, SEV_INFO
import schedule

OFF = const(0)
RUNNING = const(1)
LOW = const(2)
RESTORE = const(3)
LOCKOUT = const(4)
FAULT = const(5)
NAMES = ('off', 'running', 'low_water', 'restoring', 'lockout', 'fault')

PUMP_T = (
    (OFF, RUNNING), (OFF, LOW), (RESTORE, LOW),
    (RUNNING, OFF), (RUNNING, LOW), (RUNNING, LOCKOUT), (RUNNING, FAULT),
    (LOW, RESTORE),
    (RESTORE, OFF),
    (LOCKOUT, OFF), (LOCKOUT, LOW),
    (FAULT, OFF), (FAULT, LOW),
)


class Pump(Controller):
    TYPE = 'pump'
    INPUTS = ('low_level', 'high_level', 'level')
    OUTPUTS = ('pump',)
    OPTIONAL = ('high_level', 'level', 'pump', 'low_level')
    ANALOG = ('level',)
    SAFE = {'pump': 0}
    DEBOUNCE = 'low_debounce_ms'
    FAST = {'level': None}   # analog: hysteresis, not debounce

    def __init__(self, name, cfg):
        Controller.__init__(self, name, cfg)
        self.restore_ms = int(self.num('restore_s') * 1000)
        self.max_trips = int(self.num('max_trips'))
        self.window_ms = int(self.num('trip_window_s') * 1000)
        self.max_run_ms = int(self.num('max_run_s') * 1000)
        self.min_off_ms = int(self.num('min_off_s') * 1000)
        self.low_pct = self.num('low_pct')
        self.hyst = self.num('hysteresis_pct')
        self.high_pct = self.num('high_pct')
        self.tz = int(self.num('tz_offset_min'))
        self.tz_changes = self.setting('tz_changes')
        self.windows = self.setting('schedule')
        self.except_days = self.setting('except_days')
        self.st = OFF
        self.since = -10000000     # so the first start is not held by min_off_s
        self.stopped_at = None
        self.mode = 'auto'
        self.trips = []            # ticks of recent low-water trips
        self.run_ms = 0            # running time, all starts
        self.level_low = False     # from the analog level, with hysteresis
        self.high = False
        self.why_off = 'schedule'
        self.fault = None
        self._low_alarm = False
        self.now = 0
        self.out('pump', 0)

    # --- the level ----------------------------------------------------------------------
    def low(self):
        return bool(self.value('low_level')) or self.level_low

    def on_input(self, sig, v, now):
        if sig == 'level':
            if not self.level_low and v < self.low_pct:
                self.level_low = True
            elif self.level_low and v >= self.low_pct + self.hyst:
                self.level_low = False
            high = self.high_pct > 0 and v >= self.high_pct
            self._high(high if not self.high else v >= self.high_pct - self.hyst)
        elif sig == 'high_level':
            self._high(bool(v))
        self._level(now)

    def _high(self, h):
        if h != self.high:
            self.high = h
            self.alarm('pump.high_level', h)

    def _level(self, now):
        low = self.low()
        st = self.st
        if low and st != LOW:
            if st == RUNNING:
                self.trips.append(now)
                self.trips = [t for t in self.trips if ticks_diff(now, t) < self.window_ms]
                locked = len(self.trips) >= self.max_trips
                self._stop(now, 'low_water', LOCKOUT if locked else LOW)
                if locked:
                    self.alarm('pump.lockout', True, {'trips': len(self.trips)})
            elif st in (OFF, RESTORE):
                self.st = self.go(PUMP_T, st, LOW)
                self.since = now
            if not self._low_alarm:                 # LOCKOUT and FAULT stay, and say it
                self._low_alarm = True
                self.alarm('pump.low_water', True)
        elif not low and self._low_alarm:
            self._low_alarm = False
            self.alarm('pump.low_water', False)
            if st == LOW:
                self.st = self.go(PUMP_T, LOW, RESTORE)
                self.since = now

    def _stop(self, now, reason, to):
        """Pump off at once, then the transition RUNNING -> `to`."""
        self.out('pump', 0)
        self.run_ms += ticks_diff(now, self.since)
        self.st = self.go(PUMP_T, RUNNING, to)
        self.since = now
        self.stopped_at = now
        self.why_off = reason
        self.emit('pump.stopped', SEV_INFO, {'reason': reason})

    # --- time ---------------------------------------------------------------------------
    def time_known(self):
        return wall_ms() >= schedule.TIME_KNOWN_MS

    def wanted(self):
        if self.mode == 'on':
            return True
        if self.mode == 'off' or not self.windows or not self.time_known():
            return False
        return schedule.due(self.windows, self.except_days, wall_ms(), self.tz, self.tz_changes)

    def on_tick(self, now):
        st = self.st
        # minimum times are strict: the ms clock may be up to 1 ms short of the real time
        if st == RESTORE and ticks_diff(now, self.since) > self.restore_ms:
            self.st = self.go(PUMP_T, RESTORE, OFF)
            self.since = now
            st = OFF
        self.now = now
        if st == RUNNING:
            if self.max_run_ms and ticks_diff(now, self.since) >= self.max_run_ms:
                self._stop(now, 'max_run', FAULT)
                self.fault = 'max_run'
                self.alarm('pump.fault', True, {'reason': 'max_run', 'run_s': self.max_run_ms // 1000})
            elif not self.wanted():
                self._stop(now, 'manual' if self.mode == 'off' else 'schedule', OFF)
        elif st == OFF and self.wanted() and not self.low():
            if self.stopped_at is None or ticks_diff(now, self.stopped_at) > self.min_off_ms:
                self.st = self.go(PUMP_T, OFF, RUNNING)
                self.since = now
                self.out('pump', 1)
                self.emit('pump.started', SEV_INFO, {'by': 'manual' if self.mode == 'on' else 'schedule'})

    # --- commands -----------------------------------------------------------------------
    def cmd_start(self, args, now):
        if self.st == LOCKOUT:
            return 'lockout after %d low-water trips: send reset first' % len(self.trips)
        if self.st == FAULT:
            return 'fault (%s): send reset first' % self.fault
        if self.low() or self.st in (LOW, RESTORE):
            return 'low water: the pump restarts %d s after the level is back' % (self.restore_ms // 1000)
        self.mode = 'on'
        return None

    def cmd_stop(self, args, now):
        self.mode = 'off'
        if self.st == RUNNING:
            self._stop(now, 'manual', OFF)
        return None

    def cmd_auto(self, args, now):
        self.mode = 'auto'
        return None

    def cmd_reset(self, args, now):
        if self.st == LOCKOUT:
            self.alarm('pump.lockout', False)
        if self.st == FAULT:
            self.alarm('pump.fault', False, {'reason': self.fault})
        self.trips = []                 # a reset starts the trip count afresh, in any state
        if self.st in (LOCKOUT, FAULT):
            self.fault = None
            self.st = self.go(PUMP_T, self.st, LOW if self.low() else OFF)
            self.since = now
        return None

    def state(self):
        run = self.run_ms + (ticks_diff(self.now, self.since) if self.st == RUNNING else 0)
        return {'state': NAMES[self.st], 'mode': self.mode, 'pump': self.outputs.get('pump', 0),
                'low_water': self.low(), 'high_level': self.high, 'trips': len(self.trips),
                'run_hours': round(run / 3600000, 3), 'fault': self.fault,
                'schedule': ('none' if not self.windows else
                             'no time yet: schedule not running' if not self.time_known() else
                             'on' if self.wanted() and self.mode == 'auto' else 'off')}


CONTROLLER = Pump
