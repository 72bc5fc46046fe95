"""Watchdog, crash loops and safe mode, config updates, and a broker that sends garbage:
the simulated board (real MicroPython VM) against real mosquitto or a hostile peer."""
import json
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from edgectl.install import configpush
from edgectl.core import proto
from edgectl.core.broker import free_port
from edgectl.core.mqttc import Collector
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: rs
broker: {host: 127.0.0.1, port: 1883}
devices:
  r1:
    board: esp32-devkitc
    watchdog_ms: 1000
    healthy_s: 2
    safe_boots: 2
    controllers:
      - name: front
        type: door
        pins: {contact: 4, rex: 13, lock: 25, buzzer: 26}
        held_open_s: 5
"""


def status(col, pred, timeout=15, start=0):
    return col.wait(lambda t, p: t == T.status('rs', 'r1') and isinstance(p, dict) and pred(p), timeout, start)


def evt(col, etype, timeout=10, start=0, **match):
    return col.event(etype, timeout, start, **match)


def send_raw(port, line):
    """Send a line to the board's wires without waiting for a reply (it may hang)."""
    with socket.create_connection(('127.0.0.1', port), timeout=2) as s:
        s.sendall(line.encode() + b'\n')
        time.sleep(0.1)


@pytest.fixture
def col(broker):
    c = Collector(broker.host, broker.port, [T.base('rs', 'r1') + '#'])
    yield c
    c.client.publish(T.cfg('rs', 'r1'), b'', qos=1, retain=True).wait_for_publish(5)   # no retained cfg left
    c.close()


@pytest.fixture
def board(make_board):
    return make_board(SITE, 'r1')


def command(col, ctrl, op, timeout=5, **args):
    m = col.mark()
    cid = 'c-%d' % time.monotonic_ns()
    col.client.publish(T.cmd('rs', 'r1', ctrl), json.dumps(dict(id=cid, op=op, **args)), qos=1)
    r = col.wait(lambda t, p: t == T.ack('rs', 'r1', ctrl) and isinstance(p, dict) and p.get('id') == cid, timeout, m)
    return r[2] if r else None


def test_watchdog_resets_a_hung_board(board, col):
    first = status(col, lambda p: p.get('online'))
    assert first, board.log_tail()
    m = col.mark()
    t0 = time.monotonic()
    send_raw(board.io_port, 'fault hang')
    back = status(col, lambda p: p.get('online') and p.get('reset') == 'watchdog', start=m)
    assert back, board.log_tail()
    assert back[2]['boot'] == first[2]['boot'] + 1
    print('hung loop -> watchdog reset -> online again in %.2f s (watchdog_ms=1000)' % (time.monotonic() - t0))
    assert evt(col, 'system.boot', start=m, reset='watchdog')


def test_crash_loop_enters_safe_mode_with_safe_outputs_and_leaves_on_reboot(board, col):
    assert status(col, lambda p: p.get('online'))
    io = SimIO(board.io_port)
    assert command(col, 'front', 'unlock', s=60)['ok']
    assert io.get('front.lock') == 0
    io.request('fault crash_boot')
    io.close()
    m = col.mark()
    assert command(col, 'system', 'reboot')['ok']
    safe = status(col, lambda p: p.get('online') and p.get('safe_mode'), timeout=20, start=m)
    assert safe, board.log_tail()
    alarm = evt(col, 'system.safe_mode', start=m, active=True)
    assert alarm and alarm[2]['sev'] == 'alarm' and alarm[2]['boots'] >= 2
    io = SimIO(board.io_port)
    assert io.get('front.lock') == 0       # fail-safe door: released, nothing drives it
    assert io.get('front.buzzer') == 0
    ack = command(col, 'front', 'unlock')
    assert ack['ok'] is False and 'safe mode' in ack['err']
    io.request('fault clear')
    io.close()
    m = col.mark()
    assert command(col, 'system', 'reboot')['ok']
    normal = status(col, lambda p: p.get('online') and not p.get('safe_mode'), start=m)
    assert normal, board.log_tail()
    assert evt(col, 'system.safe_mode', start=m, active=False, timeout=10)
    io = SimIO(board.io_port)
    assert io.get('front.lock') == 1
    io.close()


