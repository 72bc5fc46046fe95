# Making room in a full outbox (outbox.Outbox._make_room) reads from the oldest segment that
# can hold an event of the severity giving way, not through every older segment: after an
# alarm storm, thousands of alarms lie before the first info, and reading through them on
# every add past full stalled the control loop (50-190 ms on the unix port at 10,000 events;
# a board's flash is slower). Runs on CPython and on the MicroPython unix port.
import json
import outbox
from outbox import Outbox
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
