# Standby generator (brief §15): starts the engine when the mains fail, cranks again after a
# rest when it does not start, cools down before stopping when the mains are back, exercises
# it weekly on a schedule, and counts its running hours.
#
# Inputs: mains_ok (1: mains present), gen_running (the engine's running feedback), gen_fault
# (optional: the engine module's own shutdown, e.g. oil pressure). Output: gen_start (a
# two-wire start: on = crank/run, off = stop).
#
# States (GEN_T): OFF; CRANK (gen_start on, waiting crank_s for gen_running); REST (off for
# rest_s between attempts); RUNNING; COOLDOWN (demand gone after a run that carried the load:
# runs on cooldown_s, a mains loss meanwhile takes it back to RUNNING); FAILED (start_attempts
# cranks without running: genset.start_failed until `reset`); FAULT (gen_fault, or the
# engine stopped by itself while running: genset.fault until `reset`). gen_start is off in
# every state but CRANK, RUNNING and COOLDOWN.
#
# Demand: the mains lost for mains_fail_s ('mains', genset.mains_fail alarm), the exercise
# schedule ('exercise', in auto mode with the wall clock set) or the `start` command
# ('manual', mode on). `stop` (mode off) stops it and keeps it off, also for a mains failure;
# `auto` goes back to the schedule and the mains. A run that carried the load (the mains
# were lost during it) cools down; an exercise or manual run stops when its demand ends.
from compat import const
from clock import ticks_diff, wall_ms
from ctrl_base import Controller, SEV_INFO
import schedule
import settings

OFF = const(0)
CRANK = const(1)
REST = const(2)
RUNNING = const(3)
COOLDOWN = const(4)
FAILED = const(5)
FAULT = const(6)
NAMES = ('off', 'cranking', 'resting', 'running', 'cooldown', 'start_failed', 'fault')

GEN_T = (
    (OFF, CRANK), (OFF, FAULT),
    (CRANK, RUNNING), (CRANK, REST), (CRANK, FAILED), (CRANK, OFF), (CRANK, FAULT),
    (REST, CRANK), (REST, RUNNING), (REST, OFF), (REST, FAULT),
    (RUNNING, COOLDOWN), (RUNNING, OFF), (RUNNING, FAULT),
    (COOLDOWN, RUNNING), (COOLDOWN, OFF), (COOLDOWN, FAULT),
    (FAILED, OFF), (FAILED, FAULT),
    (FAULT, OFF),
)
ON = (CRANK, RUNNING, COOLDOWN)     # gen_start is on


