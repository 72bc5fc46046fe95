# Intercom (gate call station) cases, on CPython and on the MicroPython unix port.
import random
import intercom as I
from harness import Bench, check, eq

CFG = {'ring_timeout_s': 30, 'talk_timeout_s': 60, 'strike_s': 3, 'debounce_ms': 20,
       'pins': {'call': 4, 'strike': 25, 'led': 26}}
LINED = {'pins': {'call': 4, 'line': 34, 'strike': 25, 'led': 26}}


def make(over=None, online=True, line=None):
    cfg = dict(CFG)
    if over:
        cfg.update(over)
    b = Bench(I.Intercom('gate', cfg))
    b.c.online = online
    if line is not None:
        b.set('line', line)
    b.run(50)
    return b


def press(b, hold=50):
    b.set('call', 1)
    b.run(hold)
    b.set('call', 0)
    b.run(30)


def st(b):
    return I.NAMES[b.c.st]


def call_id(b):
    e = b.find('intercom.call')
    check(e is not None, 'no intercom.call event')
    return e[3]['call']


def ringing(over=None, online=True):
    b = make(over, online)
    press(b)
    return b, call_id(b)


def answered(over=None):
    b, c = ringing(over)
    eq(b.cmd('answer', {'call': c}), None, 'answer')
    return b, c


def case_press_opens_a_call_with_an_id_and_blinks():
    b = make()
    eq((st(b), b.out('led'), b.out('strike')), ('idle', 0, 0), 'idle at boot')
    press(b)
    eq(st(b), 'ringing', 'ringing')
    eq(call_id(b), 1, 'first call id')
    seen = set()
    for _ in range(120):
        b.run(10)
        seen.add(b.out('led'))
    eq(seen, {0, 1}, 'led blinks while ringing')
    eq(b.c.snapshot()['led'], 'ringing', 'pattern named in state')


def case_second_press_while_ringing_opens_no_second_call():
    b, c = ringing()
    press(b)
    press(b)
    eq(b.types().count('intercom.call'), 1, 'one call')
    b.cmd('answer', {'call': c})
    press(b)
    eq(b.types().count('intercom.call'), 1, 'no call while answered')


def case_a_bounce_shorter_than_debounce_is_no_call():
    b = make()
    b.set('call', 1)
    b.run(10)
    b.set('call', 0)
    b.run(100)
    eq(st(b), 'idle', 'bounce ignored')


def case_call_ids_carry_the_boot_count():
    b = Bench(I.Intercom('gate', dict(CFG)))
    b.c.boot = 17
    b.run(50)
    press(b)
    eq(call_id(b), 17001, 'boot 17, first call')
    b.cmd('hangup', {'call': 17001})
    press(b)
    eq(b.events[-1][3]['call'], 17002, 'second call')


def case_answer_makes_the_led_steady():
    b, c = answered({})
    eq(st(b), 'answered', 'answered')
    e = b.find('intercom.answered')
    eq(e[3]['call'], c, 'answered names the call')
    vals = set()
    for _ in range(150):
        b.run(10)
        vals.add(b.out('led'))
    eq(vals, {1}, 'steady')


def case_answer_with_a_wrong_or_missing_id_is_refused():
    b, c = ringing()
    check('no call 99' in b.cmd('answer', {'call': 99}), 'wrong id refused')
    check("'call'" in b.cmd('answer'), 'missing id refused')
    check("'call'" in b.cmd('answer', {'call': True}), 'a boolean is no id')
    eq(st(b), 'ringing', 'still ringing')
    eq(b.cmd('answer', {'call': str(c)}), None, 'an id given as digits is fine')


def case_second_operator_answering_is_refused():
    b, c = ringing()
    eq(b.cmd('answer', {'call': c, 'by': 'desk-1'}), None, 'first operator')
    r = b.cmd('answer', {'call': c, 'by': 'desk-2'})
    check(r is not None and 'already answered by desk-1' in r, 'second refused: %r' % r)
    eq(b.types().count('intercom.answered'), 1, 'one answered event')
    eq(b.find('intercom.answered')[3]['by'], 'desk-1', 'who answered')


def case_hangup_ends_a_ringing_call():
    b, c = ringing()
    eq(b.cmd('hangup', {'call': c}), None, 'hangup')
    e = b.find('intercom.ended')
    eq((e[3]['call'], e[3]['reason']), (c, 'hangup'), 'ended by hangup')
    eq((st(b), b.out('led')), ('idle', 0), 'idle, led off')


