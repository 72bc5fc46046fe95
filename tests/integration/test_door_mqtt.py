"""A real mosquitto, the firmware on the MicroPython unix port, the door end to end."""
import json
import subprocess
import sys
import time

import pytest

from edgectl.core import proto
from edgectl.core.broker import Broker, free_port
from edgectl.core.mqttc import Collector
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: it
broker: {host: 127.0.0.1, port: 1883}
devices:
  d1:
    board: esp32-devkitc
    tele_s: 1
    controllers:
      - name: front
        type: door
        pins: {contact: 4, rex: 13, fire: 14, lock: 25, buzzer: 26}
        held_open_s: 1
        prealarm_s: 0
        unlock_s: 1
        debounce_ms: 20
"""


def online(col, timeout=10, start=0):
    return col.wait(lambda t, p: t == T.status('it', 'd1') and isinstance(p, dict) and p.get('online'),
                    timeout, start)


def evt(col, etype, active=None, timeout=5, start=0):
    return col.event(etype, timeout, start, **({} if active is None else {'active': active}))


@pytest.fixture
def col(broker):
    c = Collector(broker.host, broker.port, [T.base('it', 'd1') + '#'])
    yield c
    c.close()


@pytest.fixture
def board(make_board):
    return make_board(SITE, 'd1')


def test_held_open_alarm_raised_and_cleared_on_mqtt(board, col):
    assert online(col), board.log_tail()
    io = SimIO(board.io_port)
    m = col.mark()
    t0 = time.time()
    io.set('front.contact', 1)
    raised = evt(col, 'door.held_open', True, start=m)
    assert raised, board.log_tail()
    assert 1.0 <= raised[0] - t0 < 1.5, 'alarm %.3f s after opening, held_open_s=1' % (raised[0] - t0)
    assert proto.errors('event', raised[2]) == []
    assert raised[2]['sev'] == 'alarm' and raised[2]['ctrl'] == 'front'
    io.set('front.contact', 0)
    cleared = evt(col, 'door.held_open', False, start=m)
    assert cleared and cleared[2]['seq'] > raised[2]['seq']
    seqs = [e['seq'] for e in col.events()]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    io.close()


def test_status_state_tele_payloads_follow_the_schemas(board, col):
    st = online(col)
    assert st and proto.errors('status', st[2]) == []
    state = col.wait(lambda t, p: t == T.state('it', 'd1', 'front'), 5)
    assert state and state[3] is True and proto.errors('state', state[2]) == []
    tele = col.wait(lambda t, p: t == T.tele('it', 'd1'), 5)
    assert tele and proto.errors('tele', tele[2]) == []


def test_will_says_offline_when_the_board_dies(board, col, broker):
    assert online(col)
    m = col.mark()
    board.kill()
    off = col.wait(lambda t, p: t == T.status('it', 'd1') and p == {'online': False}, 5, m)
    assert off, 'no will after kill -9'


def test_seq_and_boot_count_survive_a_reboot(board, col):
    first = online(col)
    io = SimIO(board.io_port)
    io.set('front.rex', 1)
    assert evt(col, 'door.unlocked')
    io.close()
    last = max(e['seq'] for e in col.events())
    board.stop()
    m = col.mark()
    board.start()
    again = online(col, start=m)
    assert again and again[2]['boot'] == first[2]['boot'] + 1
    io = SimIO(board.io_port)
    io.set('front.rex', 0)
    io.set('front.contact', 1)
    e = evt(col, 'door.opened', start=m)
    assert e and e[2]['seq'] > last
    io.close()


@pytest.mark.parametrize('ctrl,payload,reason', [
    ('front', 'garbage', 'malformed JSON'),
    ('front', '{"id": "c-1", "op": "opn"}', "unknown op 'opn'"),
    ('front', '{"id": "c-2", "op": "unlock", "s": "ten"}', "'s' must be"),
    ('front', '{"op": "unlock"}', "'id'"),
    ('back', '{"id": "c-3", "op": "unlock"}', 'no controller back'),
])
def test_bad_commands_refused_with_reason_and_change_nothing(board, col, broker, ctrl, payload, reason):
    assert online(col)
    io = SimIO(board.io_port)
    m = col.mark()
    col.client.publish(T.cmd('it', 'd1', ctrl), payload, qos=1)
    ack = col.wait(lambda t, p: t == T.ack('it', 'd1', ctrl), 5, m)
    assert ack and ack[2]['ok'] is False and reason in ack[2]['err'], ack
    assert proto.errors('ack', ack[2]) == []
    rej = evt(col, 'system.cmd_rejected', start=m)
    assert rej and reason in rej[2]['err']
    assert io.get('front.lock') == 1
    assert not [e for e in col.events() if e.get('type') == 'door.unlocked']
    io.close()


def test_edgectl_cmd_exit_codes(board, col, broker, tmp_path):
    assert online(col)
    site = tmp_path / 'site.yaml'
    site.write_text(SITE.replace('port: 1883', 'port: %d' % broker.port))

    def cmd(*a):
        return subprocess.run([sys.executable, '-m', 'edgectl.cli', 'cmd', '--site', str(site), 'd1'] + list(a),
                              capture_output=True, text=True, timeout=30, cwd=tmp_path)
    r = cmd('front', 'status', '--json')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)['state']['lock'] == 'locked'
    r = cmd('front', 'opn')
    assert r.returncode == 1 and "unknown op 'opn'" in r.stderr
    r = cmd('front', 'unlock', 's=2')
    assert r.returncode == 0
    assert evt(col, 'door.unlocked')
    r = cmd('nosuch', 'status', '--timeout', '2')
    assert r.returncode == 2 and "no controller 'nosuch'" in r.stderr     # the site file says so at once


def test_controllers_run_with_no_broker_and_report_when_it_comes(make_board, tmp_path):
    port = free_port()
    b = make_board(SITE, 'd1')
    # point the board at a broker that does not exist yet
    b.stop()
    b.cfg['broker'] = {'host': '127.0.0.1', 'port': port}
    b.provision().start()
    io = SimIO(b.io_port)
    io.set('front.contact', 1)              # forced: the door reacts with no network
    end = time.monotonic() + 3
    while io.get('front.buzzer') != 1 and time.monotonic() < end:
        time.sleep(0.02)
    assert io.get('front.buzzer') == 1
    io.set('front.contact', 0)
    with Broker(port=port, workdir=tmp_path / 'late-broker') as br:
        col = Collector(br.host, br.port, [T.base('it', 'd1') + '#'])
        try:
            assert evt(col, 'door.forced', True, timeout=40), b.log_tail()
            assert evt(col, 'door.forced', False, timeout=5)
        finally:
            col.close()
    io.close()


def test_supervised_contact_line_cut_is_a_door_fault_on_mqtt(make_board, broker):
    text = SITE.replace('contact: 4,', 'contact: 34,').replace('debounce_ms: 20', 'debounce_ms: 20\n        contact_eol: true')
    b = make_board(text, 'd1')
    col = Collector(broker.host, broker.port, [T.base('it', 'd1') + '#'])
    io = SimIO(b.io_port)
    try:
        assert online(col)
        assert io.get('front.contact') == 33            # an intact loop at boot: no fault
        m = col.mark()
        io.set('front.contact', 100)                    # the line is cut
        fault = evt(col, 'door.fault', True, start=m)
        assert fault and fault[2]['reason'] == 'contact_line_open'
        assert proto.errors('event', fault[2]) == []
        io.set('front.contact', 33)
        assert evt(col, 'door.fault', False, start=m)
        assert not [e for e in col.events() if e.get('type') == 'door.opened']
    finally:
        io.close()
        col.close()
