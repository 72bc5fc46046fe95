# Door controller cases: run by pytest under CPython and by mp_runner.py on the
# MicroPython unix port, so both interpreters agree.
import random
import door as D
from harness import Bench, check, eq

CFG = {'held_open_s': 3, 'prealarm_s': 1, 'unlock_s': 2, 'debounce_ms': 50}


def make(over=None):
    cfg = dict(CFG)
    if over:
        cfg.update(over)
    return Bench(D.Door('front', cfg))


def case_boots_locked_and_quiet():
    b = make()
    eq(b.out('lock'), 1, 'lock at boot')
    eq(b.out('buzzer'), 0, 'buzzer at boot')
    eq(b.types(), [], 'events at boot')


def case_debounce_ignores_short_glitch():
    b = make()
    b.set('contact', 1)
    b.run(30)
    b.set('contact', 0)
    b.run(200)
    eq(b.types(), [], 'a 30 ms glitch under debounce_ms=50')


def case_debounce_accepts_stable_change():
    b = make()
    b.set('contact', 1)
    b.run(40)
    check(b.find('door.opened') is None, 'opened before debounce_ms')
    b.run(20)
    check(b.find('door.opened') is not None, 'not opened after debounce_ms')


def case_rex_unlocks_for_unlock_s_then_relocks():
    b = make()
    b.pulse('rex')
    eq(b.out('lock'), 0, 'lock after REX')
    e = b.find('door.unlocked')
    eq(e[3].get('by'), 'rex', 'unlocked by')
    b.run(1800)
    eq(b.out('lock'), 0, 'lock still released before unlock_s')
    b.run(300)
    eq(b.out('lock'), 1, 'lock after unlock_s')
    eq(b.find('door.locked')[3].get('by'), 'timer', 'relocked by')


def case_open_during_unlock_is_not_forced():
    b = make()
    b.pulse('rex')
    b.set('contact', 1)
    b.run(100)
    check(b.find('door.opened') is not None, 'door.opened missing')
    check(b.find('door.forced') is None, 'authorised opening raised door.forced')


def case_forced_door_raises_and_clears():
    b = make()
    b.set('contact', 1)
    b.run(100)
    e = b.find('door.forced', True)
    check(e is not None, 'no door.forced on opening a locked door')
    eq(e[2], 'alarm', 'forced severity')
    eq(b.out('buzzer'), 1, 'buzzer while forced')
    b.set('contact', 0)
    b.run(100)
    check(b.find('door.forced', False) is not None, 'door.forced not cleared on closing')
    eq(b.out('buzzer'), 0, 'buzzer after closing')


def case_held_open_timing_prealarm_and_clear():
    b = make()
    b.cmd('unlock')
    b.set('contact', 1)
    b.run(50)                        # debounced: the door is open from here
    t_open = b.t
    b.run(1900)
    eq(b.out('buzzer'), 0, 'buzzer before the pre-alarm')
    check(b.find('door.held_open') is None, 'alarm before held_open_s')
    b.run(100)
    eq(b.out('buzzer'), 1, 'pre-alarm buzzer at held_open_s - prealarm_s')
    b.run(1000)
    e = b.find('door.held_open', True)
    check(e is not None, 'no held-open alarm after held_open_s')
    eq(e[0] - t_open, 3000, 'held-open alarm time after opening (ms)')
    b.set('contact', 0)
    b.run(100)
    check(b.find('door.held_open', False) is not None, 'held-open not cleared on close')
    eq(b.out('buzzer'), 0, 'buzzer after close')


