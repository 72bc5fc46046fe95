# Standby generator cases (firmware/genset.py), on CPython and the MicroPython unix port: every
# transition of GEN_T, with an engine model that starts after its crank time or never.
import genset as G
from clock import set_wall_ms
from harness import Bench, check, eq, in_tmpdir

G.Genset.HOURS = None         # no hour-meter file in the repository (case_hours_survive_a_reboot keeps one)
DAY = 86400000
FRI = 20784 * DAY             # 2026-11-27, a Friday
CFG = {'mains_fail_s': 5, 'crank_s': 5, 'start_attempts': 3, 'rest_s': 10, 'debounce_ms': 100,
       'pins': {'mains_ok': 4, 'gen_running': 5, 'gen_fault': 13, 'gen_start': 25}}


class Engine:
    """The plant: runs `crank_ms` after gen_start turns on (never if it `fails`); stops when
    gen_start turns off or its own fault trips. mains: the mains supply (1 present)."""

    def __init__(self, crank_ms=3000, fails=False):
        self.crank = crank_ms
        self.fails = fails
        self.cranked = 0
        self.running = 0
        self.mains = 1
        self.fault = 0

    def step(self, b):
        if b.out('gen_start') and not self.fault:
            if not self.running:
                self.cranked += b.step_ms
                if not self.fails and self.cranked >= self.crank:
                    self.running = 1
        else:
            self.cranked = 0
            self.running = 0
        self.sync(b)

    def sync(self, b):
        for sig, v in (('mains_ok', self.mains), ('gen_running', self.running), ('gen_fault', self.fault)):
            if b.c.value(sig) != v or b.c._deb[sig].pending():
                b.set(sig, v)


def make(over=None, engine=None, at=FRI + 12 * 3600000):
    set_wall_ms(at)
    cfg = dict(CFG)
    if over:
        cfg.update(over)
    b = Bench(G.Genset('gen', cfg))
    b.plant = engine or Engine()
    b.plant.sync(b)
    b.run(200)
    return b


def st(b):
    return G.NAMES[b.c.st]


def mains(b, v):
    b.plant.mains = v
    b.plant.sync(b)


def running(over=None, engine=None):
    """A genset carrying the load: the mains lost, the engine started."""
    b = make(over, engine)
    mains(b, 0)
    b.run(5200 + 3300)
    eq(st(b), 'running', 'running on a mains failure')
    return b


def case_quiet_while_the_mains_are_present():
    b = make()
    b.run(60000)
    eq((st(b), b.out('gen_start'), b.events), ('off', 0, []), 'nothing happens')


def case_a_mains_dip_shorter_than_mains_fail_s_rides_through():
    b = make()
    mains(b, 0)
    b.run(4800)
    mains(b, 1)
    b.run(10000)
    eq((st(b), b.out('gen_start'), b.events), ('off', 0, []), 'no start, no alarm')


def case_mains_failure_starts_the_engine():
    b = make()
    mains(b, 0)
    b.run(5000)
    eq(b.out('gen_start'), 0, 'not before mains_fail_s (and the debounce)')
    b.run(200)
    eq((st(b), b.out('gen_start')), ('cranking', 1), 'cranking')
    check(b.find('genset.mains_fail', True) is not None, 'mains_fail alarm')
    eq(b.find('genset.starting')[3], {'by': 'mains', 'attempt': 1}, 'first attempt')
    b.run(3200)
    eq((st(b), b.out('gen_start')), ('running', 1), 'running')
    eq(b.find('genset.started')[3], {'by': 'mains', 'attempts': 1}, 'started event')
    snap = b.c.snapshot()
    eq((snap['by'], snap['mains'], snap['running']), ('mains', False, 1), 'state')


