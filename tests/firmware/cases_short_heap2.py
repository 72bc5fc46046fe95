# A short heap, attacked with the site's own credentials (command floods, config pushes, door
# edges; found on simulated lib-layout and ROMFS door boards with 4-12 KB free): no controller
# faults for want of heap in code that can find its heap at boot, an event that finds no heap
# is neither lost nor crashes the board, the site's fire state releases the doors even when
# its event finds no heap, and a message that finds no heap is refused, not the link's end.
# CPython and the MicroPython unix port.
import asyncio
import json
import ctrl_base
import mqtt
import mqtt_packet
import outbox
import settings
import cases_wire as wire
from harness import check, eq, in_tmpdir

_NO_HEAP = 'memory allocation failed, allocating 464 bytes'


def _no_heap(*a):
    raise MemoryError(_NO_HEAP)


def _with_door(fn, **ctrl):
    import esp32_double as d
    out = {}

    def t():
        d.install()
        try:
            app = d.door_app(**ctrl)
            try:
                fn(app, out)
            finally:
                app.events.close()
        finally:
            d.uninstall()
    in_tmpdir('short_heap2', t)
    return out


def _cmd(app, op, **args):
    body = {'id': 'c-1', 'op': op}
    body.update(args)
    return app.command('front', json.dumps(body).encode())


def case_a_first_command_on_a_short_heap_does_not_fault_the_door():
    # a controller type's ops were found (dir(): ~0.75 KB) at its first command: on a short
    # heap that MemoryError faulted the door, whose fail-safe lock then stayed released
    ctrl_base._OPS.clear()      # (no case before this one found them)

    def fn(app, out):
        ctrl_base.dir = _no_heap        # no heap for it now
        try:
            out['ack'] = _cmd(app, 'lock')
        finally:
            del ctrl_base.dir
        out['err'] = app.ctrls['front'].error
        out['lock'] = app.ctrls['front'].outputs['lock']
    r = _with_door(fn)
    eq(r['ack'], {'id': 'c-1', 'ok': True}, 'the command ran')
    eq((r['err'], r['lock']), (None, 1), 'the door is not faulted and stays locked')


def case_an_unlock_on_a_short_heap_does_not_fault_the_door():
    # `unlock s=` loaded the settings table for its bound at every command (several KB on a
    # board that loads its code into RAM): its MemoryError faulted the door
    def fn(app, out):
        spec = settings.spec
        settings.spec = _no_heap
        try:
            out['ack'] = _cmd(app, 'unlock', s=3)
            out['bad'] = _cmd(app, 'unlock', s=99999)
        finally:
            settings.spec = spec
        out['err'] = app.ctrls['front'].error
        out['lock'] = app.ctrls['front'].outputs['lock']
    r = _with_door(fn)
    eq(r['ack'], {'id': 'c-1', 'ok': True}, 'unlocked')
    eq((r['bad']['ok'], r['bad']['err'][:20]), (False, "'s' must be whole se"), 'the bound still holds')
    eq((r['err'], r['lock']), (None, 0), 'not faulted: released by the command, not by a fault')


class _Json:
    """outbox's json: its first `n` dumps find no heap."""

    def __init__(self, n):
        self.n = n

    def dumps(self, o):
        if self.n:
            self.n -= 1
            raise MemoryError('memory allocation failed, allocating 135 bytes')
        return json.dumps(o)

    def loads(self, s):
        return json.loads(s)


def _outbox(app):
    out = []
    while True:
        item = app.events.peek()
        if item is None:
            return out
        ev = json.loads(item[2])
        out.append((ev['seq'], ev['type']))
        app.events.delivered(item[0])


def case_an_event_that_finds_no_heap_stays_queued_and_the_loop_goes_on():
    # the door forced open while the heap is short: its events' MemoryError left the control
    # loop (the board crashed and rebooted) and lost the events not yet written
    def fn(app, out):
        from clock import ticks_ms
        ctrl = app.ctrls['front']
        _outbox(app)
        seq = app.events.seq
        real = outbox.json
        outbox.json = _Json(2)      # the event's try and its retry after a collection
        try:
            app._run(ctrl, ctrl.input, 'contact', 1, ticks_ms())
            out['raised'] = None
        except MemoryError as e:
            out['raised'] = repr(e)
        finally:
            outbox.json = real
        out['queued'] = [e[0] for e in ctrl.events]
        out['mid'] = app.events.seq - seq
        app._apply(ctrl)            # the next pass, with heap
        out['sent'] = [(s - seq, t) for s, t in _outbox(app)]
        out['err'] = ctrl.error
    r = _with_door(fn)
    eq(r['raised'], None, 'nothing left the control loop')
    eq(r['queued'], ['door.opened', 'door.forced'], 'both events kept, in order')
    eq(r['mid'], 0, 'no number taken by the event that was not written')
    eq(r['sent'], [(1, 'door.opened'), (2, 'door.forced')], 'written on the next pass, numbered without a gap')
    eq(r['err'], None, 'the door is not faulted')