def case_fire_releases_lock_and_relocks_after():
    b = make()
    b.set('fire', 1)
    b.run(100)
    eq(b.out('lock'), 0, 'lock during fire')
    check(b.find('door.fire_release', True) is not None, 'no fire_release alarm')
    b.set('contact', 1)
    b.run(5000)
    check(b.find('door.forced') is None, 'forced raised during fire release')
    check(b.find('door.held_open') is None, 'held-open raised during fire release')
    eq(b.out('buzzer'), 0, 'buzzer during fire release')
    b.set('contact', 0)
    b.set('fire', 0)
    b.run(100)
    check(b.find('door.fire_release', False) is not None, 'fire_release not cleared')
    eq(b.out('lock'), 1, 'lock after fire clears')


def case_lock_command_refused_during_fire():
    b = make()
    b.set('fire', 1)
    b.run(100)
    err = b.cmd('lock')
    check(err is not None and 'fire' in err, 'lock during fire: %r' % err)
    eq(b.out('lock'), 0, 'lock output after a refused lock')


def case_unlock_command_and_lock_command():
    b = make()
    eq(b.cmd('unlock', {'s': 10}), None, 'unlock s=10')
    eq(b.out('lock'), 0, 'lock after unlock')
    b.run(5000)
    eq(b.out('lock'), 0, 'still unlocked within s=10')
    eq(b.cmd('lock'), None, 'lock')
    eq(b.out('lock'), 1, 'lock after lock command')
    eq(b.find('door.locked')[3].get('by'), 'cmd', 'locked by')


def case_bad_unlock_argument_changes_nothing():
    b = make()
    for bad in ({'s': 0}, {'s': 'ten'}, {'s': 99999}, {'s': True}, {'s': 2.5}):
        err = b.cmd('unlock', bad)
        check(err is not None, 'unlock %r accepted' % (bad,))
    eq(b.out('lock'), 1, 'lock after refused unlocks')
    eq(b.types(), [], 'events after refused unlocks')


def case_unknown_op_refused_with_known_ops():
    b = make()
    err = b.cmd('opn')
    check(err is not None and 'unknown op' in err and 'unlock' in err, repr(err))


def case_fault_drives_safe_outputs():
    b = make()
    b.cmd('unlock')
    b.c.safe('test')
    eq(b.out('lock'), 0, 'fail-safe door lock on fault')
    b2 = make({'fail_safe': False})
    b2.c.safe('test')
    eq(b2.out('lock'), 1, 'fail-secure door lock on fault')
    eq(b2.out('buzzer'), 0, 'buzzer on fault')


def case_illegal_transition_is_an_error():
    b = make()
    try:
        b.c.go(D.DOOR_T, D.CLOSED, D.HELD)
    except Exception as e:
        check('illegal' in str(e), str(e))
        return
    raise AssertionError('CLOSED -> HELD accepted')


def case_state_snapshot():
    b = make()
    s = b.c.snapshot()
    eq(s['type'], 'door', 'type')
    eq(s['lock'], 'locked', 'lock')
    eq(s['door'], 'closed', 'door')


# --- random sequences: the invariants every run must keep ------------------------------------
ACTIONS = ('contact', 'rex', 'fire', 'unlock', 'lock', 'wait')