def case_mains_back_cools_down_then_stops():
    b = running()
    mains(b, 1)
    b.run(200)
    eq((st(b), b.out('gen_start')), ('cooldown', 1), 'cooling down')
    check(b.find('genset.mains_fail', False) is not None, 'mains_fail cleared')
    eq(b.find('genset.cooldown')[3], {'s': 180}, 'the brief\'s 3 minutes by default')
    b.run(179700)
    eq(b.out('gen_start'), 1, 'still running at 179.9 s')
    b.run(300)
    eq((st(b), b.out('gen_start')), ('off', 0), 'stopped after cooldown_s')
    eq(b.find('genset.stopped')[3], {'reason': 'mains_back'}, 'stopped event')


def case_a_mains_loss_during_the_cooldown_keeps_it_running():
    b = running()
    mains(b, 1)
    b.run(100000)
    eq(st(b), 'cooldown', 'cooling down')
    mains(b, 0)
    b.run(200)
    eq((st(b), b.out('gen_start')), ('running', 1), 'back to running at once')
    b.run(300000)
    eq(st(b), 'running', 'runs as long as the mains are away')
    mains(b, 1)
    b.run(179000)
    eq(st(b), 'cooldown', 'a whole cool-down again')
    b.run(1500)
    eq(st(b), 'off', 'then off')
    eq(b.types().count('genset.starting'), 1, 'the engine was never stopped and cranked again')
    b = running()
    mains(b, 1)
    b.run(100000)
    mains(b, 0)
    b.run(2000)                  # a short dip in the cool-down: no alarm, the cool-down starts again
    mains(b, 1)
    b.run(170000)
    eq(st(b), 'cooldown', 'still cooling down 170 s after the dip')
    eq(b.types().count('genset.mains_fail'), 2, 'one failure raised and cleared, the dip not')


def case_no_start_retries_after_a_rest_then_start_failed():
    b = make(engine=Engine(fails=True))
    mains(b, 0)
    while not b.out('gen_start'):
        b.run(10)
    seen = []
    last = 1
    t0 = b.t
    for _ in range(6000):
        b.run(10)
        v = b.out('gen_start')
        if v != last:
            seen.append((v, b.t - t0))
            last = v
    eq(seen, [(0, 5000), (1, 15000), (0, 20000), (1, 30000), (0, 35000)],
       'crank 5 s, rest 10 s, three attempts')
    eq((st(b), b.out('gen_start')), ('start_failed', 0), 'given up')
    eq(b.find('genset.start_failed', True)[3], {'active': True, 'attempts': 3, 'by': 'mains'}, 'alarm')
    eq([e[3]['attempt'] for e in b.events if e[1] == 'genset.starting'], [1, 2, 3], 'each attempt said')
    b.run(60000)
    eq(b.out('gen_start'), 0, 'no more cranking until reset')
    check(b.cmd('start') is not None, 'start refused until reset')
    b.plant.fails = False
    eq(b.cmd('reset'), None, 'reset')
    check(b.find('genset.start_failed', False) is not None, 'alarm cleared')
    b.run(3300)
    eq(st(b), 'running', 'the mains still away: cranked again and running')


def case_the_engine_starting_on_a_later_attempt_or_late():
    b = make(engine=Engine(crank_ms=8000))       # longer than crank_s: needs two attempts' worth
    mains(b, 0)
    b.run(5200 + 5000)
    eq(st(b), 'resting', 'the first attempt gave up')
    b.plant.crank = 2000
    b.run(10000 + 2300)
    eq(st(b), 'running', 'second attempt')
    eq(b.find('genset.started')[3]['attempts'], 2, 'two attempts')
    b = make(engine=Engine(fails=True))
    mains(b, 0)
    b.run(5200 + 5100)
    eq(st(b), 'resting', 'resting')
    b.plant = None                               # it caught after all (the run-on of the last crank)
    b.set('gen_running', 1)
    b.run(200)
    eq((st(b), b.out('gen_start')), ('running', 1), 'running from the rest')


