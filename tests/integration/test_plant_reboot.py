"""The barrier's arm plant keeps driving the board's wires across reboots (issue 15, finding 12:
after a board's second reboot the plant no longer saw the motor outputs nor drove the limits,
and the barrier faulted with motor_timeout). Real mosquitto, the real firmware on the
MicroPython VM, restarted by the supervisor as a board resets."""
import json
import time

import pytest

from edgectl.core import proto
from edgectl.core.mqttc import Collector

T = proto.topics
SITE = """\
site: pr
broker: {host: 127.0.0.1, port: 1883}
devices:
  gate-1:
    board: esp32-devkitc
    controllers:
      - name: arm
        type: barrier
        pins: {beam: 34, loop: 35, up_limit: 32, down_limit: 33, motor_up: 25, motor_down: 26, eye_tx: 27}
        auto_close_s: 0
        travel_timeout_s: 5
"""
REBOOTS = 3


@pytest.fixture
def gate(make_board, broker):
    b = make_board(SITE, 'gate-1')
    b.plants[0].travel = 0.6            # a quick arm: the test is about the wires, not the motor
    b.start_plants()
    col = Collector(broker.host, broker.port, [T.base('pr', 'gate-1') + '#'])
    yield b, col
    col.close()
    b.stop_plants()


def online(col, start=0, timeout=20):
    r = col.wait(lambda t, p: t == T.status('pr', 'gate-1') and isinstance(p, dict) and p.get('online'),
                 timeout, start)
    return r[2] if r else None


def command(col, ctrl, op):
    m = col.mark()
    cid = 'c-%d' % time.monotonic_ns()
    col.client.publish(T.cmd('pr', 'gate-1', ctrl), json.dumps({'id': cid, 'op': op}), qos=1)
    r = col.wait(lambda t, p: t == T.ack('pr', 'gate-1', ctrl) and isinstance(p, dict) and p.get('id') == cid, 5, m)
    return r[2] if r else None


def open_and_close(b, col, label):
    """`open` brings the arm to its up limit and `close` to its down limit, with no fault."""
    arm = b.plants[0]
    m = col.mark()
    ack = command(col, 'arm', 'open')
    assert ack and ack['ok'], (label, ack)
    assert col.event('barrier.opened', 8, m), '%s: the arm never reached its up limit (pos %.2f)\n%s' % (
        label, arm.pos, b.log_tail())
    assert arm.pos >= 1.0, (label, arm.pos)
    ack = command(col, 'arm', 'close')
    assert ack and ack['ok'], (label, ack)
    assert col.event('barrier.closed', 8, m), '%s: the arm never reached its down limit (pos %.2f)\n%s' % (
        label, arm.pos, b.log_tail())
    assert arm.pos <= 0.0, (label, arm.pos)
    assert col.event('barrier.fault', 0, m) is None, '%s: the barrier faulted' % label


def test_the_arm_plant_drives_the_wires_after_repeated_reboots(gate):
    b, col = gate
    first = online(col)
    assert first, b.log_tail()
    open_and_close(b, col, 'before any reboot')
    for n in range(1, REBOOTS + 1):
        m = col.mark()
        ack = command(col, 'system', 'reboot')
        assert ack and ack['ok'], ack
        back = online(col, m)
        assert back and back['boot'] == first['boot'] + n, (n, back, b.log_tail())
        open_and_close(b, col, 'after reboot %d' % n)
    assert len(b.resets) == REBOOTS, b.resets


def test_the_arm_plant_follows_a_board_rebooted_with_its_arm_open_and_after_a_power_cut(gate):
    """Rebooted with the arm up, the board finds it at its up limit and closes it (the eye test
    needs the plant to follow eye_tx); after a power cut (SIGKILL) the same."""
    b, col = gate
    first = online(col)
    assert first, b.log_tail()
    arm = b.plants[0]
    for n, how in enumerate(('reboot', 'power cut'), 1):
        m = col.mark()
        ack = command(col, 'arm', 'open')
        assert ack and ack['ok'] and col.event('barrier.opened', 8, m), (how, ack, arm.pos)
        m = col.mark()
        if how == 'reboot':
            ack = command(col, 'system', 'reboot')
            assert ack and ack['ok'], ack
        else:
            b.kill(restart=True)
        back = online(col, m)
        assert back and back['boot'] == first['boot'] + n, (how, back, b.log_tail())
        up = col.wait(lambda t, p: t == T.state('pr', 'gate-1', 'arm') and isinstance(p, dict)
                      and p.get('state') == 'open', 5, m)    # found at its up limit once the limits settle
        assert up, (how, b.log_tail())
        m = col.mark()
        ack = command(col, 'arm', 'close')
        assert ack and ack['ok'], (how, ack)
        assert col.event('barrier.closed', 8, m), 'after a %s: the arm never closed (pos %.2f)\n%s' % (
            how, arm.pos, b.log_tail())
        assert arm.pos <= 0.0 and col.event('barrier.fault', 0, m) is None, (how, arm.pos)
        open_and_close(b, col, 'after a %s' % how)
    assert [r for r, _ in b.resets] == ['soft', 'power'], b.resets
