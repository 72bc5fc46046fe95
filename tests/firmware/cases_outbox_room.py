# Making room in a full outbox (outbox.Outbox._make_room) reads from the oldest segment that
# can hold an event of the severity giving way, not through every older segment: after an
# alarm storm, thousands of alarms lie before the first info, and reading through them on
# every add past full stalled the control loop (50-190 ms on the unix port at 10,000 events;
# a board's flash is slower). Runs on CPython and on the MicroPython unix port.
import json
import outbox
from outbox import Outbox
from config import _exists
from harness import check, eq, tmpfile


class _Reads:
    """Counts the segments outbox opens for reading (each is one outbox._records walk)."""

    def __init__(self):
        self.n = 0
        self.real = outbox._records

    def __enter__(self):
        def counted(f, start=0):
            self.n += 1
            return self.real(f, start)
        outbox._records = counted
        return self

    def __exit__(self, *exc):
        outbox._records = self.real


def _storm_then_routine(p, alarms=1000, infos=200):
    ob = Outbox(p, alarms + infos, 1 << 30)
    for i in range(alarms):
        ob.add('front', 'door.forced', 'alarm', {'active': i % 2 == 0})
    for i in range(infos):
        ob.add('front', 'door.opened', 'info', {'by': 'rex'})
    return ob


def _make_room_reads(ob, n=3):
    """Segments read by each of the next n adds that made room."""
    out = []
    while len(out) < n:
        d0 = ob.dropped
        with _Reads() as r:
            ob.add('front', 'door.opened', 'info', {'by': 'rex'})
        if ob.dropped != d0:
            out.append(r.n)
    return out


def case_making_room_reads_from_the_oldest_segment_of_the_severity_giving_way():
    p = tmpfile('obroom1')
    ob = _storm_then_routine(p)
    first_info = 0
    for n, off, kind, body in ob._each(ob.hseg, ob.head):
        if kind == 0x45 and body[4] == 0:
            first_info = n
            break
    check(first_info - ob.hseg >= 5, 'the storm fills segments %d..%d' % (ob.hseg, first_info))
    reads = _make_room_reads(ob)
    check(max(reads) <= 4, 'segments read making room: %r (the head is %d segments before the first info)'
          % (reads, first_info - ob.hseg))
    alarms, last, ordered = 0, 0, True     # read one at a time: a list of 1,200 would not fit the heap
    for n, off, kind, body in ob._each(ob.hseg, ob.head):
        if kind == 0x45 and outbox._u32(body) > ob.done:
            alarms += json.loads(body[6 + body[5]:])['type'] == 'door.forced'
            ordered = ordered and outbox._u32(body) > last
            last = outbox._u32(body)
    eq((alarms, ob.counts[2]), (1000, 1000), 'every alarm kept: infos gave way')
    eq(ob.dropped + len(ob), ob.seq, 'every event pending or counted dropped')
    check(ordered, 'in seq order')
    ob.close()


def case_after_a_reboot_the_scan_finds_where_each_severity_starts():
    p = tmpfile('obroom2')
    ob = _storm_then_routine(p)
    where = list(ob.oldest)
    ob.close()
    ob = Outbox(p, 1200, 1 << 30)
    eq(ob.oldest[0], where[0], 'the first info\'s segment, from the boot scan')
    eq(ob.oldest[2], ob.hseg, 'alarms from the head')
    reads = _make_room_reads(ob, 2)
    check(max(reads) <= 4, 'segments read making room after a reboot: %r' % (reads,))
    ob.close()


def case_a_severity_gone_and_back_starts_at_its_new_segment():
    p = tmpfile('obroom3')
    ob = Outbox(p, 300, 1 << 30)
    ob.add('front', 'door.opened', 'info')
    ob.delivered(1)                     # no info pending any more
    for i in range(250):
        ob.add('front', 'door.forced', 'alarm', {'active': True})
    ob.add('front', 'door.opened', 'info')      # the first info since: in the newest segment
    eq(ob.oldest[0], ob.last, 'an info after none pending starts at the newest segment')
    while len(ob) < 300:
        ob.add('front', 'door.forced', 'alarm', {'active': True})
    ob.add('front', 'door.forced', 'alarm', {'active': True})     # full: the one info gives way
    eq((ob.counts[0], ob.counts[2], ob.dropped), (0, len(ob), 1), 'the info went first, no alarm')
    ob.close()


