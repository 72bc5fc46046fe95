"""What the ESP32 conformance double cannot show, as cases for the day a rig is wired: they
run on the simulated rigs too (where they pass on the simulator's exact timing and readings),
and on a real rig and DUT (`--rig serial:PORT --dut-port PORT`) they measure the chip.

- Soft interrupts: MicroPython on an ESP32 runs a Pin.irq handler from its scheduler (no
  `hard=True` there), so an edge waits for the bytecode under way, and a garbage collection
  holds it for the collection's length. Measured here with the DUT collecting hard: REX
  pressed while it answers a stream of status commands.
- The ADC near its rails: at 11 dB attenuation an ESP32 reads accurately between about 150 and
  2450 mV (ESP-IDF's adc.h and the ESP32 datasheet, +-60 mV calibrated); below it reads 0,
  above it the curve flattens until the reading saturates near 3.1 V. The line supervision's
  bands (short < 10 %, open >= 90 % of full scale, firmware/supervision.py) put a short in the
  dead zone and an open line at saturation, both read right; the band edges near the top lie
  in the flat part. The case drives the line just inside each band near both rails.
- Wi-Fi: an ESP-IDF station drops its access point after 6 s without a beacon (the default of
  esp_wifi_set_inactive_time), then the link's backoff (backoff_max_s) and the reconnect
  (association, DHCP, MQTT CONNECT) follow. The case cuts the broker for longer than that and
  measures from its return to the first event the DUT held meanwhile; on a real rig, cutting
  the access point's power instead shows the radio's share."""
import threading
import time

REACT = 0.15        # input edge -> output edge: debounce 20 ms + tick 10 ms + margin (as test_hil_door)


def test_soft_interrupt_latency_while_the_board_collects_garbage(door):
    stop = threading.Event()
    acks = []

    def flood():                    # every status ack is a fresh dict and JSON text on the DUT
        while not stop.is_set():
            try:
                acks.append(door.command('front', 'status', within_s=2.0)['ok'])
            except AssertionError:
                pass

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    try:
        for i in range(3):
            n = len(acks)
            since = door.mark()
            t0 = door.set('front.rex', 1)
            rel = door.edge('front.lock', 0, 1.0, since)
            door.timing('REX -> lock released, DUT answering a command stream (%d)' % (i + 1),
                        rel.t - t0, 0.0, REACT)
            door.set('front.rex', 0)
            door.edge('front.lock', 1, 3.0, since)
            assert len(acks) > n, 'the command stream ran while REX was measured'
    finally:
        stop.set()
        t.join(5)


def test_line_bands_read_right_near_the_adc_rails(callpoint):
    c = callpoint
    # (line %, fault expected, why): just inside each band near the dead zone and the flat top
    for pct, fault, why in ((6, True, 'line_short'), (14, False, None), (86, False, None), (94, True, 'line_open')):
        since = c.mark()
        c.set('station.line', pct)
        if fault:
            ev = c.event('intercom.fault', True, since=since)
            assert ev[2]['reason'] == why, (pct, ev)
            since = c.mark()
            c.set('station.line', 33)
            c.event('intercom.fault', False, since=since)
        else:
            time.sleep(0.2)         # ten debounce times: a fault would have been raised by now
            st = c.command('station', 'status')['state']
            assert st['line_fault'] is None, (pct, st)
    c.set('station.line', 33)


def test_events_held_through_a_link_loss_longer_than_the_beacon_timeout(door):
    from edgectl.core.mqttc import Collector
    from edgectl.core.proto import topics
    env = door.env
    import pytest
    if env.broker is None:
        pytest.skip('a real rig: cut the access point (or the broker) by hand for this case')
    if env.kind == 'pty':
        pytest.skip('the link is the same as on the sim rig (the pty rig differs only in the wire)')
    env.observer.client.reconnect_delay_set(1, 1)      # the suite's observer is back within 1 s
    env.broker.stop()
    t_cut = time.monotonic()
    time.sleep(0.5)
    since = door.mark()
    door.set('front.rex', 1)                    # the DUT acts offline: lock released and relocked
    door.edge('front.lock', 0, 1.0, since)
    door.set('front.rex', 0)
    door.edge('front.lock', 1, 3.0, since)
    time.sleep(max(0.0, 6.5 - (time.monotonic() - t_cut)))     # past an ESP-IDF beacon timeout
    env.broker.start()
    back = time.time()
    # a listener of its own, subscribed before the DUT's backoff brings it back
    col = Collector(env.broker.host, env.broker.port, [topics.base(env.site.name, env.device) + '#'], 'hil-back')
    try:
        ev = col.wait(lambda t, p: '/evt/' in t and isinstance(p, dict) and p.get('type') == 'door.unlocked', 20.0)
    finally:
        col.close()
    assert ev is not None, 'the event raised offline never arrived; DUT log %s' % env.dut_log
    backoff = env.cfg.get('backoff_max_s', 10)
    door.timing('broker back -> held event delivered (backoff_max_s %s)' % backoff, ev[0] - back, 0.0,
                backoff + 3.0)
    end = time.monotonic() + 10
    while not env.observer.client.is_connected() and time.monotonic() < end:
        time.sleep(0.1)