def test_config_push_is_applied_after_a_healthy_trial(board, col, broker, tmp_path):
    first = status(col, lambda p: p.get('online'))
    site = tmp_path / 'site.yaml'
    site.write_text(SITE.replace('port: 1883', 'port: %d' % broker.port).replace('held_open_s: 5', 'held_open_s: 7'))
    r = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'config', 'push', str(site), 'r1', '--timeout', '30'],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'runs config rev' in r.stdout
    rev = r.stdout.split('rev ')[1].split()[0]
    on_disk = json.loads((board.fs / 'config.json').read_text())
    assert on_disk['rev'] == rev and on_disk['controllers'][0]['held_open_s'] == 7
    now = status(col, lambda p: p.get('online') and p.get('rev') == rev)
    assert now and now[2]['boot'] == first[2]['boot'] + 1 and now[2]['reset'] == 'config'


@pytest.mark.parametrize('change,reason', [
    (lambda c: c['controllers'][0].update(type='toaster'), 'unknown type'),
    (lambda c: c.update(device='other'), 'this board is rs/r1'),
    (lambda c: c['controllers'][0].update(unlock_s='soon'), 'unlock_s must be a number'),
    (lambda c: c.update(controllers=[]), 'non-empty'),
])
def test_bad_config_is_rejected_and_the_board_keeps_running(board, col, change, reason):
    first = status(col, lambda p: p.get('online'))
    cfg = json.loads((board.fs / 'config.json').read_text())
    old = cfg['rev']
    change(cfg)
    cfg['rev'] = 'bad-%d' % time.monotonic_ns()
    m = col.mark()
    col.client.publish(T.cfg('rs', 'r1'), json.dumps(configpush.message(cfg)), qos=1, retain=True)
    rej = evt(col, 'system.config_rejected', start=m, rev=cfg['rev'])
    assert rej and reason in rej[2]['err'] and rej[2]['kept'] == old, rej
    time.sleep(0.5)
    assert not col.wait(lambda t, p: t == T.status('rs', 'r1'), 0.1, m), 'the board restarted'
    assert json.loads((board.fs / 'config.json').read_text())['rev'] == old
    assert command(col, 'front', 'status')['ok']
    assert first


def test_config_that_cannot_reach_the_broker_is_given_up(board, col):
    assert status(col, lambda p: p.get('online'))
    cfg = json.loads((board.fs / 'config.json').read_text())
    old = cfg['rev']
    cfg['broker'] = {'host': '127.0.0.1', 'port': free_port()}
    cfg['trial_s'] = 10         # the shortest trial controllers.json allows
    cfg['rev'] = 'lost-broker'
    m = col.mark()
    col.client.publish(T.cfg('rs', 'r1'), json.dumps(configpush.message(cfg)), qos=1, retain=True)
    rej = evt(col, 'system.config_rejected', timeout=40, start=m, rev='lost-broker')
    assert rej and 'no broker connection' in rej[2]['err'], board.log_tail()
    back = status(col, lambda p: p.get('online') and p.get('rev') == old, start=m)
    assert back
    assert json.loads((board.fs / 'config.json').read_text())['rev'] == old


