# A short heap's MemoryError ends none of the board's long-running tasks: the health check
# (the watchdog's only feeder) goes on after a failed pass, the MQTT session goes on after a
# send that found no heap (the message goes once there is), and the client closes the
# connection only when a MemoryError may have cut a packet short. Found on a lib-layout
# board refused an update for want of heap: its health task had died at boot, and its link
# dropped (the last will: "offline") on the next event. CPython and the MicroPython unix port.
import asyncio
import json
import health
import link
import mqtt
import topics
from harness import check, eq, in_tmpdir

if not hasattr(asyncio, 'wait_for_ms'):     # CPython: the MicroPython calls the firmware uses
    asyncio.wait_for_ms = lambda aw, ms: asyncio.wait_for(aw, ms / 1000)
    asyncio.sleep_ms = lambda ms: asyncio.sleep(ms / 1000)


class _Wdt:
    def __init__(self):
        self.feeds = 0

    def feed(self):
        self.feeds += 1


class _Log:
    """The boot log: its first `fail` saves fail with a MemoryError."""

    def __init__(self, fail):
        self.fail = fail
        self.saved = 0
        self.safe_alarm = False

    def healthy(self):
        if self.fail:
            self.fail -= 1
            raise MemoryError('memory allocation failed, allocating 292 bytes')
        self.saved += 1


class _App:
    def __init__(self, log):
        from clock import ticks_ms
        self.loops = 0
        self.last_step = ticks_ms()
        self.safe_mode = False
        self.fw_trial = None
        self.trial = None
        self.log = log
        self.lines = []
        self.reboot_req = None

    def reboot(self, cause):
        self.reboot_req = cause

    def logline(self, lvl, text):
        self.lines.append((lvl, text))


class _Link:
    connects = 1


def _health(app, steps, wdt_ms=1000):
    """The health check (a pass each wdt_ms / 4) for |steps| x 50 ms, the control loop stepping
    each 50 ms (steps > 0) or standing still (steps < 0); returns its watchdog."""
    from clock import ticks_ms
    wdt = _Wdt()

    async def go():
        task = asyncio.create_task(health.run(app, _Link(), (wdt, wdt_ms, 0, 300000)))
        for _ in range(abs(steps)):
            await asyncio.sleep_ms(50)
            if steps > 0:
                app.loops += 1
                app.last_step = ticks_ms()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
    asyncio.run(go())
    return wdt


def case_the_health_check_outlives_failed_passes_and_keeps_feeding_the_watchdog():
    app = _App(_Log(3))
    wdt = _health(app, 30)
    eq(app.log.fail, 0, 'the three failing passes ran')
    eq(app.log.saved, 1, 'the pass after them marked the boot healthy')
    check(wdt.feeds >= 4, 'the watchdog was fed through the failures: %d feeds' % wdt.feeds)
    said = [ln for ln in app.lines if ln[1].startswith('health check: MemoryError')]
    eq((len(said), said[0][0] if said else None), (1, 2), 'logged once as a warning, not once a pass: %r' % (app.lines,))


def case_a_stalled_control_loop_is_not_fed_for():
    eq(_health(_App(_Log(0)), -16).feeds, 0, 'the watchdog bites')


def case_a_trial_the_health_check_cannot_settle_ends_in_a_reboot():
    # its passes fail every time (here: the boot log cannot be saved): a config on trial is
    # neither promoted nor abandoned, and the fed watchdog would keep it running for good
    app = _App(_Log(1000))
    app.trial = 'r2'
    _health(app, 30, wdt_ms=200)        # a pass each 50 ms
    eq(app.reboot_req, 'health', 'rebooted: the next boot goes back to the good config')
    app = _App(_Log(1000))
    _health(app, 30, wdt_ms=200)
    eq(app.reboot_req, None, 'without a trial the board runs on (its controllers fed for)')


class _Client:
    """The session's side of mqtt.Client: its first publish on `fail_on` finds no heap."""

    def __init__(self, fail_on, times=1):
        self.connected = True
        self.fail_on = fail_on
        self.times = times
        self.sent = []
        self.failed = 0

    async def subscribe(self, topic, qos=1):
        pass

    async def publish(self, topic, payload, qos=0, retain=False, dup=False, wait=True):
        if self.fail_on in topic and self.failed < self.times:
            self.failed += 1
            raise MemoryError('memory allocation failed, allocating 200 bytes')
        self.sent.append((topic, payload, dup))

    async def run(self):
        while self.connected:
            await asyncio.sleep_ms(20)

    async def keep_alive(self):
        while self.connected:
            await asyncio.sleep_ms(20)

    def close(self):
        self.connected = False


