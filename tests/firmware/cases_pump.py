# Pump controller and schedule cases, on CPython and on the MicroPython unix port.
import random
import pump as P
import schedule
from clock import set_wall_ms, wall_ms
from harness import Bench, check, eq

DAY = 86400000
# 2026-11-27 was a Friday (day 20784 since 1970-01-01)
FRI = 20784 * DAY
MON_SUN = 0x7F
CFG = {'restore_s': 5, 'max_trips': 3, 'trip_window_s': 600, 'min_off_s': 2, 'low_debounce_ms': 50,
       'max_run_s': 0}


def make(over=None, at=FRI + 12 * 3600000):
    set_wall_ms(at)
    cfg = dict(CFG)
    if over:
        cfg.update(over)
    return Bench(P.Pump('pool', cfg))


def st(b):
    return P.NAMES[b.c.st]


def low(b, v, settle=60):
    b.set('low_level', v)
    b.run(settle)


def case_boots_off_without_a_schedule():
    b = make()
    b.run(100)
    eq((st(b), b.out('pump')), ('off', 0), 'boot')
    eq(b.c.snapshot()['schedule'], 'none', 'state says no schedule')


def case_manual_start_and_stop():
    b = make()
    eq(b.cmd('start'), None, 'start')
    b.run(20)
    eq(b.out('pump'), 1, 'running')
    eq(b.cmd('stop'), None, 'stop')
    eq(b.out('pump'), 0, 'stopped at once')
    eq(b.find('pump.stopped')[3]['reason'], 'manual', 'reason')


def case_low_water_stops_at_once_after_debounce_and_alarms():
    b = make()
    b.cmd('start')
    b.run(20)
    b.set('low_level', 1)
    b.run(40)
    eq(b.out('pump'), 1, 'still running inside low_debounce_ms')
    b.run(10)
    eq(b.out('pump'), 0, 'off once debounced')
    eq(b.find('pump.stopped')[3]['reason'], 'low_water', 'reason')
    check(b.find('pump.low_water', True) is not None, 'alarm')
    eq(st(b), 'low_water', 'state')


def case_restart_only_after_restore_s():
    b = make()
    b.cmd('start')
    b.run(20)
    low(b, 1)
    check('low water' in b.cmd('start'), 'start refused while low')
    low(b, 0)
    check(b.find('pump.low_water', False) is not None, 'alarm cleared with the level')
    eq(st(b), 'restoring', 'state')
    check('low water' in b.cmd('start'), 'start refused while restoring')
    b.run(4900)
    eq(b.out('pump'), 0, 'not before restore_s')
    b.run(b.c.since + 5000 - b.t)
    eq(b.out('pump'), 0, 'not at restore_s on the ms clock (its real time may be 1 ms short)')
    b.run(10)
    eq(b.out('pump'), 1, 'restarted after restore_s')


def case_level_dropping_again_while_restoring_goes_back_to_low():
    b = make()
    b.cmd('start')
    b.run(20)
    low(b, 1)
    low(b, 0)
    b.run(1000)
    low(b, 1)
    eq(st(b), 'low_water', 'back to low')
    low(b, 0)
    b.run(4000)
    eq(b.out('pump'), 0, 'the restore wait starts again')


def case_lockout_after_max_trips_until_reset():
    b = make()
    b.cmd('start')
    for i in range(3):
        b.run(2100)
        eq(b.out('pump'), 1, 'running before trip %d' % (i + 1))
        low(b, 1)
        low(b, 0)
        b.run(5100)
    eq(st(b), 'lockout', 'locked out after 3 trips')
    check(b.find('pump.lockout', True) is not None, 'lockout alarm')
    b.run(60000)
    eq(b.out('pump'), 0, 'stays off')
    check('lockout' in b.cmd('start'), 'start refused')
    eq(b.cmd('reset'), None, 'reset')
    check(b.find('pump.lockout', False) is not None, 'lockout cleared')
    b.run(2100)
    eq(b.out('pump'), 1, 'runs again after reset')


