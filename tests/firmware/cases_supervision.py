# End-of-line line supervision (shared) and the door's supervised contact.
# Runs on CPython and on the MicroPython unix port.
import door as D
import supervision as S
from harness import Bench, check, eq


def case_bands():
    s = S.LineSupervisor(0)
    eq([S.NAMES[s.band(p)] for p in (0, 9, 10, 33, 49, 50, 66, 89, 90, 100)],
       ['short', 'short', 'idle', 'idle', 'idle', 'active', 'active', 'active', 'open', 'open'], 'bands')


def case_a_band_must_hold_for_the_debounce():
    s = S.LineSupervisor(50)
    eq(s.feed(95, 0), None, 'not yet')
    eq(s.feed(33, 30), None, 'back before the debounce')
    eq(s.poll(200), None, 'no change at all')
    s.feed(95, 300)
    eq(s.poll(349), None, 'before 50 ms')
    eq(s.poll(350), S.OPEN, 'open after 50 ms')
    check(s.faulted(), 'faulted')


def door():
    b = Bench(D.Door('front', {'contact_eol': True, 'debounce_ms': 20, 'held_open_s': 30}))
    b.set('contact', 33)
    b.run(50)
    return b


def case_supervised_door_opens_and_closes_through_the_bands():
    b = door()
    b.set('contact', 66)
    b.run(30)
    check(b.find('door.opened') is not None and b.find('door.forced', True) is not None, 'opened (forced)')
    b.set('contact', 33)
    b.run(30)
    check(b.find('door.closed') is not None, 'closed')
    check(b.find('door.fault') is None, 'no fault on a healthy line')


def case_cut_and_shorted_lines_are_door_faults_and_clear():
    b = door()
    b.set('contact', 100)                     # cut
    b.run(30)
    e = b.find('door.fault', True)
    check(e is not None and e[3]['reason'] == 'contact_line_open', 'cut line: %r' % (e,))
    check(b.find('door.opened') is None, 'a cut line is not an opening')
    b.set('contact', 2)                       # now shorted
    b.run(30)
    reasons = [(x[3]['reason'], x[3]['active']) for x in b.events if x[1] == 'door.fault']
    eq(reasons, [('contact_line_open', True), ('contact_line_open', False), ('contact_line_short', True)],
       'open cleared, short raised')
    b.set('contact', 33)
    b.run(30)
    check(b.events[-1][1] == 'door.fault' and b.events[-1][3]['active'] is False, 'cleared when normal')
    eq(b.c.snapshot()['line_fault'], None, 'state')
