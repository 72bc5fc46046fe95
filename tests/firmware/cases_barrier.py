# Barrier controller cases: every transition, on CPython and on the MicroPython unix port.
import random
import barrier as B
from harness import Bench, Arm, check, eq

CFG = {'travel_timeout_s': 4, 'reverse_dead_ms': 300, 'eye_test_ms': 500, 'auto_close_s': 3,
       'debounce_ms': 20, 'max_obstructions': 2}


def make(pos=0, over=None, eye_works=True):
    cfg = dict(CFG)
    if over:
        cfg.update(over)
    b = Bench(B.Barrier('gate', cfg))
    b.plant = Arm(2000, pos, eye_works)
    b.plant.sync(b)
    b.run(60)                   # limits debounced, position found
    return b


def opened(b):
    b.cmd('open')
    b.run(2500)
    eq(B.NAMES[b.c.st], 'open', 'state after opening')


def st(b):
    return B.NAMES[b.c.st]


def case_power_up_closed_stays_closed_motors_off():
    b = make(0)
    eq(st(b), 'closed', 'state')
    eq((b.out('motor_up'), b.out('motor_down')), (0, 0), 'motors')


def case_power_up_open_is_open():
    b = make(1000)
    eq(st(b), 'open', 'state')


def case_power_up_unknown_position_opens_first():
    b = make(500)
    eq(st(b), 'opening', 'state at power-up between the limits')
    check(b.find('barrier.opening')[3].get('by') == 'power_up', 'opening by power_up')
    b.run(1500)
    eq(st(b), 'open', 'state')


def case_both_limits_is_a_fault():
    b = Bench(B.Barrier('gate', CFG))
    b.set('up_limit', 1)
    b.set('down_limit', 1)
    b.run(100)
    eq(st(b), 'fault', 'state')
    eq(b.find('barrier.fault', True)[3]['reason'], 'limits', 'reason')


def case_open_then_close_with_eye_test():
    b = make(0)
    opened(b)
    check(b.find('barrier.opened') is not None, 'opened event')
    eq(b.cmd('close'), None, 'close accepted')
    eq(b.out('eye_tx'), 0, 'emitter off for the eye test')
    b.run(20)
    eq(b.out('eye_tx'), 1, 'emitter back on once the beam read broken')
    eq(b.out('motor_down'), 1, 'closing once the beam reads clear again')
    b.run(2500)
    eq(st(b), 'closed', 'state')
    eq(b.out('motor_down'), 0, 'motor off at the down limit')
    for t in ('barrier.closing', 'barrier.closed'):
        check(b.find(t) is not None, t)


def case_beam_while_closing_stops_at_once_and_reverses_after_dead_time():
    b = make(0)
    opened(b)
    b.cmd('close')
    b.run(800)
    eq(b.out('motor_down'), 1, 'closing')
    b.plant.obstacle = 1
    b.set('beam', 1)                        # the edge itself, no tick in between
    eq((b.out('motor_down'), b.out('motor_up')), (0, 0), 'motor_down off in the edge call')
    e = b.find('barrier.obstructed', True)
    check(e is not None and e[2] == 'alarm', 'obstructed alarm')
    b.run(300)
    eq(b.out('motor_up'), 0, 'no reverse at reverse_dead_ms on the ms clock (its real time may be 1 ms short)')
    b.run(10)
    eq(b.out('motor_up'), 1, 'reversing after reverse_dead_ms')
    b.run(2000)
    eq(st(b), 'open', 'opened fully')
    b.run(5000)
    eq(st(b), 'open', 'no auto-close while the beam is broken')
    b.plant.obstacle = 0
    b.run(20)
    check(b.find('barrier.obstructed', False) is not None, 'obstructed cleared with the beam')
    b.run(2900)
    eq(st(b), 'open', 'auto-close re-armed when the beam cleared, not before auto_close_s')
    b.run(200)
    check(st(b) in ('eye_test', 'closing'), 'auto-close started: %s' % st(b))