def case_trips_outside_the_window_do_not_lock_out():
    b = make({'trip_window_s': 10})
    b.cmd('start')
    for i in range(4):
        b.run(2100)
        low(b, 1)
        low(b, 0)
        b.run(6000)
    check(st(b) != 'lockout', 'no lockout for trips spread wider than the window')


def case_max_run_is_a_fault():
    b = make({'max_run_s': 3})
    b.cmd('start')
    b.run(2990)
    eq(b.out('pump'), 1, 'running')
    b.run(30)
    eq((st(b), b.out('pump')), ('fault', 0), 'fault, off')
    eq(b.find('pump.fault', True)[3]['reason'], 'max_run', 'reason')
    check('fault' in b.cmd('start'), 'start refused')
    b.cmd('reset')
    check(b.find('pump.fault', False) is not None, 'cleared')


def case_min_off_between_starts():
    b = make()
    b.cmd('start')
    b.run(20)
    b.cmd('stop')
    b.cmd('start')
    b.run(1900)
    eq(b.out('pump'), 0, 'held off by min_off_s')
    b.run(200)
    eq(b.out('pump'), 1, 'started after min_off_s')


def case_schedule_turns_on_at_18_and_off_at_22_30():
    win = [[18 * 60, 22 * 60 + 30, MON_SUN]]
    b = make({'schedule': win}, at=FRI + 18 * 3600000 - 1000)
    b.run(500)
    eq(b.out('pump'), 0, 'off at 17:59:59.5')
    set_wall_ms(FRI + 18 * 3600000)
    b.run(20)
    eq(b.out('pump'), 1, 'on at 18:00:00')
    eq(b.find('pump.started')[3]['by'], 'schedule', 'by')
    set_wall_ms(FRI + (22 * 60 + 30) * 60000)
    b.run(20)
    eq(b.out('pump'), 0, 'off at 22:30')
    eq(b.find('pump.stopped')[3]['reason'], 'schedule', 'reason')


def case_low_water_overrides_the_schedule_which_resumes():
    win = [[0, 0, MON_SUN]]                       # all day
    b = make({'schedule': win})
    b.run(20)
    eq(b.out('pump'), 1, 'scheduled on')
    low(b, 1)
    eq(b.out('pump'), 0, 'low water wins')
    low(b, 0)
    b.run(5100)
    eq(b.out('pump'), 1, 'schedule resumes after restore_s')


def case_no_time_no_schedule_and_state_says_so():
    b = make({'schedule': [[0, 0, MON_SUN]]}, at=1000)
    b.run(100)
    eq(b.out('pump'), 0, 'no run without the time')
    check('no time' in b.c.snapshot()['schedule'], b.c.snapshot()['schedule'])


def case_schedule_windows_days_midnight_and_exceptions():
    fri_2300 = FRI + 23 * 3600000
    sat_0100 = FRI + DAY + 3600000
    w = [[22 * 60, 2 * 60, 1 << 4]]              # Fridays 22:00 .. Saturday 02:00
    check(schedule.active(w, [], fri_2300), 'Fri 23:00')
    check(schedule.active(w, [], sat_0100), 'Sat 01:00 (carried from Friday)')
    check(not schedule.active(w, [], sat_0100 + DAY * 7 - DAY), 'Fri 01:00 is not carried from Thursday')
    check(not schedule.active(w, [20784], sat_0100), 'Friday is an exception date: nothing carried')
    check(schedule.active([[60, 120, MON_SUN]], [], FRI + 90 * 60000), '01:30 in 01:00-02:00')
    check(not schedule.active([[60, 120, 1 << 5]], [], FRI + 90 * 60000), 'Saturday-only window on Friday')
    check(schedule.active([[600, 660, MON_SUN]], [], FRI + 60000 * 60, 9 * 60), 'tz +9h')