# --- a hostile broker ----------------------------------------------------------------------
class EvilBroker:
    """Speaks just enough MQTT to let the board in, then sends one malformed packet."""

    def __init__(self, bad, withhold_evt_ack=False):
        self.bad = bad
        self.withhold = withhold_evt_ack   # first session: no PUBACK for the first event, then hang up
        self.publishes = []                # (session, header byte, topic, payload)
        self.port = free_port()
        self.srv = socket.create_server(('127.0.0.1', self.port))
        self.sessions = []       # (connected at, closed by the board at)
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _read(self, s):
        h = s.recv(1)
        if not h:
            return None, None
        n, shift = 0, 0
        while True:
            d = s.recv(1)[0]
            n |= (d & 0x7F) << shift
            shift += 7
            if not d & 0x80:
                break
        body = b''
        while len(body) < n:
            chunk = s.recv(n - len(body))
            if not chunk:
                return None, None
            body += chunk
        return h[0], body

    def _serve(self):
        self.srv.settimeout(30)
        while len(self.sessions) < 3:
            try:
                s, _ = self.srv.accept()
            except OSError:
                return
            s.settimeout(10)
            rec = [time.monotonic(), None]
            self.sessions.append(rec)
            sent_bad = False
            try:
                while True:
                    h, body = self._read(s)
                    if h is None:
                        break
                    t = h & 0xF0
                    if t == 0x10:
                        s.sendall(b'\x20\x02\x00\x00')
                    elif t == 0x80:
                        s.sendall(b'\x90\x03' + body[:2] + b'\x01')
                    elif t == 0x30 and (h & 0x06):
                        tl = struct.unpack('!H', body[:2])[0]
                        topic = body[2:2 + tl].decode()
                        self.publishes.append((len(self.sessions), h, topic, body[4 + tl:]))
                        if self.withhold and len(self.sessions) == 1 and '/evt/' in topic:
                            break                      # hang up with the event unacknowledged
                        s.sendall(b'\x40\x02' + body[2 + tl:4 + tl])
                        if not sent_bad and self.bad:
                            sent_bad = True
                            s.sendall(self.bad)
                    elif t == 0xC0:
                        s.sendall(b'\xd0\x00')
            except OSError:
                pass
            rec[1] = time.monotonic()
            s.close()

    def close(self):
        self.srv.close()


BAD_PACKETS = {
    'remaining length over 4 bytes': b'\x30\xff\xff\xff\xff\x01',
    'oversized packet': b'\x30\xa0\x8d\x06' + b'x' * 64,
    'invalid UTF-8 topic': b'\x30\x06\x00\x02\xff\xfehi',
    'reserved packet type': b'\xf0\x00',
    'topic length past the packet': b'\x30\x04\x00\x09ab',
}


@pytest.mark.parametrize('name', sorted(BAD_PACKETS))
def test_malformed_packets_close_the_link_and_it_comes_back(make_board, name):
    evil = EvilBroker(BAD_PACKETS[name])
    try:
        b = make_board(SITE.replace('port: 1883', 'port: %d' % evil.port), 'r1', site_broker=True)
        end = time.monotonic() + 15
        while time.monotonic() < end and len(evil.sessions) < 2:
            time.sleep(0.05)
        assert len(evil.sessions) >= 2, 'the board did not reconnect: %s\n%s' % (evil.sessions, b.log_tail())
        first = evil.sessions[0]
        assert first[1] is not None and first[1] - first[0] < 5, 'the board kept the poisoned link open'
        assert b.alive() and b.starts == 1, 'the board process restarted'
        io = SimIO(b.io_port)
        io.set('front.contact', 1)         # and the door still works
        time.sleep(0.2)
        assert io.get('front.buzzer') == 1
        io.close()
    finally:
        evil.close()


def test_unacknowledged_event_is_resent_with_dup_after_reconnect(make_board):
    evil = EvilBroker(b'', withhold_evt_ack=True)
    try:
        b = make_board(SITE.replace('port: 1883', 'port: %d' % evil.port), 'r1', site_broker=True)
        end = time.monotonic() + 15
        while time.monotonic() < end and not [p for p in evil.publishes if p[0] == 2 and '/evt/' in p[2]]:
            time.sleep(0.05)
        first = [p for p in evil.publishes if p[0] == 1 and '/evt/' in p[2]]
        again = [p for p in evil.publishes if p[0] == 2 and '/evt/' in p[2]]
        assert first and again, (evil.publishes, b.log_tail())
        assert not first[0][1] & 0x08, 'first send flagged DUP'
        assert again[0][1] & 0x08, 'resend after reconnect lacks DUP'
        assert json.loads(again[0][3])['seq'] == json.loads(first[0][3])['seq'] == 1
        assert again[0][3] == first[0][3]
    finally:
        evil.close()