# --- a stepped rewrite (the runtime sets steps and calls step() every control pass) -------------

def _pending(ob):
    """(pending events, of them alarms, all in seq order) read one at a time (a list of
    them would not fit the heap)."""
    n = alarms = last = 0
    ordered = True
    for seg, off, kind, body in ob._each(ob.hseg, ob.head) if ob.head >= 0 else ():
        if kind == 0x45 and outbox._u32(body) > ob.done:
            n += 1
            alarms += body[4] == 2
            ordered = ordered and outbox._u32(body) > last
            last = outbox._u32(body)
    return n, alarms, ordered


def _full(p, infos_first=False):
    ob = Outbox(p, 300, 1 << 30)
    ob.steps = 16
    for i in range(300):
        info = i < 100 if infos_first else i >= 200
        ob.add('front', 'door.opened' if info else 'door.forced', 'info' if info else 'alarm',
               {'by': 'rex'} if info else {'active': True})
    return ob


def case_a_stepped_rewrite_copies_a_few_records_a_step_then_drops_as_at_once():
    p = tmpfile('obstep1')
    ob = _full(p)
    ob.add('front', 'door.opened', 'info', {'by': 'rex'})       # full: the rewrite starts, nothing dropped yet
    check(ob._job is not None, 'a stepped rewrite under way')
    eq((ob.dropped, len(ob)), (0, 301), 'nothing dropped until it ends')
    steps, last = 0, 0
    while ob._job is not None:
        ob.step()
        steps += 1
        if ob._job is not None:
            check(ob._job[3] > last, 'each step moves on')
            last = ob._job[3]
    check(steps >= 3, 'a segment of ~100 records takes several steps of 16: %d' % steps)
    n, alarms, ordered = _pending(ob)
    eq(ob.dropped, 30, 'a tenth of max_len gave way')
    eq(alarms, 200, 'no alarm gave way')
    eq(ob.dropped + len(ob), ob.seq, 'every event pending or counted dropped')
    check(ordered, 'in seq order')
    eq(n, len(ob), 'pending as counted')
    ob.close()
    ob = Outbox(p, 300, 1 << 30)
    eq((ob.dropped, len(ob), ob.seq), (30, 271, 301), 'after a reboot')
    ob.close()


def case_while_its_segment_is_rewritten_only_the_event_in_flight_is_handed_out():
    p = tmpfile('obstep2')
    ob = _full(p, infos_first=True)
    head = ob.peek()[0]                 # on its way to the broker
    ob.add('front', 'door.forced', 'alarm', {'active': True})     # full: the head's segment is rewritten
    check(ob._job is not None and ob._job[0] == ob.hseg, 'the head\'s segment is being rewritten')
    eq(ob.peek()[0], head, 'the event in flight is still handed out')
    ob.delivered(head)
    eq(ob.peek(), None, 'nothing more of that segment until the rewrite ends')
    while ob._job is not None:
        ob.step()
    nxt = ob.peek()
    check(nxt is not None and nxt[0] > head, 'after it, the next pending event: %r' % (nxt,))
    eq(ob.dropped + len(ob) + 1, ob.seq, 'the delivered one is not counted dropped too')
    eq(_pending(ob)[0], len(ob), 'pending as counted')
    ob.close()


def case_past_the_slack_a_stepped_rewrite_ends_at_once():
    p = tmpfile('obstep3')
    ob = _full(p)
    for i in range(200):                # nobody steps it: the adds themselves end it
        ob.add('front', 'door.opened', 'info', {'by': 'rex'})
        check(len(ob) <= 300 + 3, 'at most the slack (1 %%) past max_len: %d' % len(ob))
    check(ob.dropped > 0, 'room was made')
    eq(ob.dropped + len(ob), ob.seq, 'every event pending or counted dropped')
    ob.close()


def case_a_small_outbox_makes_room_at_once_and_holds_its_bound():
    p = tmpfile('obstep5')
    ob = Outbox(p, 10, 1 << 30)
    ob.steps = 16
    for i in range(40):
        ob.add('front', 'door.opened', 'info', {'by': 'rex'})
        check(len(ob) <= 10 and ob._job is None, 'below 100 events no slack: %d' % len(ob))
    eq(ob.dropped + len(ob), 40, 'every event pending or counted dropped')
    ob.close()