def case_mains_back_during_a_start_gives_it_up():
    for wait in (5300, 5200 + 6000):             # while cranking, while resting
        b = make(engine=Engine(fails=True))
        mains(b, 0)
        b.run(wait)
        check(st(b) in ('cranking', 'resting'), st(b))
        mains(b, 1)
        b.run(200)
        eq((st(b), b.out('gen_start')), ('off', 0), 'off when the mains are back')
        eq(b.find('genset.stopped')[3]['reason'], 'no_demand', 'stopped: no demand')


def case_an_engine_fault_stops_it_from_every_state():
    for where in ('off', 'cranking', 'resting', 'running', 'cooldown', 'start_failed'):
        eng = Engine(fails=where in ('resting', 'start_failed'))
        b = make(engine=eng)
        if where != 'off':
            mains(b, 0)
            b.run({'cranking': 5300, 'resting': 10300, 'running': 8500, 'cooldown': 8500,
                   'start_failed': 40400}[where])
        if where == 'cooldown':
            mains(b, 1)
            b.run(200)
        eq(st(b), where, 'reached')
        b.plant.fault = 1
        b.plant.sync(b)
        b.run(200)
        eq((st(b), b.out('gen_start')), ('fault', 0), 'fault from ' + where)
        eq(b.find('genset.fault', True)[3]['reason'], 'gen_fault', 'reason')
        r = b.cmd('reset')
        check(r is not None and 'gen_fault' in r, 'reset refused while the engine reports it')
        b.plant.fault = 0
        b.plant.sync(b)
        b.run(200)
        eq(b.cmd('reset'), None, 'reset once clear')
        eq(st(b), 'off', 'off after reset')
        check(b.find('genset.fault', False) is not None, 'fault cleared')


def case_an_engine_stopping_by_itself_is_a_fault():
    b = running()
    b.plant.fails = True
    b.plant.running = 0             # it died
    b.plant.cranked = -10 ** 9
    b.run(300)
    eq((st(b), b.out('gen_start')), ('fault', 0), 'fault')
    eq(b.find('genset.fault', True)[3]['reason'], 'stalled', 'stalled')


def case_manual_start_stop_and_auto():
    b = make()
    eq(b.cmd('start'), None, 'start')
    b.run(3300)
    eq((st(b), b.find('genset.started')[3]['by']), ('running', 'manual'), 'manual run')
    eq(b.cmd('auto'), None, 'auto')
    b.run(100)
    eq((st(b), b.find('genset.stopped')[3]['reason']), ('off', 'manual_end'), 'an unloaded run stops at once')
    b = running()
    eq(b.cmd('stop'), None, 'stop during a mains failure')
    eq((st(b), b.out('gen_start')), ('off', 0), 'stopped at once: the operator knows best')
    eq(b.find('genset.stopped')[3]['reason'], 'manual', 'manual')
    b.run(30000)
    eq(b.out('gen_start'), 0, 'kept off')
    eq(b.cmd('auto'), None, 'auto')
    b.run(3300)
    eq(st(b), 'running', 'the mains still away: back on')
    b = make(engine=Engine(fails=True))
    mains(b, 0)
    b.run(5200 + 6000)
    eq(st(b), 'resting', 'resting')
    b.cmd('stop')
    eq((st(b), b.out('gen_start')), ('off', 0), 'stop while resting')
    b = running()
    mains(b, 1)
    b.run(1000)
    b.cmd('stop')
    eq((st(b), b.out('gen_start')), ('off', 0), 'stop during the cool-down')


def case_weekly_exercise_runs_in_its_window_without_a_cooldown():
    win = [[10 * 60, 10 * 60 + 30, 1 << 4]]         # Fridays 10:00-10:30
    b = make({'exercise': win}, at=FRI + 10 * 3600000 - 2000)
    eq(b.c.snapshot()['exercise'], 'not due', 'not yet')
    b.run(1500)
    eq(b.out('gen_start'), 0, 'not before 10:00')
    set_wall_ms(FRI + 10 * 3600000)
    b.run(3400)
    eq((st(b), b.find('genset.started')[3]['by']), ('running', 'exercise'), 'exercise run')
    eq(b.c.snapshot()['exercise'], 'due', 'due')
    set_wall_ms(FRI + (10 * 60 + 30) * 60000)
    b.run(100)
    eq((st(b), b.find('genset.stopped')[3]['reason']), ('off', 'exercise_end'), 'stops at the end, no cool-down')
    b = make({'exercise': win}, at=FRI + 10 * 3600000, engine=Engine(fails=True))
    b.run(36000)
    check(b.find('genset.start_failed', True) is not None, 'an exercise that does not start is an alarm')