def _on_link(folder, client, body):
    """body(app, link) with a door's runtime on the ESP32 double and its link on `client`."""
    import esp32_double as d

    def t():
        d.install()
        try:
            app = d.door_app()
            lk = link.Link(app, app.cfg)
            lk.ntp = None
            lk.client = client
            body(app, lk)
            app.events.close()
        finally:
            d.uninstall()
    in_tmpdir(folder, t)


def _session_with(fail_on):
    c = _Client(fail_on)
    out = {'c': c}

    def body(app, lk):
        app.event('door.forced', 'alarm', {'n': 1})
        out['pending'] = len(app.events)
        out['state'] = topics.state(app.site, app.device, 'front')

        async def go():
            s = asyncio.create_task(lk._session())
            for _ in range(40):
                await asyncio.sleep_ms(25)
                if c.failed and not len(app.events) and not app.dirty:
                    break
            out.update(left=len(app.events), dirty=dict(app.dirty))
            c.connected = False
            lk._kick.set()
            await s             # ends because the connection did, not with the MemoryError
        asyncio.run(go())
    _on_link('short_heap_link', c, body)
    return out


def case_a_send_that_finds_no_heap_keeps_the_session_and_the_event_goes_later():
    r = _session_with('/evt/')
    c = r['c']
    eq(c.failed, 1, 'the first event found no heap')
    check(r['pending'] >= 1, 'events were waiting: %d' % r['pending'])
    eq(r['left'], 0, 'every event went out in the same session')
    evts = [(json.loads(s[1])['type'], s[2]) for s in c.sent if '/evt/' in s[0]]
    eq(evts, [('system.boot', True), ('door.forced', False)],
       'the event that found no heap went again (flagged DUP), then the alarm: %r' % (c.sent,))


def case_a_state_that_finds_no_heap_is_sent_again_in_the_same_session():
    r = _session_with('/state/')
    eq(r['c'].failed, 1, 'the first state found no heap')
    eq(r['dirty'], {}, 'nothing left to send')
    check(any(s[0] == r['state'] for s in r['c'].sent), 'the state went: %r' % (r['c'].sent,))


class _Stream:
    """A writer as MicroPython's asyncio Stream: what the socket did not take waits in out_buf
    for the drain. Its write or drain runs out of heap."""

    def __init__(self, where):
        self.where = where
        self.out = b''
        self.out_buf = b''

    def write(self, b):
        if self.where == 'write':
            self.out += b[:3]       # part of it went before the heap ran out
            raise MemoryError('memory allocation failed')
        if self.where == 'mid-drain':
            self.out, self.out_buf = self.out + b[:3], b[3:]    # the socket took 3 bytes
        else:
            self.out += b

    async def drain(self):
        if self.where in ('drain', 'mid-drain'):
            raise MemoryError('memory allocation failed')

    def close(self):
        pass


def _send(where):
    c = mqtt.Client('t', '127.0.0.1', 1)
    c._r = c._w = _Stream(where)
    c.connected = True
    got = []

    async def go():
        try:
            await c._send(b'\x30\x05\x00\x01ab!')
            got.append('sent')
        except mqtt.MQTTError as e:
            got.append('MQTTError: %s' % e)
        except MemoryError:
            got.append('MemoryError')
    asyncio.run(go())
    return got[0], c.connected


def case_a_packet_cut_short_by_the_heap_closes_the_connection():
    eq(_send('write'), ('MQTTError: short of memory in the middle of a packet', False),
       'no packet may follow a partial one: closed, the link reconnects')
    eq(_send('mid-drain'), ('MQTTError: short of memory in the middle of a packet', False),
       'nor one whose rest waits for a drain that would send it again from its start')


def case_a_packet_written_whole_before_the_heap_ran_out_keeps_the_connection():
    eq(_send('drain'), ('MemoryError', True), 'the stream is whole: the caller tries again later')


class _Refused(_Client):
    """A broker that refuses every connection."""

    def __init__(self):
        _Client.__init__(self, '-')
        self.connects = 0
        self.error = None

    async def connect(self):
        self.connects += 1
        raise OSError(111)