def run_sequence(steps, cfg=None):
    """Drive a door with (action, value, wait_ms) steps and check the safety invariants after
    every step. Returns the bench. Raises AssertionError naming the step that broke one."""
    b = make(cfg)
    c = b.c
    unlock_ms = c.unlock_ms
    deb = c.cfg['debounce_ms']
    grant_until = None         # end of the latest window granted by a REX press or an unlock
    active = {}
    seen = 0
    for i in range(len(steps)):
        act, val, wait = steps[i]
        if act == 'unlock':
            s = 1 + val % 5
            if b.cmd('unlock', {'s': s}) is None:
                grant_until = max(grant_until or 0, b.t + s * 1000)
        elif act == 'lock':
            b.cmd('lock')
        elif act != 'wait':
            if act == 'rex' and val and c.value('rex') == 0:
                # the press counts once debounced: its window may end after a shorter unlock's
                grant_until = max(grant_until or 0, b.t + deb + b.step_ms + unlock_ms)
            b.set(act, val)
        b.run(wait)
        where = 'step %d %r at t=%d' % (i, steps[i], b.t)
        # alarms alternate raise/clear, and are tracked from the events themselves
        for e in b.events[seen:]:
            if e[2] == 'alarm':
                was = active.get(e[1], False)
                check(e[3]['active'] != was, '%s: %s active=%s twice in a row' % (where, e[1], e[3]['active']))
                active[e[1]] = e[3]['active']
        seen = len(b.events)
        # never unlocked without an unlock (REX, command) in its window, or the fire input
        if b.out('lock') == 0:
            ok = c.fire
            if grant_until is not None and b.t <= grant_until + deb + b.step_ms:
                ok = True
            check(ok, '%s: lock released with no unlock, REX or fire' % where)
        # no held-open or forced alarm outlives a closed door
        if c.door == D.CLOSED:
            check(not active.get('door.held_open') and not active.get('door.forced'),
                  '%s: alarm active with the door closed' % where)
            eq(b.out('buzzer'), 0, where + ': buzzer with the door closed')
    return b


def random_steps(rng, n):
    out = []
    for _ in range(n):
        a = ACTIONS[rng.getrandbits(8) % len(ACTIONS)]
        out.append((a, rng.getrandbits(8) % 2 if a not in ('unlock', 'lock', 'wait') else rng.getrandbits(8),
                    (rng.getrandbits(16) % 4000)))
    return out


class _Rng:
    def __init__(self, seed):
        random.seed(seed)

    def getrandbits(self, n):
        return random.getrandbits(n)


def case_random_sequences_keep_invariants():
    for seed in range(40):
        run_sequence(random_steps(_Rng(seed), 40))


def case_site_fire_releases_the_lock_until_reset_even_after_the_local_input_clears():
    b = make()
    b.c.site_fire(True, b.t)
    b.drain()
    eq(b.out('lock'), 0, 'released by the site fire')
    e = b.find('door.fire_release', True)
    check(e is not None and e[3]['source'] == 'site', 'alarm with its source: %r' % (e,))
    b.set('fire', 1)
    b.run(100)
    b.set('fire', 0)
    b.run(100)
    eq(b.out('lock'), 0, 'the local input clearing does not relock while the site fire holds')
    eq(b.c.snapshot()['fire_sources'], ['site'], 'state names the source')
    b.c.site_fire(False, b.t)
    b.drain()
    eq(b.out('lock'), 1, 'relocked by the reset')
    check(b.find('door.fire_release', False) is not None, 'alarm cleared')


def case_site_reset_keeps_the_lock_released_while_the_local_fire_input_is_active():
    b = make()
    b.set('fire', 1)
    b.run(100)
    eq(b.find('door.fire_release', True)[3]['source'], 'input', 'raised by the input')
    b.c.site_fire(True, b.t)
    b.c.site_fire(False, b.t)
    b.drain()
    eq(b.out('lock'), 0, 'still released: the detector still reports fire')
    eq(b.types().count('door.fire_release'), 1, 'no flapping alarm')


def case_unknown_ops_leave_nothing_in_the_heap():
    """An op is looked up among the controller's own before getattr: MicroPython's getattr
    keeps every name it is asked for (a qstr, never freed), so a flood of made-up ops would
    have filled the heap for good."""
    import gc
    b = make()
    r = b.cmd('zz_made_up')
    check(r is not None and r.startswith("unknown op 'zz_made_up' for door (ops: "), 'refused: %r' % r)
    if not hasattr(gc, 'mem_alloc'):
        return      # CPython: no heap figure to check
    gc.collect()
    a0 = gc.mem_alloc()
    for i in range(300):
        b.cmd('zq_made_up_%d' % i)
    gc.collect()
    grew = gc.mem_alloc() - a0
    check(grew < 1024, 'the heap kept %d bytes for 300 unknown ops' % grew)