def case_beam_while_opening_keeps_opening():
    b = make(0)
    b.cmd('open')
    b.run(500)
    b.plant.obstacle = 1
    b.run(2000)
    eq(st(b), 'open', 'kept opening')
    check(b.find('barrier.obstructed') is None, 'no obstruction while opening')


def case_eye_test_failure_is_a_fault_and_refuses_close():
    b = make(1000, eye_works=False)         # the beam never breaks: bridged or dead eye
    eq(b.cmd('close'), None, 'close starts the test')
    b.run(600)
    eq(st(b), 'fault', 'state')
    eq(b.find('barrier.fault', True)[3]['reason'], 'eye_test', 'reason')
    eq((b.out('motor_up'), b.out('motor_down'), b.out('eye_tx')), (0, 0, 1), 'outputs safe')
    err = b.cmd('close')
    check(err is not None and 'fault' in err, 'close refused: %r' % err)
    check(b.cmd('open') is not None, 'open refused in fault until reset')
    eq(b.cmd('reset'), None, 'reset')
    check(b.find('barrier.fault', False) is not None, 'fault cleared')
    eq(st(b), 'open', 'position found after reset')


def case_motor_timeout_is_a_fault_with_motors_off():
    b = make(0)
    b.plant.stuck = True
    b.cmd('open')
    b.run(3900)
    eq(b.out('motor_up'), 1, 'still trying before travel_timeout_s')
    b.run(200)
    eq(st(b), 'fault', 'state')
    eq(b.find('barrier.fault', True)[3]['reason'], 'motor_timeout', 'reason')
    eq((b.out('motor_up'), b.out('motor_down')), (0, 0), 'motors off')


def case_second_obstruction_holds_open_until_reset():
    b = make(0)
    opened(b)
    for i in range(2):
        b.cmd('close')
        b.run(800)
        b.plant.obstacle = 1
        b.set('beam', 1)
        b.run(2500)
        b.plant.obstacle = 0
        b.run(50)
    eq(st(b), 'open', 'open after the second obstruction')
    e = b.find('barrier.fault', True)
    check(e is not None and e[3]['reason'] == 'repeated_obstruction', 'hold alarm')
    b.run(10000)
    eq(st(b), 'open', 'no auto-close while held')
    check(b.cmd('close') is not None, 'close refused while held')
    eq(b.cmd('reset'), None, 'reset')
    eq(b.cmd('close'), None, 'close after reset')
    b.run(3000)
    eq(st(b), 'closed', 'closed after reset')


def case_loop_holds_open_and_auto_close_follows_the_vehicle():
    b = make(0)
    opened(b)
    b.set('loop', 1)
    b.run(10000)
    eq(st(b), 'open', 'held open by the loop')
    b.set('loop', 0)
    b.run(2900)
    eq(st(b), 'open', 'not before auto_close_s after the vehicle left')
    b.run(200)
    check(st(b) in ('eye_test', 'closing'), 'auto-close: %s' % st(b))


def case_loop_while_closing_reverses():
    b = make(0)
    opened(b)
    b.cmd('close')
    b.run(800)
    b.set('loop', 1)
    b.run(30)
    eq(b.out('motor_down'), 0, 'stopped')
    b.run(2500)
    eq(st(b), 'open', 'reopened for the vehicle')


def case_close_refusals_name_the_reason():
    b = make(1000)
    b.plant.obstacle = 1
    b.run(50)
    check('beam' in b.cmd('close'), 'beam')
    b.plant.obstacle = 0
    b.set('loop', 1)
    b.run(50)
    check('loop' in b.cmd('close'), 'loop')
    eq(st(b), 'open', 'nothing moved')


def case_stop_then_open_resumes():
    b = make(0)
    b.cmd('open')
    b.run(500)
    eq(b.cmd('stop'), None, 'stop')
    eq((st(b), b.out('motor_up')), ('stopped', 0), 'stopped, motor off')
    b.run(3000)
    eq(st(b), 'stopped', 'stays stopped')
    b.cmd('open')
    b.run(2000)
    eq(st(b), 'open', 'resumed')