class Genset(Controller):
    TYPE = 'genset'
    INPUTS = ('mains_ok', 'gen_running', 'gen_fault')
    OUTPUTS = ('gen_start',)
    OPTIONAL = ('gen_fault',)
    HOURS = 'gs_%s.json'     # the hour meter's file (None: not kept, as in the cases)

    @classmethod
    def safe_values(cls, cfg):
        return {'gen_start': 1 if settings.get(cfg, 'fail_run', 'genset') else 0}

    def __init__(self, name, cfg):
        Controller.__init__(self, name, cfg)
        self.fail_ms = int(self.num('mains_fail_s') * 1000)
        self.crank_ms = int(self.num('crank_s') * 1000)
        self.attempts_max = int(self.num('start_attempts'))
        self.rest_ms = int(self.num('rest_s') * 1000)
        self.cool_ms = int(self.num('cooldown_s') * 1000)
        self.tz = int(self.num('tz_offset_min'))
        self.tz_changes = self.setting('tz_changes')
        self.windows = self.setting('exercise')
        self.except_days = self.setting('except_days')
        self.st = OFF
        self.since = 0
        self.mode = 'auto'
        self.mains_lost = None     # ticks when mains_ok went 0 (None: mains present)
        self.mains_fail = False    # genset.mains_fail is active (lost for mains_fail_s)
        self.by = None             # the demand the engine runs for
        self.loaded = False        # the mains were lost during this run: cool down before stopping
        self.attempts = 0
        self.fault = None
        self.run_ms = 0            # engine running time (its feedback), kept in HOURS
        self.run_since = None
        self.now = 0
        self.path = self.HOURS % name if self.HOURS else None
        if self.path:
            try:
                import config
                n = config.read_json(self.path).get('run_ms')
                if isinstance(n, int) and not isinstance(n, bool) and n > 0:
                    self.run_ms = n
            except (OSError, ValueError, AttributeError):
                pass
        self.out('gen_start', 0)

    def _go(self, new, now):
        self.st = self.go(GEN_T, self.st, new)
        self.since = now
        self.out('gen_start', 1 if new in ON else 0)

    # --- demand -----------------------------------------------------------------------------
    def time_known(self):
        return wall_ms() >= schedule.TIME_KNOWN_MS

    def exercise_due(self):
        return bool(self.windows) and self.time_known() and \
            schedule.due(self.windows, self.except_days, wall_ms(), self.tz, self.tz_changes)

    def demand(self):
        """What the engine should run for now, or None."""
        if self.mode == 'off':
            return None
        if self.mains_fail:
            return 'mains'
        if self.mode == 'on':
            return 'manual'
        return 'exercise' if self.exercise_due() else None

    # --- inputs -----------------------------------------------------------------------------
    def on_input(self, sig, v, now):
        if sig == 'mains_ok':
            if not v:
                self.mains_lost = now
                if self.st == COOLDOWN:     # lost again while cooling down: it carries the load again
                    self.by = 'mains'
                    self._go(RUNNING, now)
            else:
                self.mains_lost = None
                self._mains(False)
        elif sig == 'gen_running':
            self._hours(now, v)
            if v and self.st in (CRANK, REST):
                self._started(now)
            elif not v and self.st in (RUNNING, COOLDOWN):
                self._fault(now, 'stalled')         # stopped by itself: not asked to
        elif sig == 'gen_fault' and v:
            self._fault(now, 'gen_fault')

    def _mains(self, failed):
        if failed != self.mains_fail:
            self.mains_fail = failed
            self.alarm('genset.mains_fail', failed)
        if failed and self.st in (RUNNING, CRANK, REST):
            self.loaded = True

    def _hours(self, now, running):
        if running and self.run_since is None:
            self.run_since = now
        elif not running and self.run_since is not None:
            self.run_ms += ticks_diff(now, self.run_since)
            self.run_since = None
            if self.path:           # once per run: the hour meter survives reboots
                try:
                    import config
                    config.write_json(self.path, {'run_ms': self.run_ms})
                except OSError:
                    pass

    def _started(self, now):
        self._go(RUNNING, now)
        self.emit('genset.started', SEV_INFO, {'by': self.by, 'attempts': self.attempts})

    def _fault(self, now, reason):
        if self.st == FAULT:
            return
        self._go(FAULT, now)
        self.fault = reason
        self.alarm('genset.fault', True, {'reason': reason})

    def _crank(self, now):
        self.attempts += 1
        self._go(CRANK, now)
        self.emit('genset.starting', SEV_INFO, {'by': self.by, 'attempt': self.attempts})

    def _stop(self, now, reason):
        was = self.st
        self._go(OFF, now)
        if was in ON or was == REST:
            self.emit('genset.stopped', SEV_INFO, {'reason': reason})
        self.by = None
        self.loaded = False

    # --- time -------------------------------------------------------------------------------
    def on_tick(self, now):
        self.now = now
        if self.mains_lost is None and not self.value('mains_ok') and not self._deb['mains_ok'].pending():
            self.mains_lost = now           # no mains from boot on: no edge to tell
        if self.mains_lost is not None and not self.mains_fail and ticks_diff(now, self.mains_lost) >= self.fail_ms:
            self._mains(True)
        st = self.st
        want = self.demand()
        age = ticks_diff(now, self.since)
        if st == OFF:
            if want and not self.value('gen_fault'):
                self.by = want
                self.attempts = 0
                self.loaded = want == 'mains'
                self._crank(now)
        elif (st == CRANK or st == REST) and self.value('gen_running'):
            self._started(now)              # the level counts: running already (a reboot mid-run)
        elif st == CRANK or st == REST:
            if not want:
                self._stop(now, 'no_demand')
            elif st == CRANK and age >= self.crank_ms:
                if self.attempts >= self.attempts_max:
                    self._go(FAILED, now)
                    self.alarm('genset.start_failed', True, {'attempts': self.attempts, 'by': self.by})
                else:
                    self._go(REST, now)
            elif st == REST and age >= self.rest_ms:
                self._crank(now)
        elif st == RUNNING:
            if want == 'mains' or want == self.by or (self.loaded and self.mains_lost is not None):
                return                      # (the mains still away after a run that carried the load)
            if want:                    # e.g. a manual run the mains then needed
                self.by = want
            elif self.loaded and self.mode != 'off':
                self._go(COOLDOWN, now)
                self.emit('genset.cooldown', SEV_INFO, {'s': self.cool_ms // 1000})
            else:
                self._stop(now, 'manual' if self.mode == 'off' else self.by + '_end')
        elif st == COOLDOWN:
            if self.mode == 'off':
                self._stop(now, 'manual')
            elif want:
                self.by = want
                self._go(RUNNING, now)
            elif age >= self.cool_ms:
                self._stop(now, 'mains_back')

    # --- commands -----------------------------------------------------------------------------
    def cmd_start(self, args, now):
        if self.st in (FAILED, FAULT):
            return '%s: send reset first' % NAMES[self.st]
        self.mode = 'on'
        return None

    def cmd_stop(self, args, now):
        self.mode = 'off'
        if self.st in ON or self.st == REST:
            self._stop(now, 'manual')
        return None

    def cmd_auto(self, args, now):
        self.mode = 'auto'
        return None

    def cmd_reset(self, args, now):
        if self.st == FAULT and self.value('gen_fault'):
            return 'gen_fault still reported by the engine: clear it there first'
        if self.st == FAILED:
            self.alarm('genset.start_failed', False)
        elif self.st == FAULT:
            self.alarm('genset.fault', False, {'reason': self.fault})
        else:
            return None
        self.fault = None
        self._stop(now, 'reset')
        return None

    def state(self):
        run = self.run_ms + (ticks_diff(self.now, self.run_since) if self.run_since is not None else 0)
        return {'state': NAMES[self.st], 'mode': self.mode, 'gen_start': self.outputs.get('gen_start', 0),
                'mains': not self.mains_fail, 'mains_ok': self.value('mains_ok'),
                'running': self.value('gen_running'), 'by': self.by if self.st != OFF else None,
                'attempts': self.attempts, 'fault': self.fault, 'run_hours': round(run / 3600000, 3),
                'exercise': ('none' if not self.windows else
                             'no time yet: schedule not running' if not self.time_known() else
                             'due' if self.exercise_due() else 'not due')}


CONTROLLER = Genset
