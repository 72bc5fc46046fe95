# Run by `edgectl bench outbox` on the MicroPython unix port with a board's heap, in an
# empty folder: fills the outbox to the capacity the board's filesystem gives it and
# times what a long outage costs: appends, the boot scan, making room when full (one
# segment rewritten), delivery with segment deletion. Prints one JSON line.
import gc
import json
import os
import sys
import time
import outbox
from outbox import Outbox

fs = int(os.getenv('EDGE_FS_KB')) * 1024
cap = outbox.budget('outbox.log', fs) // 150          # what Outbox(max_len=0) takes


def us():
    return time.ticks_us()


class Hist:
    """Durations in 0.1 ms buckets up to 50 ms (no list of samples: the heap is a board's)."""

    def __init__(self):
        import array
        self.b = array.array('I', [0] * 501)
        self.n = 0
        self.top = 0

    def append(self, t_us):
        self.b[min(500, t_us // 100)] += 1
        self.n += 1
        self.top = max(self.top, t_us)

    def at(self, q):
        k = 0
        for i in range(501):
            k += self.b[i]
            if k > q * (self.n - 1):
                return (i + 1) / 10
        return self.top / 1000


def stats(h):
    return {'n': h.n, 'p50_ms': h.at(0.5), 'p99_ms': h.at(0.99), 'max_ms': h.top / 1000}


adds, rooms, dels = Hist(), Hist(), Hist()
gc.collect()
ram0 = gc.mem_alloc()
ob = Outbox('outbox.log', 0, outbox.budget('outbox.log', fs))
for i in range(cap):
    t = us()
    ob.add('front', 'door.opened' if i % 10 else 'door.forced', 'info' if i % 10 else 'alarm',
           {'by': 'rex'} if i % 10 else {'active': True})
    adds.append(time.ticks_diff(us(), t))
gc.collect()
ram_full = gc.mem_alloc() - ram0
full = {'events': len(ob), 'flash_bytes': ob.bytes, 'segments': ob.last - ob.first + 1}
ob.close()
del ob
gc.collect()
t = us()
ob = Outbox('outbox.log', 0, outbox.budget('outbox.log', fs))
scan_ms = time.ticks_diff(us(), t) / 1000
for i in range(20):                      # full: every add past here makes room
    d0 = ob.dropped
    t = us()
    ob.add('front', 'door.opened', 'info', {'by': 'rex'})
    if ob.dropped != d0:
        rooms.append(time.ticks_diff(us(), t))
n = 0
t_all = us()
while True:
    item = ob.peek()
    if item is None:
        break
    t = us()
    ob.delivered(item[0])
    dels.append(time.ticks_diff(us(), t))
    n += 1
drain_s = time.ticks_diff(us(), t_all) / 1e6
gc.collect()
print('OUTBOX_PROBE ' + json.dumps({
    'fs_kb': fs // 1024, 'capacity_events': cap, 'full': full,
    'ram_growth_bytes_at_full': ram_full, 'heap_free_at_full': gc.mem_free(),
    'append_ms': stats(adds), 'boot_scan_ms': scan_ms,
    'make_room_ms': stats(rooms) if rooms.n else None, 'make_room_events_dropped': ob.dropped,
    'deliver_ms': stats(dels), 'drained': n, 'drain_s': drain_s,
    'segments_left': ob.last - ob.first + 1}))