def case_hangup_ends_an_answered_call():
    b, c = answered()
    b.run(2000)
    eq(b.cmd('hangup', {'call': c}), None, 'hangup')
    e = b.find('intercom.ended')
    eq((e[3]['reason'], e[3]['s']), ('hangup', 2), 'reason and length')
    check('no call' in b.cmd('hangup', {'call': c}), 'a second hangup is refused')
    eq(b.types().count('intercom.ended'), 1, 'ended once')


def case_ring_timeout_ends_the_call():
    b, c = ringing()
    b.run(29800)
    eq(st(b), 'ringing', 'before ring_timeout_s')
    b.run(300)
    e = b.find('intercom.ended')
    eq((e[3]['call'], e[3]['reason']), (c, 'timeout'), 'timed out')
    eq(b.out('led'), 0, 'led off')


def case_talk_timeout_ends_the_call():
    b, c = answered()
    b.run(59900)
    eq(st(b), 'answered', 'before talk_timeout_s')
    b.run(200)
    eq(b.find('intercom.ended')[3]['reason'], 'timeout', 'talk timeout')


def case_unlock_in_an_answered_call_pulses_the_strike():
    b, c = answered()
    eq(b.cmd('unlock', {'call': c}), None, 'unlock')
    eq(b.out('strike'), 1, 'released at once')
    e = b.find('intercom.unlock')
    eq((e[3]['call'], e[3]['s']), (c, 3), 'unlock event')
    b.run(2950)
    eq(b.out('strike'), 1, 'held for strike_s')
    b.run(100)
    eq(b.out('strike'), 0, 'shut after strike_s')
    eq(st(b), 'answered', 'the call goes on')


def case_a_second_unlock_holds_the_gate_again():
    b, c = answered()
    b.cmd('unlock', {'call': c})
    b.run(2000)
    b.cmd('unlock', {'call': c})
    b.run(2000)
    eq(b.out('strike'), 1, 'still released 4 s after the first')
    b.run(1100)
    eq(b.out('strike'), 0, 'shut 3 s after the second')


def case_unlock_without_an_answered_call_is_refused():
    b = make()
    r = b.cmd('unlock', {'call': 1})
    check(r is not None and 'no call' in r, 'idle: %r' % r)
    press(b)
    c = call_id(b)
    r = b.cmd('unlock', {'call': c})
    check(r is not None and 'not answered' in r, 'ringing: %r' % r)
    b.cmd('answer', {'call': c})
    r = b.cmd('unlock', {'call': c + 1})
    check(r is not None and 'no call' in r, 'wrong id: %r' % r)
    check(b.cmd('unlock') is not None, 'no id')
    eq(b.out('strike'), 0, 'never released')
    check(b.find('intercom.unlock') is None, 'no unlock event')


def case_strike_pulse_finishes_after_a_hangup():
    b, c = answered()
    b.cmd('unlock', {'call': c})
    b.run(500)
    b.cmd('hangup', {'call': c})
    eq(b.out('strike'), 1, 'the visitor still gets through')
    b.run(2600)
    eq(b.out('strike'), 0, 'shut on time')


def case_offline_ringing_shows_no_answer_and_ends_by_timeout():
    b, c = ringing(online=False)
    eq(b.c.snapshot()['led'], 'no_answer', 'no-answer pattern named')
    lit = []
    for _ in range(100):
        b.run(10)
        lit.append(b.out('led'))
    eq(sum(lit), 20, 'lit 200 ms of each second (two short flashes)')
    b.run(30000)
    eq(b.find('intercom.ended')[3]['reason'], 'timeout', 'ends by timeout')


def case_led_patterns():
    eq([I.pattern_on(I.NO_ANSWER_LED, t) for t in (0, 99, 100, 199, 200, 299, 300, 999, 1000)],
       [True, True, False, False, True, True, False, False, True], 'no answer pattern')
    eq([I.pattern_on(I.RINGING_LED, t) for t in (0, 499, 500, 999, 1000)],
       [True, True, False, False, True], 'ringing pattern')


def lined(v=33):
    b = make(LINED, line=v)
    return b


