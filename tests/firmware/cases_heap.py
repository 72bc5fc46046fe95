# The heap's low-water mark (tele heap_min, firmware/health.py): taken just after a
# collection, at the fullest moments, at most once a second. Runs on CPython (a stand-in
# gc) and on the MicroPython unix port (its own gc too).
import gc
import json
import health
from harness import check, eq, in_tmpdir


class _Gc:
    """A gc whose free heap the case sets; counts collections."""

    def __init__(self, free):
        self.free = free
        self.collects = 0

    def collect(self):
        self.collects += 1

    def mem_free(self):
        return self.free


def _fresh(fake):
    health.gc = fake
    health.low = -1
    health._low_t = None


def case_heap_low_keeps_the_lowest_free_after_a_collection():
    fake = _Gc(50000)
    try:
        _fresh(fake)
        health.heap_peak()
        eq((health.low, fake.collects), (50000, 1), 'the first peak collects and notes the free heap')
        fake.free = 30000
        health.heap_peak()          # within the second: no collection, nothing noted
        eq((health.low, fake.collects), (50000, 1), 'at most one collection a second')
        health._low_t -= 1000       # a second later
        health.heap_peak()
        eq((health.low, fake.collects), (30000, 2), 'a lower free heap is the new low')
        fake.free = 70000
        health._low_t -= 1000
        health.heap_peak()
        eq(health.low, 30000, 'a higher free heap leaves the low')
        eq(health.heap_low(), 30000, 'heap_low returns the low')
    finally:
        _fresh(gc)


def case_a_command_notes_its_peak_and_tele_carries_heap_min():
    import esp32_double as d

    def t():
        d.install()
        try:
            app = d.door_app()
            fake = _Gc(40000)
            _fresh(fake)
            ack = app.command('front', json.dumps({'id': 'c1', 'op': 'status'}))
            check(ack['ok'], 'status: %r' % (ack,))
            eq((health.low, fake.collects), (40000, 1), 'a command answered: collected, its free heap noted')
            fake.free = 20000
            health._low_t -= 1000
            ack = app.command('front', json.dumps({'id': 'c2', 'op': 'fly'}))
            check(not ack['ok'], 'a refused command: %r' % (ack,))
            eq(health.low, 20000, 'a refused command is a peak too')
            _fresh(gc)
            if hasattr(gc, 'mem_free'):         # the VM's own heap
                gc.collect()
                big = [bytearray(512) for _ in range(16)]     # 8 KB alive while the command runs
                app.command('front', json.dumps({'id': 'c3', 'op': 'status'}))
                during = health.low
                del big
                tele = app.tele()
                check(0 < tele['heap_min'] <= tele['heap_free'], 'heap_min within the heap: %r' % (tele,))
                eq(tele['heap_min'], during, 'the command\'s peak is the low')
                check(tele['heap_free'] - tele['heap_min'] >= 8000,
                      'the 8 KB alive during the command counted: %r' % (tele,))
            app.events.close()
        finally:
            _fresh(gc)
            d.uninstall()
    in_tmpdir('heap_low', t)