def case_analog_level_with_hysteresis():
    b = make({'low_pct': 20, 'hysteresis_pct': 5})
    b.set('level', 50)
    b.cmd('start')
    b.run(20)
    b.set('level', 15)
    eq(b.out('pump'), 0, 'below low_pct: off at once')
    b.set('level', 22)
    eq(st(b), 'low_water', 'still low inside the hysteresis')
    b.set('level', 25)
    eq(st(b), 'restoring', 'back at low_pct + hysteresis')


def case_high_level_alarm_without_a_pump():
    b = make()
    b.set('high_level', 1)
    b.run(60)
    check(b.find('pump.high_level', True) is not None, 'high alarm')
    b.set('high_level', 0)
    b.run(60)
    check(b.find('pump.high_level', False) is not None, 'high cleared')


# --- invariants over random sequences ---------------------------------------------------------
OPS = ('low', 'ok', 'start', 'stop', 'auto', 'reset', 'wait')


def run_sequence(steps):
    b = make({'schedule': [[11 * 60, 13 * 60, MON_SUN]], 'max_run_s': 20})
    locked = False
    for i in range(len(steps)):
        op, wait = steps[i]
        if op == 'low':
            b.set('low_level', 1)
        elif op == 'ok':
            b.set('low_level', 0)
        elif op == 'wait':
            pass
        else:
            b.cmd(op)
            if op == 'reset':
                locked = False
        end = b.t + wait
        while True:
            where = 'step %d %r t=%d state=%s' % (i, steps[i], b.t, P.NAMES[b.c.st])
            if b.c.value('low_level'):
                check(b.out('pump') == 0, where + ': pump on with low water debounced')
            if b.c.st == P.LOCKOUT:
                locked = True
            if locked:
                check(b.c.st == P.LOCKOUT and b.out('pump') == 0, where + ': lockout ended without reset')
            if b.t >= end:
                break
            b.run(10)
    return b


def case_random_sequences_keep_invariants():
    for seed in range(20):
        random.seed(seed)
        run_sequence([(OPS[random.getrandbits(8) % len(OPS)], random.getrandbits(13) % 7000) for _ in range(25)])


def case_reset_while_the_water_is_still_low():
    b = make({'max_trips': 1})
    b.cmd('start')
    b.run(20)
    low(b, 1)
    eq(st(b), 'lockout', 'one trip locks out')
    eq(b.cmd('reset'), None, 'reset')
    eq(st(b), 'low_water', 'reset with the water still low: low water, not off')
    b2 = make({'max_run_s': 1})
    b2.cmd('start')
    b2.run(1010)
    eq(st(b2), 'fault', 'max run')
    low(b2, 1)
    b2.cmd('reset')
    eq(st(b2), 'low_water', 'reset of a fault with the water low')
    eq(b2.out('pump'), 0, 'still off')


# --- daylight saving: windows in a zone's local time (tz: Europe/Berlin) -------------------------
from tzvectors import BERLIN
HOUR = 3600000


def utc(day, h, m=0):
    return day * DAY + h * HOUR + m * 60000


def case_offset_follows_the_changes():
    eq(schedule.offset(BERLIN, utc(20468, 12), 0), 60, 'January: CET')
    eq(schedule.offset(BERLIN, utc(20649, 12), 0), 120, 'July: CEST')
    eq(schedule.offset(BERLIN, utc(20541, 0, 59), 0), 60, 'spring: 00:59 UTC still CET')
    eq(schedule.offset(BERLIN, utc(20541, 1), 0), 120, 'spring: 01:00 UTC is CEST')
    eq(schedule.offset(BERLIN, utc(20751, 0, 59), 0), 120, 'autumn: 00:59 UTC still CEST')
    eq(schedule.offset(BERLIN, utc(20751, 1), 0), 60, 'autumn: 01:00 UTC is CET')
    eq(schedule.offset(BERLIN, utc(20000, 0), 30), 30, 'before the first change: tz_offset_min')
    eq(schedule.offset([], utc(20468, 12), -300), -300, 'no zone: tz_offset_min')


