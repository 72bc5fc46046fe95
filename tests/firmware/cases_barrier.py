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


# --- UL 325: warning, hold-to-run, contact edge ---------------------------------------------------
def _warned_from(b, ms):
    """The time the warn output has been on without a break, sampled every 10 ms for `ms`, and
    the state and motor_down when it ended (or at the end)."""
    on = 0
    for _ in range(ms // 10):
        if b.out('motor_down'):
            return on, st(b)
        b.run(10)
        on = on + 10 if b.out('warn') else 0
    return on, st(b)


def case_warn_before_an_auto_close_and_during_motion():
    b = make(0, {'auto_close_s': 5, 'warn_s': 2})
    eq(b.out('warn'), 0, 'quiet while closed')
    b.cmd('open')
    b.run(20)
    eq(b.out('warn'), 1, 'on while opening')
    b.run(2000)
    eq((st(b), b.out('warn')), ('open', 0), 'off once open')
    b.run(2900)                      # 3 s of the 5 s: the last 2 s warn
    eq(b.out('warn'), 0, 'not yet: only the last warn_s of auto_close_s')
    on, state = _warned_from(b, 2500)
    eq(state, 'closing', 'closed by itself')
    check(on >= 2000, 'warned %d ms before the arm moved (warn_s 2)' % on)
    b.run(500)
    eq(b.out('warn'), 1, 'on while closing')
    b.run(2000)
    eq((st(b), b.out('warn')), ('closed', 0), 'off once closed')


def case_auto_close_shorter_than_warn_s_waits_for_the_whole_warning():
    b = make(1000, {'auto_close_s': 1, 'warn_s': 4})
    eq(b.out('warn'), 1, 'warning from the start')     # (make ran 60 ms of it)
    on, state = _warned_from(b, 5000)
    eq(state, 'closing', 'closed after the warning')
    check(on >= 4000 - 60, 'warned %d ms (warn_s 4), not auto_close_s 1' % on)


def case_a_broken_beam_during_the_warning_starts_it_again():
    b = make(1000, {'auto_close_s': 2, 'warn_s': 2})
    b.run(500)
    eq(b.out('warn'), 1, 'warning')
    b.plant.obstacle = 1
    b.plant.sync(b)
    b.run(20)
    eq(b.out('warn'), 0, 'stopped while something is in the way')
    b.run(5000)
    eq(st(b), 'open', 'no close while in the way')
    b.plant.obstacle = 0
    b.plant.sync(b)
    on, state = _warned_from(b, 3000)
    check(state == 'closing' and on >= 2000, 'a whole warning again: %d ms, %s' % (on, state))


def case_a_commanded_close_warns_during_the_test_and_motion_without_delay():
    b = make(1000, {'auto_close_s': 0, 'warn_s': 3})
    eq(b.out('warn'), 0, 'quiet while open')
    b.cmd('close')
    eq(b.out('warn'), 1, 'on from the eye test on')
    b.run(30)
    eq(b.out('motor_down'), 1, 'an attended close does not wait for warn_s')
    b.run(2500)
    eq((st(b), b.out('warn')), ('closed', 0), 'closed, quiet')


def eye_failed(over=None):
    b = make(1000, over, eye_works=False)
    b.cmd('close')
    b.run(600)
    eq((st(b), b.c.fault), ('fault', 'eye_test'), 'eye test failed')
    return b


def case_hold_to_run_closes_only_while_the_key_is_held():
    b = eye_failed()
    b.set('close_held', 1)
    eq(b.out('motor_down'), 0, 'a press is debounced first')
    b.run(40)
    eq((st(b), b.out('motor_down'), b.out('warn')), ('closing_held', 1, 1), 'closing while held, warning')
    eq(b.find('barrier.closing')[3]['by'], 'hold_to_run', 'closing by hold-to-run')
    b.run(500)
    b.set('close_held', 0)
    eq((b.out('motor_down'), st(b)), (0, 'fault'), 'stopped in the call of the release')
    pos = b.plant.pos
    b.run(500)
    eq(b.plant.pos, pos, 'the arm stays where it stopped')
    eq(b.c.fault, 'eye_test', 'the fault stays raised')
    check(b.find('barrier.fault', False) is None, 'never cleared by hold-to-run')
    check(b.cmd('close') is not None, 'close still refused')
    b.set('close_held', 1)
    b.run(3000)
    eq((st(b), b.out('motor_down'), b.plant.pos), ('fault', 0, 0), 'held to the down limit: stopped there')
    check(b.find('barrier.closed') is not None, 'closed event')
    b.set('close_held', 0)
    eq(b.cmd('reset'), None, 'reset')
    eq(st(b), 'closed', 'found closed after reset')


def case_hold_to_run_stops_for_the_loop_fire_stop_and_reset():
    for why in ('loop', 'fire', 'stop', 'reset', 'edge', 'timeout'):
        b = eye_failed({'travel_timeout_s': 1} if why == 'timeout' else None)
        if why == 'timeout':
            b.plant.stuck = True
        b.set('close_held', 1)
        b.run(200)
        eq(b.out('motor_down'), 1, why + ': closing while held')
        if why == 'loop':
            b.set('loop', 1)
            b.run(30)
        elif why == 'edge':
            b.set('edge', 1)
        elif why == 'fire':
            b.c.site_fire(True, b.t)
        elif why == 'timeout':
            b.run(900)
        else:
            eq(b.cmd(why), None, why)
        eq(b.out('motor_down'), 0, why + ': stopped while the key is still held')
        eq(st(b), 'opening' if why == 'reset' else 'fault', why)   # reset: between the limits, open first


def case_hold_to_run_needs_an_eye_test_fault():
    b = make(0)
    b.plant.stuck = True
    b.cmd('open')
    b.run(4200)
    eq(b.c.fault, 'motor_timeout', 'another fault')
    b.set('close_held', 1)
    b.run(200)
    eq((st(b), b.out('motor_down')), ('fault', 0), 'no hold-to-run for a jammed motor')
    b = make(1000)
    b.set('close_held', 1)
    b.run(200)
    eq((st(b), b.out('motor_down')), ('open', 0), 'nor without a fault: the key does nothing')
    b = eye_failed()
    b.set('loop', 1)
    b.run(40)
    b.set('close_held', 1)
    b.run(200)
    eq(b.out('motor_down'), 0, 'nor with a vehicle on the loop')


def case_contact_edge_reverses_a_closing_arm_like_the_beam():
    b = make(1000, {'auto_close_s': 0})
    b.cmd('close')
    b.run(500)
    eq(st(b), 'closing', 'closing')
    b.set('edge', 1)
    eq((b.out('motor_down'), st(b)), (0, 'reversing'), 'stopped in the call of the edge')
    e = b.find('barrier.obstructed', True)
    eq((e[3]['sensor'], e[3]['count']), ('edge', 1), 'obstructed by the edge')
    b.run(400)
    eq(b.out('motor_up'), 1, 'reverses after the dead time')
    check(b.cmd('close') is not None, 'close refused while the edge is pressed')
    b.set('edge', 0)
    check(b.find('barrier.obstructed', False) is not None, 'cleared when released')
    b.run(2000)
    eq(st(b), 'open', 'fully open')


EDGED = {'auto_close_s': 2, 'warn_s': 0, 'pins': {'beam': 1, 'up_limit': 2, 'down_limit': 3, 'edge': 34, 'close_held': 7,
                                                 'motor_up': 4, 'motor_down': 5, 'eye_tx': 6}}


def edged(pos=1000):
    b = make(pos, EDGED)
    b.set('edge', 33)             # a healthy line at rest (end-of-line resistor)
    b.run(60)
    return b


def case_supervised_edge_pressed_reverses_and_its_faults_stop_every_close():
    b = edged()
    check(b.find('barrier.fault') is None, 'healthy line')
    b.cmd('close')
    b.run(500)
    eq(st(b), 'closing', 'closing')
    b.set('edge', 70)             # pressed: the active band
    eq((b.out('motor_down'), st(b)), (0, 'reversing'), 'the edge reverses at once (no debounce by default)')
    b.set('edge', 33)
    b.run(3000)
    eq(st(b), 'closing', 'auto-close once the way is clear')
    b.set('edge', 100)            # the line is cut
    eq((b.out('motor_down'), st(b)), (0, 'reversing'), 'a cut edge line reverses a close')
    eq(b.find('barrier.fault', True)[3]['reason'], 'edge_line_open', 'barrier.fault edge_line_open')
    b.run(3000)
    eq(st(b), 'open', 'open')
    b.run(5000)
    eq(st(b), 'open', 'no auto-close with the edge line cut')
    r = b.cmd('close')
    check(r is not None and 'edge line' in r, 'close refused: %r' % r)
    b.set('edge', 2)              # now shorted
    b.run(30)
    eq(b.c.snapshot()['line_fault'], 'edge_line_short', 'shorted')
    b.set('edge', 33)
    b.run(30)
    check(b.find('barrier.fault', False) is not None, 'fault cleared when the line is normal')
    eq(b.c.snapshot()['line_fault'], None, 'no line fault')
    b.run(2500)
    check(st(b) in ('closing', 'closed'), 'auto-close resumes: %s' % st(b))


def case_a_faulted_edge_line_stops_the_eye_test_and_hold_to_run():
    b = edged()
    b.plant.eye_works = False
    b.cmd('close')
    eq(b.c.st, B.EYE_OFF, 'eye test')
    b.set('edge', 100)
    eq(st(b), 'open', 'the close is given up')
    b.set('edge', 33)
    b.run(30)
    b.cmd('close')
    b.run(600)
    eq(b.c.fault, 'eye_test', 'eye failed')
    b.set('close_held', 1)
    b.run(200)
    eq(b.out('motor_down'), 1, 'hold-to-run')
    b.set('edge', 3)
    eq((b.out('motor_down'), st(b)), (0, 'fault'), 'a shorted edge stops it')


# --- random interleavings: invariants ---------------------------------------------------------
OPS = ('open', 'close', 'stop', 'reset', 'obstacle', 'clear', 'loop', 'noloop', 'wait', 'jam',
       'edge', 'noedge', 'hold', 'release', 'eye')


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
        elif op in ('edge', 'noedge'):
            b.set('edge', 1 if op == 'edge' else 0)
        elif op in ('hold', 'release'):
            b.set('close_held', 1 if op == 'hold' else 0)
        elif op == 'eye':
            b.plant.eye_works = not b.plant.eye_works
            b.plant.sync(b)
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
    check(not (down and c.edge), where + ': closing while the contact edge is pressed')
    check(not (down and c.st == B.HELD_CLOSE and not c.value('close_held')), where + ': hold-to-run not held')
    if up or down:
        check(b.out('warn') == 1, where + ': motion without the warning')
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


def case_something_in_the_way_during_the_eye_test_gives_the_close_up():
    b = _at('eye_on')
    b.run(600)
    eq((st(b), b.out('eye_tx'), b.out('motor_down')), ('open', 1, 0), 'broken with the emitter on: stays open')
    b = _at('eye_on')
    b.set('edge', 1)
    eq(st(b), 'open', 'the contact edge pressed during the test gives it up too')


def case_unwired_optional_inputs_hold_no_debouncer():
    pins = {'beam': 1, 'up_limit': 2, 'down_limit': 3, 'motor_up': 4, 'motor_down': 5, 'eye_tx': 6}
    c = B.Barrier('gate', dict(CFG, pins=pins))
    eq(sorted(c._deb), ['beam', 'down_limit', 'up_limit'], 'debouncers for the wired inputs only (heap)')
    c.input('close_held', 1, 1000)
    c.tick(2000)
    eq((c.value('close_held'), c.value('loop')), (0, 0), 'an unwired input reads inactive')
    eq(sorted(B.Barrier('gate', dict(CFG))._deb), sorted(B.Barrier.INPUTS), 'no pins named (the cases): all of them')