def case_a_power_cut_at_any_step_of_a_rewrite_loses_and_drops_nothing():
    import os
    p = tmpfile('obstep4')
    ob = _full(p)
    ob.close()
    cut = 0
    while True:
        ob = Outbox(p, 300, 1 << 30)        # as the board boots again after the cut
        eq((len(ob), ob.seq, ob.dropped), (300 + cut, 300 + cut, 0), 'after a cut at step %d' % cut)
        ob.steps = 16
        ob.add('front', 'door.opened', 'info', {'by': 'rex'})
        for i in range(cut):
            ob.step()
        if ob._job is None:
            break
        ob._job[4].close()                  # the power goes: the half-written copy stays on flash
        ob.close()
        cut += 1
    check(cut >= 3, 'cut at %d steps' % cut)
    leftovers = [f for f in os.listdir(p[:p.rfind('/')]) if f.startswith('obstep4.') and f.endswith('.tmp')]
    eq(leftovers, [], 'the last rewrite of that segment replaced the unfinished copies')
    eq(ob.dropped + len(ob), ob.seq, 'the rewrite that ended counts its drops')
    ob.close()


def case_no_heap_in_a_step_gives_the_rewrite_up_and_loses_nothing():
    import os
    p = tmpfile('obstep5')
    ob = _full(p)
    ob.add('front', 'door.opened', 'info', {'by': 'rex'})
    ob.step()                                   # under way
    real = outbox._write
    calls = [0]

    def short(f, kind, body):
        calls[0] += 1
        if calls[0] == 3:
            raise MemoryError('memory allocation failed')
        return real(f, kind, body)
    outbox._write = short
    try:
        try:
            ob.step()
            raise AssertionError('the MemoryError came through')
        except MemoryError:
            pass
    finally:
        outbox._write = real
    eq(ob._job, None, 'the rewrite is given up')
    check(not [f for f in os.listdir(p[:p.rfind('/')]) if f.startswith('obstep5.') and f.endswith('.tmp')],
          'its copy removed')
    ob.add('front', 'door.opened', 'info', {'by': 'rex'})       # room is made again, from the start
    while ob._job is not None:
        ob.step()
    n, alarms, ordered = _pending(ob)
    eq((ob.dropped + len(ob), ob.seq), (ob.seq, 302), 'every event pending or counted dropped')
    eq((n, alarms), (len(ob), 200), 'on flash as counted, no alarm gone')
    ob.close()
    ob = Outbox(p, 300, 1 << 30)
    eq(ob.dropped + len(ob), 302, 'the same after a reboot')
    ob.close()


def _in_head_segment(ob):
    n = 0
    for seg, off, kind, body in ob._each(ob.hseg, ob.head):
        if seg != ob.hseg:
            break
        n += kind == 0x45 and outbox._u32(body) > ob.done
    return n


def case_a_segment_delivered_under_its_rewrite_is_not_written_back():
    p = tmpfile('obstep6')
    ob = _full(p, infos_first=True)
    while _in_head_segment(ob) > 1:             # the head's segment holds the event in flight only
        ob.delivered(ob.peek()[0])
    n = ob.hseg
    ob.peek()
    while len(ob) < 300:                        # full again, with alarms: the oldest info is the head
        ob.add('front', 'door.forced', 'alarm', {'active': True})
    ob.add('front', 'door.forced', 'alarm', {'active': True})
    check(ob._job is not None and ob._job[0] == n, 'the head segment is being rewritten')
    ob.step()
    ob.delivered(ob.peek()[0])                  # the broker acknowledges the event in flight
    check(not _exists(ob.seg(n)), 'the delivered segment is deleted')
    while ob._job is not None:
        ob.step()
    check(not _exists(ob.seg(n)), 'and stays deleted after the rewrite ends')
    eq(ob.dropped + len(ob), ob.seq - ob.done, 'pending and dropped as counted')
    ob.close()


def case_a_copy_a_power_cut_left_is_removed_at_boot():
    p = tmpfile('obstep7')
    ob = _full(p)
    ob.close()
    with open(p + '.1.tmp', 'wb') as f:         # an unfinished copy, as a cut leaves it
        f.write(b'\xa5' * 100)
    ob = Outbox(p, 300, 1 << 30)
    check(not _exists(p + '.1.tmp'), 'removed by the scan')
    eq(len(ob), 300, 'the log as it was')
    ob.close()