def case_a_daily_window_keeps_local_time_across_both_changes():
    win = [[18 * 60, 22 * 60 + 30, MON_SUN]]
    for day, on_utc in ((20468, 17), (20649, 16), (20540, 17), (20541, 16), (20750, 16), (20751, 17)):
        check(not schedule.due(win, [], utc(day, on_utc) - 60000, 0, BERLIN), 'off a minute before, day %d' % day)
        check(schedule.due(win, [], utc(day, on_utc), 0, BERLIN), 'on at 18:00 local = %d:00 UTC, day %d' % (on_utc, day))


def case_spring_forward_a_window_in_the_skipped_hour_starts_when_the_clock_jumps():
    win = [[2 * 60 + 30, 4 * 60, MON_SUN]]         # 02:30-04:00 local: 02:00-03:00 does not exist on 29 Mar
    check(not schedule.due(win, [], utc(20541, 0, 59), 0, BERLIN), '01:59 CET: off')
    check(schedule.due(win, [], utc(20541, 1), 0, BERLIN), '01:00 UTC = 03:00 CEST: on at once')
    check(not schedule.due(win, [], utc(20541, 2), 0, BERLIN), '02:00 UTC = 04:00 CEST: off')


def case_across_midnight_on_both_nights():
    win = [[22 * 60, 2 * 60 + 30, MON_SUN]]        # 22:00-02:30 local, across midnight
    # spring: 28 Mar 22:00 CET = 21:00 UTC; the clock jumps 02:00 -> 03:00 at 01:00 UTC: past 02:30
    check(schedule.due(win, [], utc(20540, 21), 0, BERLIN), 'spring: on at 22:00 CET')
    check(schedule.due(win, [], utc(20541, 0, 59), 0, BERLIN), 'spring: on at 01:59 CET')
    check(not schedule.due(win, [], utc(20541, 1), 0, BERLIN), 'spring: off at 03:00 CEST (4 h that night)')
    # autumn: 24 Oct 22:00 CEST = 20:00 UTC; 02:00-02:30 local comes twice (CEST, then CET)
    got = [schedule.due(win, [], utc(20751, h, m), 0, BERLIN) for h, m in ((0, 0), (0, 29), (0, 30), (0, 59),
                                                                            (1, 0), (1, 29), (1, 30))]
    eq(got, [True, True, False, False, True, True, False], 'autumn: on in both 02:00-02:30s')
    check(schedule.due(win, [], utc(20750, 20), 0, BERLIN), 'autumn: on at 22:00 CEST = 20:00 UTC')
    check(not schedule.due(win, [], utc(20750, 19, 59), 0, BERLIN), 'autumn: off before')


def case_pump_schedule_runs_in_the_zones_local_time():
    win = [[18 * 60, 22 * 60 + 30, MON_SUN]]
    b = make({'schedule': win, 'tz_changes': BERLIN, 'tz_offset_min': 0}, at=utc(20649, 15, 59))
    b.run(20)
    eq(b.out('pump'), 0, '17:59 CEST: off')
    set_wall_ms(utc(20649, 16))
    b.run(20)
    eq(b.out('pump'), 1, '18:00 CEST = 16:00 UTC: on')
    set_wall_ms(utc(20649, 20, 30))
    b.run(20)
    eq(b.out('pump'), 0, '22:30 CEST: off')


def case_a_malformed_tz_changes_is_refused():
    import cfgcheck
    for bad in ([[5, 60], [5, 120]], [[5, 60], [3, 120]], [[5, 900]], [[5]], [5], [[True, 60]], 'Europe/Berlin'):
        err = cfgcheck.ranges({'tz_changes': bad}, 'pump')
        check(err is not None and 'tz_changes' in err, '%r: %r' % (bad, err))
    eq(cfgcheck.ranges({'tz_changes': BERLIN}, 'pump'), None, 'the host\'s list is fine')
    eq(cfgcheck.ranges({'tz_changes': BERLIN}, 'genset'), None, 'for the generator too')
