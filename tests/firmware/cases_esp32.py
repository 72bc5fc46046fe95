# The ESP32 back-end (hal_esp32.py) on the conformance double of machine/network
# (esp32_double.py): pin rules, the network bring-up from net.json, the watchdog, and a
# beam edge stopping a closing barrier through the pin interrupt alone.
# Runs on CPython and on the MicroPython unix port.
import json
import sys
import time
import esp32_double as d
from harness import check, eq, in_tmpdir


def _hal():
    d.install()
    import hal_esp32
    return hal_esp32


def _refused(fn):
    from hal import HalError
    try:
        fn()
    except HalError as e:
        return str(e)
    return None


def case_pins_follow_the_esp32_rules():
    h = _hal().Esp32Hal({})
    try:
        s = h.input('front.contact', 4, active_low=True)
        eq(d.Pin.all[4].pull, d.Pin.PULL_UP, 'an active-low input gets the pull-up')
        eq(s.value(), 0, 'pulled up and active low: not active')
        h.input('bar.beam', 34)                    # input-only pins make fine inputs
        eq(d.Pin.all[34].pull, -1, 'no pull asked for: none given (pins 34-39 have none)')
        check(_refused(lambda: h.input('bar.beam', 35, active_low=True)), 'a pull-up on an input-only pin')
        check(_refused(lambda: h.output('front.lock', 34)), 'an output on an input-only pin')
        check(_refused(lambda: h.output('front.lock', 7)), 'a pin wired to the flash')
        lock = h.output('front.lock', 25, active_low=True, value=1)
        eq(d.Pin.all[25].level, 0, 'active-low output starts at its logical value')
        lock.value(0)
        eq(d.Pin.all[25].level, 1, 'and follows it inverted')
        a = h.analog('call.line', 36)
        check(_refused(lambda: h.analog('call.line', 4)), 'ADC2 pins are refused (unusable with Wi-Fi)')
        eq(a.value(), 0, 'an analog input reads a percentage')
    finally:
        d.uninstall()


def case_wifi_and_ethernet_come_up_from_net_json():
    def t():
        hal_esp32 = _hal()
        try:
            with open('net.json', 'w') as f:
                json.dump({'wifi': {'ssid': 'SITE-IOT', 'password': 'pw'}}, f)
            h = hal_esp32.Esp32Hal({})
            ups = [h.net_up() for i in range(4)]
            eq(ups, [False, False, True, True], 'associating, then up')
            eq(h.rssi(), -61, 'rssi from the station interface')
            with open('net.json', 'w') as f:
                json.dump({'lan': {'phy': 'LAN8720', 'phy_addr': 0, 'mdc': 23, 'mdio': 18, 'power': 12,
                                   'ref_clk': 17, 'ref_clk_mode': 'out'}}, f)
            h = hal_esp32.Esp32Hal({})
            eq(h.net_up(), True, 'Ethernet up')
            eq((h._nic.phy_type, h._nic.phy_addr), (1, 0), 'PHY from the profile')
            eq(h.rssi(), None, 'no rssi on a cable')
        finally:
            d.uninstall()
    in_tmpdir('esp_net', t)


def case_watchdog_and_maintenance_feeding():
    hal_esp32 = _hal()
    try:
        h = hal_esp32.Esp32Hal({})
        w = h.watchdog(8000)
        eq(d.WDT.instance.timeout, 8000, 'WDT timeout')
        w.feed()
        if sys.implementation.name == 'micropython':    # maintenance() uses time.ticks_*
            h.maintenance(60000)
            check(h.wdt is w and d.WDT.instance.feeds >= 2, 'the watchdog is fed on entering maintenance')
    finally:
        d.uninstall()