def case_the_site_fire_releases_the_doors_when_its_event_finds_no_heap():
    # the event went first: its MemoryError left the doors locked, and the fire state (saved
    # as active) was never applied again while the board ran
    def fn(app, out):
        event = app.event

        def short(etype, sev, fields=None, ctrl='system'):
            if etype == 'system.site_fire':
                raise MemoryError(_NO_HEAP)
            return event(etype, sev, fields, ctrl)
        app.event = short
        try:
            app.fire.heard(app.fire.raises + 'x', b'{"active": true, "after": 0, "by": "x/front"}')
        except MemoryError:
            pass
        out['lock'] = app.ctrls['front'].outputs['lock']
        out['fire'] = app.ctrls['front'].fire
        app.event = event
        _outbox(app)
        app.step()          # a later pass, with heap
        out['said'] = [t for s, t in _outbox(app) if t == 'system.site_fire']
    r = _with_door(fn)
    eq((r['fire'], r['lock']), (True, 0), 'the door is released')
    eq(r['said'], ['system.site_fire'], 'and the control room hears it on a later pass (it waits for it)')


class _ShortSock(wire._Sock):
    """The broker's side; a read of `over` bytes or more finds no heap (nothing taken)."""
    over = 1000

    async def readexactly(self, n):
        if n >= self.over:
            raise MemoryError('memory allocation failed, allocating %d bytes' % n)
        return await wire._Sock.readexactly(self, n)


def _big(n):
    if n >= _ShortSock.over:
        raise MemoryError('memory allocation failed, allocating %d bytes' % n)
    return bytearray(n)


def case_a_message_that_finds_no_heap_is_refused_and_the_link_stays_up():
    # a config push of 1.8 KB (under the 2 KB every board takes) to a board with ~12 KB free:
    # reading it ran out of heap and closed the link; being retained, it came again at every
    # reconnect: the board stayed offline
    if not hasattr(asyncio, 'wait_for_ms'):
        asyncio.wait_for_ms = lambda aw, ms: asyncio.wait_for(aw, ms / 1000)
    cfg = 'edge/v1/s/d/cfg'
    data = (mqtt_packet.publish_packet(cfg, b'{"rev": "r2", "cfg": "' + b'x' * 1800 + b'"}', 1, True, 5) +
            mqtt_packet.publish_packet('edge/v1/s/d/cmd/front', b'{"id": "c", "op": "status"}', 1, False, 6))
    c = mqtt.Client('t', '127.0.0.1', 1, max_msg=2048)
    s = _ShortSock(data)
    c._r = c._w = s
    c.connected = True
    got, big = [], []
    c.on_message = lambda t, p: got.append(t)
    c.on_oversize = lambda t, n: big.append((t, n, c.no_heap))
    mqtt.bytearray = _big
    try:
        try:
            asyncio.run(c.run())
            err = None
        except mqtt.MQTTError as e:
            err = str(e)
    finally:
        del mqtt.bytearray
    eq(big, [(cfg, 1824, True)], 'refused as finding no heap, with its topic and size')
    eq(got, ['edge/v1/s/d/cmd/front'], 'the next message arrives')
    eq(s.out, b'\x40\x02\x00\x05\x40\x02\x00\x06', 'both acknowledged')
    eq(err, 'connection closed', 'the client ran until the broker closed, not before')


def case_a_delivery_cut_short_by_the_heap_and_retried_counts_each_event_once():
    # the session goes on after a MemoryError (link.py): an event whose delivery ran out of
    # heap part-way is sent and marked delivered again; its first pass had counted some off
    # already, and the board's pending count went below zero (tele outbox: -1)
    from outbox import Outbox

    def t():
        ob = Outbox('ob.log', 50)
        for i in range(3):
            ob.add('front', 'door.opened', 'info', {'n': i})
        count = ob._count
        calls = []

        def short(sev, d):
            calls.append(d)
            if len(calls) == 2:
                raise MemoryError(_NO_HEAP)
            count(sev, d)
        ob._count = short
        try:
            ob.delivered(3)
        except MemoryError:
            pass
        ob._count = count
        ob.delivered(3)             # the session sends it again, and it is acknowledged
        eq((len(ob), ob.peek()), (0, None), 'nothing pending, nothing below zero')
        ob.add('front', 'door.closed', 'info')
        eq(len(ob), 1, 'the next event counts')
        ob.close()
    in_tmpdir('short_heap2_ob', t)


def case_a_fault_alarm_that_finds_no_heap_is_written_on_a_later_pass():
    # a faulted controller is not run again: its fault alarm, held back for want of heap, stayed
    # queued for good and the control room never heard of the fault
    def fn(app, out):
        ctrl = app.ctrls['front']
        _outbox(app)
        real = outbox.json
        outbox.json = _Json(2)

        def broken(*a):
            raise ValueError('a bug')
        try:
            app._run(ctrl, broken)
        finally:
            outbox.json = real
        out['queued'] = [e[0] for e in ctrl.events]
        app.step()
        out['sent'] = [t for s, t in _outbox(app)]
        out['left'] = len(ctrl.events)
    r = _with_door(fn)
    eq(r['queued'], ['door.fault'], 'held back while the heap was short')
    eq((r['sent'], r['left']), (['door.fault'], 0), 'written on the next pass')