def case_the_link_task_goes_on_dialling_when_its_log_line_finds_no_heap():
    c = _Refused()
    out = {}

    def body(app, lk):
        lk.backoff_max = 100
        app.io.net_up = lambda: True    # (the double's Wi-Fi is not joined)
        short = [2]

        def logline(lvl, text):     # the line about the lost link finds no heap, twice
            if short[0]:
                short[0] -= 1
                raise MemoryError('memory allocation failed, allocating 64 bytes')
        app.logline = logline

        async def go():
            task = asyncio.create_task(lk.run())
            await asyncio.sleep_ms(1200)
            out['done'] = task.done()
            task.cancel()
        asyncio.run(go())
        out['connects'] = c.connects
    _on_link('short_heap_dial', c, body)
    eq(out['done'], False, 'the link task is still running')
    check(out['connects'] >= 4, 'it dialled on after the lost lines: %d attempts' % out['connects'])


def case_the_loop_count_stays_a_small_int():
    # a count past 2**30 is a long int on a 32-bit VM: an allocation every control pass
    import esp32_double as d

    def t():
        d.install()
        try:
            app = d.door_app()
            app.loops = 0x3FFFFFFF
            app.step()
            eq(app.loops, 0, 'wrapped at 2**30')
            app.step()
            eq(app.loops, 1, 'and counts on (the health check only asks whether it moved)')
            app.events.close()
        finally:
            d.uninstall()
    in_tmpdir('short_heap_loops', t)


def case_main_unloads_the_firmware_one_module_at_a_time():
    # main.py's _unload, run on a stand-in module table: what was loaded after main.py started
    # goes, what it found stays (the one-at-a-time walk needs no list of the modules)
    with open(health.__file__.rsplit('/', 1)[0] + '/main.py') as f:
        src = f.read()
    src = src[src.index('def _unload():'):src.index('\ntry:\n    import start')]

    class _Sys:
        modules = {'gc': 1, 'os': 2, 'start': 3, 'app': 4, 'door': 5, 'link': 6}
    g = {'sys': _Sys, '_keep': {'gc', 'os'}, 'start': object()}
    exec(src, g)
    g['_unload']()
    eq(sorted(_Sys.modules), ['gc', 'os'], 'the firmware\'s modules left')
    eq('start' in g, False, 'and the name main.py held it by')


class _NoReader(_Client):
    """A reader that cannot even start (its coroutine finds no heap)."""
    error = None

    def run(self):
        raise MemoryError('memory allocation failed, allocating 464 bytes')


def case_a_reader_that_cannot_start_closes_the_connection():
    # else the session waits out every SUBACK with nobody reading, and again at each reconnect
    c = _NoReader('-')
    _on_link('short_heap_reader', c, lambda app, lk: asyncio.run(lk._read()))
    eq(c.connected, False, 'closed: the session reconnects at once')


def case_a_fire_message_that_finds_no_heap_ends_the_session_a_config_is_refused():
    # a refused fire raise waited for an unrelated reconnect (the doors locked meanwhile); the
    # session ends instead and the retained raise comes again with the next one
    c = _Client('-')
    c.no_heap = True
    out = {}

    def body(app, lk):
        async def go(topic):
            try:
                await lk._on_oversize(topic, 45)
            except mqtt.MQTTError as e:
                return str(e)
        out['fire'] = asyncio.run(go(app.fire.raises + 'lobby-2'))
        out['reset'] = asyncio.run(go(app.fire.reset_topic))
        n = len(app.events)
        out['cfg'] = asyncio.run(go(lk.t_cfg))
        out['cfg_events'] = len(app.events) - n
    _on_link('short_heap_fire', c, body)
    eq(out['fire'], 'message of 45 bytes: the board is short of memory for it now', 'a raise ends the session')
    check(out['reset'] is not None, 'so does a reset')
    eq((out['cfg'], out['cfg_events']), (None, 1), 'a config is refused (system.config_rejected), the session stays')


def case_a_send_that_never_finds_heap_ends_the_session_after_3_s():
    # else the board looks online (its retained status) and sends nothing, tele included
    c = _Client('/evt/', times=1000)
    out = {}

    def body(app, lk):
        async def go():
            try:
                await lk._session()
                out['end'] = 'returned'
            except MemoryError:
                out['end'] = 'MemoryError'
        asyncio.run(go())
    _on_link('short_heap_stall', c, body)
    eq(out['end'], 'MemoryError', 'the session ended: the link reconnects (the will says offline meanwhile)')
    eq(c.failed, 30, 'after 30 tries, 100 ms apart')
