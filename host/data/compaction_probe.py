# Run by `edgectl bench outbox --reaction N` on the MicroPython unix port with a board's heap,
# in an empty folder: a barrier board's runtime (firmware/app.py on the simulated HAL, its
# control loop running) whose outbox is full at the size the board's filesystem gives it, so
# every few events a compaction ("making room") rewrites a segment. Each trial closes the
# arm and breaks the beam; the beam edge arrives as a compaction starts (the worst moment: it
# waits behind all of it, as a wire message or a scheduled pin interrupt does) or, idle,
# with nothing else to do. Times beam -> motor_down off in microseconds on the VM's clock.
# argv: trials, fill ('storm': the oldest half alarms, then infos, as after an alarm storm;
# 'mixed': one alarm in ten). Prints one JSON line.
import asyncio
import gc
import json
import os
import sys
import time

import rom_mount
rom_mount.mount()                         # the ROMFS layout, mounted as main.py does
import bootlog
import outbox
from app import App
from hal_sim import SimHal

TRIALS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
FILL = sys.argv[2] if len(sys.argv) > 2 else 'storm'
fs = int(os.getenv('EDGE_FS_KB')) * 1024
cap = outbox.budget('outbox.log', fs) // 150          # what Outbox(max_len=0) takes

# the backlog a long outage leaves, written before the board boots (it scans it at boot)
ob = outbox.Outbox('outbox.log', 0)
for i in range(cap):
    alarm = i < cap // 2 if FILL == 'storm' else i % 10 == 0
    ob.add('front', 'door.forced' if alarm else 'door.opened', 'alarm' if alarm else 'info',
           {'active': True} if alarm else {'by': 'rex'})
ob.close()
del ob
gc.collect()

cfg = {'site': 'probe', 'device': 'gate-p', 'rev': 'r1', 'broker': {'host': '127.0.0.1', 'port': 1883},
       'controllers': [{'name': 'bar', 'type': 'barrier', 'auto_close_s': 0, 'reverse_dead_ms': 50,
                        'eye_test_ms': 200, 'travel_timeout_s': 60,
                        'pins': {'beam': 34, 'loop': 35, 'up_limit': 32, 'down_limit': 33, 'motor_up': 25,
                                 'motor_down': 26, 'eye_tx': 27}}]}
with open('wires.json', 'w') as f:           # the arm is up at power-up
    json.dump({'bar.up_limit': 1}, f)
io = SimHal(cfg)
app = App(cfg, io, bootlog.BootLog())
ob = app.events
sig = io.signals
beam, up, md, mu, eye = (sig['bar.' + n] for n in ('beam', 'up_limit', 'motor_down', 'motor_up', 'eye_tx'))
state = {'obstruct': 0, 'stop': None, 'up_since': None}
changed = io.output_changed


def output_changed(s, v):
    if s is md and v == 0 and state['stop'] is None:
        state['stop'] = time.ticks_us()
    changed(s, v)


io.output_changed = output_changed


def wire(s, v):
    """A wire's level changes: as hal_simio does it (the reaction in the same call)."""
    s.value(v)
    app._edge(s)


async def plant():
    """The arm and its photo-eye, every millisecond: the beam reads broken while the emitter
    is off or something is in the way; the arm leaves the top when it goes down and is back
    20 ms after it goes up."""
    while True:
        want = 1 if state['obstruct'] or not eye.value() else 0
        if beam.value() != want:
            wire(beam, want)
        if md.value() and up.value():
            wire(up, 0)
        if mu.value() and not up.value():
            if state['up_since'] is None:
                state['up_since'] = time.ticks_ms()
            elif time.ticks_diff(time.ticks_ms(), state['up_since']) >= 20:
                wire(up, 1)
                state['up_since'] = None
        await asyncio.sleep_ms(1)


async def until(cond, ms=3000):
    t = time.ticks_ms()
    while not cond():
        if time.ticks_diff(time.ticks_ms(), t) > ms:
            raise RuntimeError('barrier stuck: %r' % (app.ctrls['bar'].snapshot(),))
        await asyncio.sleep_ms(1)


async def edge():
    state['obstruct'] = 1
    wire(beam, 1)


async def trials(compacting):
    stops, rooms = [], []
    for i in range(TRIALS):
        app.command('bar', '{"id": "r%d", "op": "reset"}' % i)
        ack = app.command('bar', '{"id": "c%d", "op": "close"}' % i)
        if not ack['ok']:
            raise RuntimeError('close refused: %r' % (ack,))
        await until(lambda: md.value())
        await asyncio.sleep_ms(5)
        if compacting:
            while len(ob) < ob.max_len:       # full: the next event makes room
                app.event('door.opened', 'info', {'by': 'rex'}, 'front')
        state['stop'] = None
        t_due = time.ticks_us()
        asyncio.create_task(edge())      # the beam edge has arrived; the loop is busy:
        if compacting:
            d0 = ob.dropped
            app.event('door.opened', 'info', {'by': 'rex'}, 'front')     # a compaction (or its start)
            if ob.dropped == d0 and ob._job is None:
                raise RuntimeError('no compaction')
            rooms.append(time.ticks_diff(time.ticks_us(), t_due))
        await until(lambda: state['stop'] is not None)
        stops.append(time.ticks_diff(state['stop'], t_due))
        await until(lambda: ob._job is None)  # a stepped compaction ends over control passes
        await until(lambda: up.value() and not mu.value())
        state['obstruct'] = 0
        await until(lambda: not beam.value())
    return stops, rooms


def stats(xs):
    s = sorted(xs)
    at = lambda q: s[min(len(s) - 1, int(len(s) * q))] / 1000
    return {'n': len(s), 'p50_ms': at(0.5), 'p99_ms': at(0.99), 'max_ms': s[-1] / 1000}


async def main():
    asyncio.create_task(app.control_loop())
    asyncio.create_task(plant())
    await until(lambda: app.ctrls['bar'].snapshot().get('state') == 'open')
    idle, _ = await trials(False)
    during, rooms = await trials(True)
    gc.collect()
    print('COMPACTION_PROBE ' + json.dumps({
        'fill': FILL, 'capacity_events': cap, 'pending': len(ob), 'dropped': ob.dropped,
        'idle_beam_to_motor_down_off_ms': stats(idle),
        'compacting_beam_to_motor_down_off_ms': stats(during), 'compaction_ms': stats(rooms),
        'heap_free': gc.mem_free()}))

asyncio.run(main())
