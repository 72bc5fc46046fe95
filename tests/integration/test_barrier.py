"""The barrier on a simulated board with the arm plant, against real mosquitto: close,
break the beam mid-travel, the arm reverses and the alarm reaches MQTT."""
import time

import pytest

from edgectl.core import proto
from edgectl.core.mqttc import Collector
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: bt
broker: {host: 127.0.0.1, port: 1883}
devices:
  gate-1:
    board: esp32-devkitc
    controllers:
      - name: arm
        type: barrier
        pins: {beam: 34, loop: 35, up_limit: 32, down_limit: 33, motor_up: 25, motor_down: 26, eye_tx: 27}
        auto_close_s: 0
        reverse_dead_ms: 200
"""


@pytest.fixture
def gate(make_board, broker):
    b = make_board(SITE, 'gate-1')
    b.start_plants()
    col = Collector(broker.host, broker.port, [T.base('bt', 'gate-1') + '#'])
    assert col.wait(lambda t, p: t.endswith('/status') and isinstance(p, dict) and p.get('online'), 10)
    yield b, col, SimIO(b.io_port)
    col.close()
    b.stop_plants()


def evt(col, etype, timeout=8, start=0, **match):
    return col.event(etype, timeout, start, **match)


def command(col, op):
    m = col.mark()
    col.client.publish(T.cmd('bt', 'gate-1', 'arm'), '{"id": "c-%s", "op": "%s"}' % (op, op), qos=1)
    r = col.wait(lambda t, p: t == T.ack('bt', 'gate-1', 'arm') and p.get('id') == 'c-' + op, 5, m)
    return r[2]


def test_beam_broken_mid_close_reverses_the_arm_and_alarms(gate):
    b, col, io = gate
    assert command(col, 'open')['ok']
    assert evt(col, 'barrier.opened')
    m = col.mark()
    assert command(col, 'close')['ok']
    assert evt(col, 'barrier.closing', start=m)
    time.sleep(1.0)                                   # the arm is half way down
    plant = b.plants[0]
    assert 0.3 < plant.pos < 0.9, plant.pos
    plant.set('obstruction', 1)
    alarm = evt(col, 'barrier.obstructed', start=m, active=True)
    assert alarm and alarm[2]['sev'] == 'alarm' and proto.errors('event', alarm[2]) == []
    assert io.get('arm.motor_down') == 0
    assert evt(col, 'barrier.opened', start=m), b.log_tail()
    assert plant.pos >= 1.0
    plant.set('obstruction', 0)
    assert evt(col, 'barrier.obstructed', start=m, active=False)
    state = col.wait(lambda t, p: t == T.state('bt', 'gate-1', 'arm') and p.get('state') == 'open', 5, m)
    assert state and proto.errors('state', state[2]) == []


def test_close_refused_with_the_beam_broken(gate):
    b, col, io = gate
    assert command(col, 'open')['ok']
    assert evt(col, 'barrier.opened')
    b.plants[0].set('obstruction', 1)
    time.sleep(0.2)
    ack = command(col, 'close')
    assert ack['ok'] is False and 'beam' in ack['err']
    assert io.get('arm.motor_down') == 0


def test_anti_crush_holds_with_no_network_and_a_full_outbox(make_board):
    """No broker at all, the outbox full: the arm still stops and reverses on the beam.
    With no network, the barrier runs on its own: it powers up between the limits, opens,
    and closes by itself after auto_close_s."""
    from edgectl.core.broker import free_port
    from edgectl.sim.simio import EdgeWatcher
    text = SITE.replace('port: 1883', 'port: %d' % free_port()).replace(
        '    board: esp32-devkitc\n', '    board: esp32-devkitc\n    outbox_max: 10\n').replace(
        'auto_close_s: 0', 'auto_close_s: 1\n        max_obstructions: 5')   # the most allowed: 3 obstructions must not hold it
    b = make_board(text, 'gate-1', site_broker=True)
    b.stop()
    arm = b.plants[0]
    arm.pos = 0.5                                   # power-up between the limits: it opens first
    b.provision().start()
    b.start_plants()
    watch = EdgeWatcher(b.io_port)
    io = SimIO(b.io_port)
    try:
        for cycle in range(3):
            m = len(watch.edges)
            assert watch.wait('arm.motor_down', 1, 15, m), 'cycle %d: no auto-close\n%s' % (cycle, b.log_tail())
            time.sleep(0.3)
            m = len(watch.edges)
            t0 = time.monotonic_ns() // 1000
            arm.set('obstruction', 1)
            stop = watch.wait('arm.motor_down', 0, 2, m)
            assert stop and (stop[3] - t0) / 1000 < 50, 'cycle %d: motor_down not off in time' % cycle
            assert watch.wait('arm.motor_up', 1, 2, m), 'cycle %d: no reversal' % cycle
            assert watch.wait('arm.motor_up', 0, 10, m), 'cycle %d: not back up' % cycle
            arm.set('obstruction', 0)
        info = io.info()
        assert info['connects'] == 0, info
        assert info['outbox'] == 10 and info['dropped'] > 0, info
    finally:
        watch.close()
        io.close()
        b.stop_plants()