def case_interlock_refuses_both_motors():
    b = make(0)
    try:
        b.c._motors(1, 1)
    except Exception as e:
        check('interlock' in str(e), str(e))
    else:
        raise AssertionError('both motors accepted')


def case_illegal_transition_is_an_error():
    b = make(0)
    try:
        b.c.go(B.BAR_T, B.CLOSED, B.CLOSING)
    except Exception as e:
        check('illegal' in str(e), str(e))
        return
    raise AssertionError('CLOSED -> CLOSING accepted')


# --- random interleavings: invariants ---------------------------------------------------------
OPS = ('open', 'close', 'stop', 'reset', 'obstacle', 'clear', 'loop', 'noloop', 'wait', 'jam')


def run_sequence(steps, pos=0):
    b = make(pos)
    c = b.c
    for i in range(len(steps)):
        op, wait = steps[i]
        if op in ('open', 'close', 'stop', 'reset'):
            b.cmd(op)
        elif op == 'obstacle':
            b.plant.obstacle = 1
            b.plant.sync(b)
        elif op == 'clear':
            b.plant.obstacle = 0
            b.plant.sync(b)
        elif op == 'loop':
            b.set('loop', 1)
        elif op == 'noloop':
            b.set('loop', 0)
        elif op == 'jam':
            b.plant.stuck = not b.plant.stuck
        where = 'step %d %r t=%d state=%s' % (i, steps[i], b.t, B.NAMES[c.st])
        _check(b, where)
        end = b.t + wait
        while b.t < end:
            b.run(10)
            _check(b, where)
    return b


def _check(b, where):
    c = b.c
    up, down = b.out('motor_up'), b.out('motor_down')
    check(not (up and down), where + ': both motors on')
    check(not (down and c.value('beam')), where + ': closing while the beam is broken')
    if c.st == B.FAULT:
        check(not up and not down, where + ': motion in fault')
    if up or down:
        check(c.st in B.MOVING, where + ': motor on outside a move')
        from clock import ticks_diff
        check(ticks_diff(b.t, c.since) <= c.travel_ms, where + ': move past travel_timeout_s')


def random_steps(seed, n):
    random.seed(seed)
    return [(OPS[random.getrandbits(8) % len(OPS)], random.getrandbits(12) % 3000) for _ in range(n)]


def case_random_interleavings_keep_invariants():
    for seed in range(25):
        run_sequence(random_steps(seed, 30), (0, 500, 1000)[seed % 3])


# --- reaching each state, and every way out of it ---------------------------------------------
def _at(state):
    """A bench whose barrier is in `state` (closed, open, eye_off, eye_on, dead, stopped)."""
    if state == 'closed':
        return make(0)
    if state == 'open':
        return make(1000)
    if state == 'eye_off':
        b = make(1000, eye_works=False)      # the beam does not follow the emitter: stays in part one
        b.cmd('close')
        b.run(50)
        eq(b.c.st, B.EYE_OFF, 'eye test part one')
        return b
    if state == 'eye_on':
        b = make(1000)
        b.cmd('close')
        b.plant.obstacle = 1                 # part one passes, then the beam stays broken
        b.run(50)
        eq(b.c.st, B.EYE_ON, 'eye test part two')
        return b
    if state == 'dead':
        b = make(1000)
        b.cmd('close')
        b.run(500)
        b.plant.obstacle = 1
        b.set('beam', 1)
        eq(b.c.st, B.DEAD, 'reversing')
        return b
    if state == 'stopped':
        b = make(0)
        b.cmd('open')
        b.run(500)
        b.cmd('stop')
        return b
    raise ValueError(state)


def case_both_limits_fault_from_every_state():
    for state in ('closed', 'open', 'eye_off', 'eye_on', 'dead', 'stopped'):
        b = _at(state)
        b.plant = None
        b.set('up_limit', 1)
        b.set('down_limit', 1)
        b.run(60)
        eq(st(b), 'fault', 'both limits from %s' % state)
        eq((b.out('motor_up'), b.out('motor_down')), (0, 0), 'motors off after a fault from %s' % state)


