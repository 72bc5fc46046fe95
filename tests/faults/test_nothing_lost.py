"""Fault injection: a persistent mosquitto, three simulated boards raising events
continuously, and a journal with a persistent session. After each fault, every event a
board raised must be in the journal exactly once after dedup, in seq order, none lost, and
every board back online. Scenarios run in order on one rig; counts are cumulative."""
import json
import time

import pytest

from edgectl.qa.faults import FaultRig, Load
from edgectl.core.proto import topics


@pytest.fixture(scope='module')
def rig(tmp_path_factory):
    r = FaultRig(tmp_path_factory.mktemp('faults'), n_boards=3).start()
    yield r
    r.stop()


def record(figures, rig, scenario, before, tally, note=''):
    row = dict(tally)
    row['scenario'] = scenario
    row['note'] = note
    row['raised'] = tally['raised'] - before['raised']
    row['delivered'] = tally['delivered'] - before['delivered']
    row['duplicates_dropped'] = tally['duplicates_dropped'] - before['duplicates_dropped']
    figures.append(row)
    assert tally['lost'] == 0, tally
    assert tally['out_of_order'] == 0, tally
    assert tally['dropped_on_board'] == 0, tally
    assert tally['delivered'] == tally['raised'], tally


def test_baseline(rig, figures):
    before = rig.settle(30)
    load = Load(rig.boards).start()
    time.sleep(4)
    load.stop()
    record(figures, rig, 'baseline (4 s of load)', before, rig.settle(30))


def test_broker_stopped_for_30_s(rig, figures):
    before = rig.settle(30)
    load = Load(rig.boards).start()
    time.sleep(1)
    rig.broker.stop()
    time.sleep(30)
    rig.broker.start()
    t_back = time.monotonic()
    time.sleep(2)
    load.stop()
    tally = rig.settle(60)
    record(figures, rig, 'broker stopped 30 s', before, tally,
           'all delivered %.1f s after the broker returned' % (rig.last_arrival() - t_back))


def test_board_killed_mid_burst(rig, figures):
    before = rig.settle(30)
    load = Load(rig.boards, period_s=0.05).start()
    time.sleep(1.5)
    victim = rig.boards[1]
    victim.kill(restart=True)          # power cut; the supervisor powers it up again
    time.sleep(3)
    load.stop()
    tally = rig.settle(60)
    assert victim.resets and victim.resets[-1][0] == 'power'
    record(figures, rig, 'kill -9 a board mid-burst', before, tally, 'restarted as a power cut')


def test_broker_restarted_with_persistence(rig, figures):
    before = rig.settle(30)
    load = Load(rig.boards).start()
    time.sleep(1)
    rig.broker.stop()
    rig.broker.start()
    t_back = time.monotonic()
    time.sleep(2)
    load.stop()
    tally = rig.settle(60)
    record(figures, rig, 'broker restarted (persistence)', before, tally,
           'settled %.1f s after restart' % (rig.last_arrival() - t_back))


def test_command_flood_and_malformed_commands(rig, figures):
    before = rig.settle(30)
    load = Load(rig.boards).start()
    target = rig.boards[0]
    acks = []
    ack_topic = topics.ack('fi', target.device, 'front')
    rig.client.message_callback_add(ack_topic, lambda c, u, m: acks.append(json.loads(m.payload)))
    rig.client.subscribe(ack_topic, 1)
    t0 = time.monotonic()
    for i in range(1000):
        rig.client.publish(topics.cmd('fi', target.device, 'front'), json.dumps({'id': 'f-%d' % i, 'op': 'status'}), 1)
    for i in range(100):
        last = rig.client.publish(topics.cmd('fi', target.device, 'front'), b'{"id": "m-%d", "op": ' % i, 1)
    last.wait_for_publish(60)          # all 1,100 handed to the broker
    n = -1
    while n != len(acks):              # and the board has answered what it will answer
        n = len(acks)
        time.sleep(1.0)
    load.stop()
    tally = rig.settle(90)
    took = time.monotonic() - t0
    rig.client.message_callback_remove(ack_topic)
    ok = sum(1 for a in acks if a.get('ok'))
    refused = sum(1 for a in acks if a.get('ok') is False)
    assert ok + refused > 0
    rej = [e for e in rig.journal.events[target.device].values() if e.get('type') == 'system.cmd_rejected']
    assert rej, 'no cmd_rejected event for malformed commands'
    record(figures, rig, '1,000 commands + 100 malformed', before, tally,
           '%d ok acks, %d refusals acked in %.1f s; %d rejection events (rate-limited)' % (ok, refused, took, len(rej)))
    assert all(rig.online.values())