def _barrier_cfg():
    with open('../../protocols/controllers.json') as f:
        defs = json.load(f)
    c = {'name': 'bar', 'type': 'barrier', 'active_low': [],
         'pins': {'beam': 34, 'loop': 35, 'up_limit': 32, 'down_limit': 33, 'motor_up': 25, 'motor_down': 26,
                  'eye_tx': 27}}
    for k in defs['types']['barrier']['settings']:
        c[k] = defs['types']['barrier']['settings'][k]['default']
    c['auto_close_s'] = 0
    cfg = {'site': 's', 'device': 'gate-1', 'rev': 'r1', 'broker': {'host': '127.0.0.1', 'port': 1883},
           'controllers': [c]}
    for k in defs['device_settings']:
        cfg[k] = defs['device_settings'][k]['default']
    return cfg


def _sleep_ms(ms):
    if hasattr(time, 'sleep_ms'):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def case_a_beam_interrupt_stops_the_closing_arm_without_a_control_tick():
    def t():
        hal_esp32 = _hal()
        try:
            import bootlog
            from app import App
            cfg = _barrier_cfg()
            io = hal_esp32.Esp32Hal(cfg)
            app = App(cfg, io, bootlog.BootLog())
            pin = d.Pin.all

            def run(ms, plant=True):
                end = time.time() + ms / 1000
                while time.time() < end:
                    if plant:          # the photo-eye: the beam reads broken while the emitter is off
                        pin[34]._drive(0 if pin[27].level else 1)
                    d._run_scheduled()
                    app.step()
                    _sleep_ms(5)
            pin[32]._drive(1)          # the arm is up
            run(200)
            eq(app.ctrls['bar'].snapshot().get('state'), 'open', 'power-up at the up limit')
            ack = app.command('bar', json.dumps({'id': 'c1', 'op': 'close'}))
            check(ack['ok'], 'close: %r' % (ack,))
            pin[32]._drive(0)          # it leaves the up limit
            end = time.time() + 3
            while not pin[26].level and time.time() < end:
                run(10)
            eq(pin[26].level, 1, 'closing after the eye test: motor_down on')
            pin[34]._drive(1)          # something breaks the beam: the pin interrupt
            d._run_scheduled()         # (the VM runs what was scheduled by itself on MicroPython)
            for i in range(3):
                pass
            eq(pin[26].level, 0, 'motor_down off from the interrupt, no control tick in between')
            eq(pin[25].level, 0, 'and not straight into up: the dead time first')
            run(int(cfg['controllers'][0]['reverse_dead_ms']) + 100, plant=False)
            eq(pin[25].level, 1, 'reversing after the dead time')
        finally:
            d.uninstall()
    in_tmpdir('esp_beam', t)


def case_a_command_the_heap_cannot_take_is_refused_before_it_runs_and_the_door_stays_locked():
    """A command flood on a short heap once faulted a door (MemoryError in its command), and a
    faulted fail-safe door releases its lock for good: a command is now refused before it runs
    when the heap is short, so nothing of it happens."""
    def t():
        d.install()
        try:
            app = d.door_app(pins={'contact': 4, 'lock': 16}, fail_safe=True)
            door = app.ctrls['front']
            app.step()
            lock = app.outs['front']['lock'].value()
            check(door.ops() is door.ops(), 'the ops are found once per type, not per command')
            eq(app.heap_short(), False, 'a board with heap to spare runs commands')
            ran = []
            real = door.cmd_unlock
            door.cmd_unlock = lambda args, now: ran.append(1) or real(args, now)
            app.heap_short = lambda: True          # as on a heap below what a command needs
            ack = app.command('front', json.dumps({'id': 'c1', 'op': 'unlock'}))
            check(not ack['ok'] and 'short of memory' in ack['err'], 'refused: %r' % (ack,))
            eq((ran, door.error), ([], None), 'the command did not run; the door is not faulted')
            app.step()
            eq(app.outs['front']['lock'].value(), lock, 'the lock output is as it was (not released)')
            del app.heap_short
            ack = app.command('front', json.dumps({'id': 'c2', 'op': 'unlock'}))
            check(ack['ok'] and ran == [1], 'with heap again the command runs: %r' % (ack,))
        finally:
            d.uninstall()
    in_tmpdir('esp32-cmd-memory', t)