def case_open_and_shorted_line_are_faults_that_clear():
    b = lined()
    check(b.find('intercom.fault') is None, 'healthy line')
    b.set('line', 100)
    b.run(60)
    e = b.find('intercom.fault', True)
    check(e is not None and e[3]['reason'] == 'line_open', 'open: %r' % (e,))
    b.set('line', 3)
    b.run(60)
    eq(b.events[-1][3], {'active': True, 'reason': 'line_short'}, 'now shorted')
    eq(b.c.snapshot()['line_fault'], 'line_short', 'state')
    b.set('line', 33)
    b.run(60)
    eq(b.events[-1][1:3] + (b.events[-1][3]['active'],), ('intercom.fault', 'alarm', False), 'cleared')
    eq(b.c.snapshot()['line_fault'], None, 'state clear')


def case_presses_on_a_faulted_line_are_ignored():
    b = lined()
    b.set('line', 2)
    b.run(60)
    for _ in range(5):
        press(b)
    check(b.find('intercom.call') is None, 'no call on a shorted line')
    eq(b.c.snapshot()['ignored_presses'], 5, 'counted')
    b.set('line', 33)
    b.run(60)
    press(b)
    check(b.find('intercom.call') is not None, 'calls again once the line is normal')


def case_line_fault_ends_an_open_call():
    b = lined()
    press(b)
    c = call_id(b)
    b.cmd('answer', {'call': c})
    b.set('line', 100)
    b.run(60)
    e = b.find('intercom.ended')
    eq((e[3]['call'], e[3]['reason']), (c, 'line_fault'), 'ended by the fault')
    eq(b.out('led'), 0, 'led off')


def case_an_unwired_line_is_not_supervised():
    b = make()
    b.set('line', 100)          # nothing wired: a stray reading means nothing
    b.run(100)
    check(b.find('intercom.fault') is None, 'no fault')
    press(b)
    check(b.find('intercom.call') is not None, 'calls work')


def case_bad_settings_are_refused():
    for k in ('ring_timeout_s', 'talk_timeout_s', 'strike_s'):
        try:
            I.Intercom('g', {k: 'ten'})
        except Exception as e:
            check(k in str(e), 'names the setting')
        else:
            raise AssertionError('%s accepted a string' % k)


def case_blocked_station_ignores_and_counts_presses():
    b = make()
    eq(b.cmd('block', {'by': 'desk-1'}), None, 'block')
    e = b.find('intercom.blocked')
    eq((e[2], e[3]), ('warn', {'blocked': True, 'by': 'desk-1'}), 'recorded with who')
    for _ in range(4):
        press(b)
    check(b.find('intercom.call') is None, 'no call while blocked')
    snap = b.c.snapshot()
    eq((snap['blocked'], snap['blocked_presses'], snap['ignored_presses'], snap['led']),
       (True, 4, 4, 'blocked'), 'state')
    eq(b.cmd('block'), None, 'blocking again is no error')
    eq(b.types().count('intercom.blocked'), 1, 'and records nothing twice')
    eq(b.cmd('unblock', {'by': 'desk-2'}), None, 'unblock')
    eq(b.events[-1][3], {'blocked': False, 'by': 'desk-2', 'ignored': 4}, 'unblock says how many were ignored')
    eq(b.c.snapshot()['led'], 'off', 'led back to normal')
    press(b)
    check(b.find('intercom.call') is not None, 'calls again once unblocked')


def case_blocked_led_flashes_briefly():
    b = make()
    b.cmd('block')
    lit = []
    for _ in range(400):
        b.run(10)
        lit.append(b.out('led'))
    eq(sum(lit), 20, 'lit 100 ms of every 2 s (4 s watched)')
    eq([I.pattern_on(I.BLOCKED_LED, t) for t in (0, 99, 100, 1999, 2000)],
       [True, True, False, False, True], 'blocked pattern')


def case_blocking_ends_an_open_call():
    b, c = answered()
    b.cmd('unlock', {'call': c})
    eq(b.cmd('block', {'by': 'desk-1'}), None, 'block during a call')
    e = b.find('intercom.ended')
    eq((e[3]['call'], e[3]['reason']), (c, 'blocked'), 'the call ended: blocked')
    eq(st(b), 'idle', 'idle')
    check(b.cmd('unlock', {'call': c}) is not None, 'no unlock for the ended call')
    b.run(3100)
    eq(b.out('strike'), 0, 'the strike pulse given still ends on time')
    b2, c2 = ringing()
    b2.cmd('block')
    eq(b2.find('intercom.ended')[3]['reason'], 'blocked', 'a ringing call ends too')