def case_stop_from_the_eye_test_and_from_reversing():
    for state in ('eye_off', 'eye_on', 'dead'):
        b = _at(state)
        eq(b.cmd('stop'), None, 'stop in %s' % state)
        eq(st(b), 'stopped', 'stopped from %s' % state)
        eq((b.out('motor_up'), b.out('motor_down'), b.out('eye_tx')), (0, 0, 1), 'outputs after stop')


def case_open_during_the_eye_test_aborts_the_close():
    b = _at('eye_off')
    eq(b.cmd('open'), None, 'open')
    eq((st(b), b.out('eye_tx')), ('open', 1), 'aborted, emitter back on')


def case_arm_lifted_by_hand_is_found_open():
    for state in ('closed', 'stopped'):
        b = _at(state)
        b.plant.pos = 500                    # pushed up by hand, through mid-travel
        b.run(60)
        b.plant.pos = 1000                   # the up limit reads active
        b.run(60)
        eq(b.cmd('open'), None, 'open from %s' % state)
        eq((st(b), b.out('motor_up')), ('open', 0), 'found open from %s, no motion' % state)


def case_reversal_inside_the_limit_debounce_still_finds_the_top():
    # the arm leaves the up limit and is back before the limit's debounce noticed it left:
    # arrival must be judged on the level, not only on an edge
    b = make(1000, {'debounce_ms': 80, 'reverse_dead_ms': 50})
    b.run(100)
    eq(st(b), 'open', 'position found')
    b.cmd('close')
    for _ in range(10):                  # through the eye test into the close
        b.run(10)
        if b.out('motor_down'):
            break
    eq(b.out('motor_down'), 1, 'closing')
    b.plant.obstacle = 1
    b.set('beam', 1)
    b.run(300)
    eq((st(b), b.out('motor_up')), ('open', 0), 'back at the top, motor off')


def fire_bench():
    b = make()
    b.run(300)
    return b


def case_site_fire_opens_the_barrier_and_holds_it_open_until_reset():
    b = fire_bench()
    eq(B.NAMES[b.c.st], 'closed', 'starts closed')
    b.c.site_fire(True, b.t)
    b.drain()
    check(b.find('barrier.fire_open', True) is not None, 'fire_open alarm')
    b.run(3000)
    eq(B.NAMES[b.c.st], 'open', 'opened')
    check('fire linkage' in b.cmd('close'), 'close refused')
    b.run(int(CFG.get('auto_close_s', 2) * 1000) + 3000)
    eq(B.NAMES[b.c.st], 'open', 'no auto-close under fire')
    b.c.site_fire(False, b.t)
    b.drain()
    check(b.find('barrier.fire_open', False) is not None, 'cleared')
    b.run(int(CFG.get('auto_close_s', 2) * 1000) + 4000)
    eq(B.NAMES[b.c.st], 'closed', 'auto-close resumes after the reset')


def case_site_fire_while_closing_reverses_through_the_dead_time():
    b = fire_bench()
    b.cmd('open')
    b.run(3000)
    b.cmd('close')
    b.run(300)
    eq(B.NAMES[b.c.st], 'closing', 'closing')
    b.c.site_fire(True, b.t)
    b.drain()
    eq((b.out('motor_down'), b.out('motor_up')), (0, 0), 'stopped at once, dead time before up')
    b.run(3000)
    eq(B.NAMES[b.c.st], 'open', 'reopened')


def case_a_faulted_barrier_does_not_move_for_fire():
    b = fire_bench()
    b.plant.stuck = True
    b.cmd('open')
    b.run(int(CFG.get('travel_timeout_s', 4) * 1000) + 500)
    eq(B.NAMES[b.c.st], 'fault', 'faulted (motor timeout)')
    b.c.site_fire(True, b.t)
    b.drain()
    e = b.find('barrier.fire_open', True)
    check(e is not None and e[3].get('blocked') == 'motor_timeout', 'says it is blocked: %r' % (e,))
    eq((b.out('motor_up'), b.out('motor_down')), (0, 0), 'stays safe')