def case_a_mains_failure_during_an_exercise_becomes_a_real_run():
    win = [[10 * 60, 10 * 60 + 30, 1 << 4]]
    b = make({'exercise': win}, at=FRI + 10 * 3600000)
    b.run(3400)
    mains(b, 0)
    b.run(5300)
    set_wall_ms(FRI + 11 * 3600000)
    b.run(1000)
    eq(st(b), 'running', 'still running past the window: the mains are away')
    mains(b, 1)
    b.run(200)
    eq(st(b), 'cooldown', 'it carried the load: cools down')


def case_no_exercise_without_the_wall_clock():
    b = make({'exercise': [[0, 0, 0x7F]]}, at=1000)
    b.run(5000)
    eq((st(b), b.c.snapshot()['exercise']), ('off', 'no time yet: schedule not running'), 'no clock')


def case_running_hours_in_state():
    b = running()
    b.run(360000)
    h = b.c.snapshot()['run_hours']
    check(0.1 <= h <= 0.11, 'about 6 minutes: %r' % h)


def case_hours_survive_a_reboot():
    def run():
        G.Genset.HOURS = 'gs_%s.json'
        try:
            b = running()
            b.run(360000)
            mains(b, 1)
            b.run(181000)
            eq(st(b), 'off', 'stopped')
            h = b.c.snapshot()['run_hours']
            again = G.Genset('gen', dict(CFG))
            eq(again.snapshot()['run_hours'], h, 'the hour meter after a reboot')
        finally:
            G.Genset.HOURS = None
    in_tmpdir('genset-hours', run)


def case_booting_without_mains_or_with_the_engine_running():
    e = Engine()
    e.mains = 0
    b = make(engine=e)
    b.run(5200)
    eq(st(b), 'cranking', 'no mains from boot on: started after mains_fail_s')
    set_wall_ms(FRI)
    b = Bench(G.Genset('gen', dict(CFG)))        # a reboot in a blackout, the engine still running
    b.set('mains_ok', 0)
    b.set('gen_running', 1)
    b.run(5300)
    eq((st(b), b.out('gen_start')), ('running', 1), 'running again without a crank time')
    eq(b.find('genset.started')[3]['by'], 'mains', 'by mains')


def case_safe_values_and_bad_settings():
    eq(G.Genset.safe_values({}), {'gen_start': 0}, 'default: the engine stops on a fault')
    eq(G.Genset.safe_values({'fail_run': True}), {'gen_start': 1}, 'or keeps running')
    try:
        G.Genset('g', {'crank_s': 'ten'})
    except Exception as e:
        check('crank_s' in str(e), str(e))
    else:
        raise AssertionError('a string crank_s accepted')


def case_the_exercise_follows_daylight_saving():
    from tzvectors import BERLIN
    jul15 = 20649 * DAY                             # a Wednesday
    win = [[10 * 60, 10 * 60 + 30, 1 << 2]]         # Wednesdays 10:00-10:30 Berlin time
    b = make({'exercise': win, 'tz_changes': BERLIN}, at=jul15 + 8 * 3600000 - 1000)
    b.run(500)
    eq(b.out('gen_start'), 0, '09:59:59 CEST: not yet')
    set_wall_ms(jul15 + 8 * 3600000)
    b.run(100)
    eq((b.out('gen_start'), b.find('genset.starting')[3]['by']), (1, 'exercise'), '10:00 CEST = 08:00 UTC')