def case_three_stations_ring_at_once_and_are_answered_each_on_its_own():
    names = ('east', 'west', 'north')
    st3 = {}
    for n in names:
        s = Bench(I.Intercom(n, dict(CFG)))
        s.c.online = True
        s.run(50)
        st3[n] = s
    for n in names:
        st3[n].set('call', 1)
    for n in names:
        st3[n].run(60)
        st3[n].set('call', 0)
    calls = {}
    for n in names:
        eq(st(st3[n]), 'ringing', n + ' rings')
        calls[n] = call_id(st3[n])
    eq(st3['west'].cmd('answer', {'call': calls['west'], 'by': 'ann'}), None, 'ann answers west')
    eq((st(st3['east']), st(st3['west']), st(st3['north'])), ('ringing', 'answered', 'ringing'),
       'only west answered')
    eq(st3['north'].cmd('answer', {'call': calls['north'], 'by': 'bob'}), None, 'bob answers north')
    eq(st3['west'].cmd('unlock', {'call': calls['west']}), None, 'ann releases west')
    eq([st3[n].out('strike') for n in names], [0, 1, 0], 'only west strike released')
    eq(st3['north'].cmd('hangup', {'call': calls['north']}), None, 'bob hangs up north')
    eq((st(st3['east']), st(st3['west']), st(st3['north'])), ('ringing', 'answered', 'idle'),
       'each call on its own')
    eq(st3['east'].cmd('answer', {'call': calls['east'], 'by': 'carl'}), None, 'carl answers east')
    eq(st3['east'].find('intercom.answered')[3]['by'], 'carl', 'answered by carl')


OPS = ('press', 'answer', 'answer_wrong', 'hangup', 'unlock', 'unlock_wrong', 'line_short',
       'line_open', 'line_ok', 'online', 'offline', 'wait', 'block', 'unblock')


def run_sequence(steps):
    """Random presses, commands, line faults and waits. Invariants: the strike is released
    only by an accepted unlock in an answered call; every call ends exactly once."""
    b = make(LINED, line=33)
    for i in range(len(steps)):
        op, wait = steps[i]
        cur = b.c.call_id if b.c.st != I.IDLE else None
        before = b.out('strike')
        r = None
        if op == 'press':
            b.set('call', 1)
        elif op in ('answer', 'hangup', 'unlock'):
            r = b.cmd(op, {'call': cur if cur is not None else 1})
        elif op in ('answer_wrong', 'unlock_wrong'):
            r = b.cmd(op.split('_')[0], {'call': (cur or 0) + 500})
            check(r is not None, 'step %d: a wrong call id was accepted' % i)
        elif op.startswith('line_'):
            b.set('line', {'line_short': 2, 'line_open': 99, 'line_ok': 33}[op])
        elif op in ('online', 'offline'):
            b.c.online = op == 'online'
        elif op in ('block', 'unblock'):
            eq(b.cmd(op, {'by': 'desk'}), None, op)
        if b.c.blocked:
            check(b.c.st == I.IDLE, 'step %d: a call open on a blocked station' % i)
        where = 'step %d %r state=%s' % (i, steps[i], I.NAMES[b.c.st])
        if b.out('strike') and not before:
            check(op == 'unlock' and r is None and b.c.st == I.ANSWERED, where + ': strike released')
        end = b.t + wait
        while b.t < end:
            was = b.out('strike')
            b.run(10)
            check(not (b.out('strike') and not was), where + ': strike released by time')
        if op == 'press':
            b.set('call', 0)
    b.set('line', 33)
    b.run(200000)           # every open call times out
    check(b.c.ignored >= b.c.blocked_presses, 'presses ignored while blocked are counted')
    opened = [e[3]['call'] for e in b.events if e[1] == 'intercom.call']
    ended = [e[3]['call'] for e in b.events if e[1] == 'intercom.ended']
    eq(ended, opened, 'every call ends exactly once, in order')
    eq(b.out('strike'), 0, 'shut at the end')
    return b


def case_random_sequences_keep_invariants():
    random.seed(7)
    for _ in range(15):
        run_sequence([(OPS[random.getrandbits(8) % len(OPS)], random.getrandbits(14) % 9000)
                      for _ in range(25)])
