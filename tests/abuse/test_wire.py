"""What reaches a board over MQTT, sent by anyone holding a site login (issue 15, findings 4, 5,
8 and the future-dated command of 12), against real mosquitto and the firmware on the
MicroPython VM (an ESP32's heap):

* a 9 KB retained fire raise and a 9 KB fire reset, 5-8 KB and 9-20 KB commands: read off,
  discarded, acknowledged and refused with their size; no board drops its link, and a door
  forced meanwhile reaches the control room at once;
* JSON with broken syntax (a missing ',' or ':', a doubled ',', a duplicate key...) in a
  command, a fire raise, a fire reset or a config push: refused, nothing moves;
* a signed command dated 30 s ahead: refused as from the future, normal ones still work;
* the counter files lost and the clock unset: a captured unlock is refused, with the reason,
  until the clock is set."""
import json
import time

import pytest

from edgectl.room import fire as sitefire
from edgectl.core import proto
from edgectl.core.mqttc import Collector
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: wire
broker: {host: 127.0.0.1, port: 1883}
devices:
  d1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 20, unlock_s: 1}
  d2:
    board: esp32-devkitc
    controllers:
      - {name: rear, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 20, unlock_s: 1}
"""
KEY = bytes(range(32))
RAISE = T.fire_raise('wire', sitefire.ROOM)     # the control room's raise: every board listens to it
ALARM_S = 2.0           # a door forced during the abuse must reach the control room within this


@pytest.fixture
def col(broker):
    c = Collector(broker.host, broker.port, [T.site_filter('wire')], 'room')
    yield c
    c.close()
    for retained in (RAISE, T.fire_reset('wire', 'd1'), T.cfg('wire', 'd1')):   # the broker outlives the test
        c2 = Collector(broker.host, broker.port, [], 'clean')
        c2.client.publish(retained, b'', qos=1, retain=True).wait_for_publish(5)
        c2.close()


def online(col, dev, start=0, timeout=15):
    return col.wait(lambda t, p: t == T.status('wire', dev) and isinstance(p, dict) and p.get('online'),
                    timeout, start)


def start(make_board, col, dev, **kw):
    m = col.mark()
    b = make_board(SITE, dev, **kw)
    assert online(col, dev, m), b.log_tail()
    return b, SimIO(b.io_port)


def ack(col, dev, ctrl, cid, start, timeout=5):
    r = col.wait(lambda t, p: t == T.ack('wire', dev, ctrl) and isinstance(p, dict) and p.get('id') == cid,
                 timeout, start)
    return r and r[2]


def send(col, dev, ctrl, payload, retain=False):
    m = col.mark()
    col.client.publish(T.cmd('wire', dev, ctrl), payload, qos=1, retain=retain).wait_for_publish(5)
    return m


def links_dropped(col, boards):
    """Connections each board made beyond its first, plus wills (online: false) published."""
    again = sum(io.info()['connects'] - 1 for b, io in boards)
    wills = [m for m in col.msgs if m[1].endswith('/status') and isinstance(m[2], dict)
             and m[2].get('online') is False and not m[3]]      # live, not an earlier board's retained one
    return again + len(wills)


def forced_alarm_latency(col, io, ctrl):
    """Open a locked door; seconds until door.forced reaches the control room (None: lost)."""
    m = col.mark()
    t0 = time.time()
    io.set(ctrl + '.contact', 1)
    r = col.event('door.forced', ALARM_S * 3, m, active=True)
    io.set(ctrl + '.contact', 0)
    return None if r is None else r[0] - t0


def test_big_messages_are_discarded_and_no_board_goes_offline(make_board, col, abuse):
    d1 = start(make_board, col, 'd1')
    m = col.mark()
    fire = json.dumps({'active': True, 'after': 0, 'by': 'x' * 9200})   # a fire raise, were it read: 9 KB
    col.client.publish(RAISE, fire, qos=1, retain=True).wait_for_publish(5)
    abuse.input()
    r = col.event('system.site_fire_rejected', 5, m, size=len(fire))
    assert r and 'over this board' in r[2]['err'] and r[1] == T.evt('wire', 'd1', 'system'), d1[0].log_tail()
    m = col.mark()
    reset = json.dumps({'active': False, 'ctr': 1, 'by': 'y' * 9300})   # its own reset, as big
    col.client.publish(T.fire_reset('wire', 'd1'), reset, qos=1, retain=True).wait_for_publish(5)
    abuse.input()
    r = col.event('system.site_fire_rejected', 5, m, size=len(reset))
    assert r and 'over this board' in r[2]['err'], d1[0].log_tail()
    assert d1[1].get('front.lock') == 1, 'the big raise was not read: the door stays locked'
    d2 = start(make_board, col, 'd2')          # a board coming up gets it as the retained state
    assert col.wait(lambda t, p: '/d2/evt/' in t and isinstance(p, dict) and p.get('type') == 'system.site_fire_rejected'
                    and p.get('size') == len(fire), 5, m), d2[0].log_tail()
    abuse.input()
    m0 = col.mark()
    sizes = (5000, 6500, 8000, 8193, 9000, 20000)
    for size in sizes:
        m = send(col, 'd1', 'front', json.dumps({'id': 'big', 'op': 'unlock', 'pad': 'p' * size})[:size])
        a = ack(col, 'd1', 'front', None, m)
        abuse.input(refused=bool(a and not a['ok']))
        assert a and 'over this board' in a['err'] and str(size) in a['err'], d1[0].log_tail()
    col.event('system.cmd_rejected', 5, m0, size=8193)
    rej = [e for e in col.events('system.cmd_rejected')[-6:] if e.get('size') in sizes]
    assert [e['size'] for e in rej] == list(sizes[:5]), 'reported with the size, at most 5 per 10 s: %r' % rej
    near = json.dumps({'id': 'near', 'op': 'status', 'pad': 'p' * 1950})   # just under the bound: read as usual
    m = send(col, 'd1', 'front', near)
    a = ack(col, 'd1', 'front', 'near', m)
    assert a and a['ok'], 'a %d-byte command: %r' % (len(near), a)
    lat = forced_alarm_latency(col, d1[1], 'front')
    if lat is None or lat > ALARM_S:
        abuse.alarms_lost()
    assert lat is not None and lat <= ALARM_S, 'door.forced took %s s during the abuse' % lat
    time.sleep(2)           # reconnect loops (three a second before) would show by now
    assert d1[1].get('front.lock') == 1 and d2[1].get('rear.lock') == 1, 'nothing was released'
    dropped = links_dropped(col, [d1, d2])
    abuse.went_offline(dropped)
    assert dropped == 0, d1[0].log_tail() + d2[0].log_tail()
    d1[1].close()
    d2[1].close()


BROKEN = (
    b'{"id": "j3" "op": "unlock"}',             # missing ','
    b'{"id": "j3", "op" "unlock"}',             # missing ':'
    b'{"id": "j3",, "op": "unlock"}',           # doubled ','
    b'{"id": "j3", "op": "unlock",}',           # trailing ','
    b'{"id": "j3", "op": "status", "op": "unlock"}',   # duplicate key: the last one would win
    b'{"id": "j3", "op": "unlock", "s": [5}]',  # crossed brackets
    b'{"id": "j3", "op": "unlock", "s": 05}',   # leading zero
)


def test_json_with_broken_syntax_is_refused_everywhere(make_board, col, abuse):
    b, io = start(make_board, col, 'd1')        # no command key: an unsigned door
    # A raise that a lenient parser would take (MicroPython's json reads '{"active" true}'):
    # the door would release.
    m = col.mark()
    col.client.publish(RAISE, b'{"active" true, "after": 0, "by": "pump-9"}', qos=1).wait_for_publish(5)
    r = col.event('system.site_fire_rejected', 5, m)
    released = io.wait_value('front.lock', 0, 1)
    abuse.input(refused=bool(r) and not released)
    assert r and r[2]['err'] == 'malformed fire raise' and not released, (r, b.log_tail())
    # in fire (a well formed raise), a broken reset must not end it: the door stays released
    m = col.mark()
    col.client.publish(RAISE, b'{"active": true, "after": 0, "by": "pump-9"}', qos=1).wait_for_publish(5)
    assert col.event('system.site_fire', 5, m, active=True) and io.wait_value('front.lock', 0, 3)
    reset = T.fire_reset('wire', 'd1')
    m = col.mark()
    col.client.publish(reset, b'{"active" false, "ctr": 5, "by": "guard"}', qos=1).wait_for_publish(5)
    r = col.event('system.site_fire_rejected', 5, m)
    relocked = io.wait_value('front.lock', 1, 1)
    abuse.input(refused=bool(r) and not relocked)
    assert r and r[2]['err'] == 'malformed fire reset' and not relocked, (r, b.log_tail())
    m = col.mark()
    col.client.publish(reset, b'{"active": false, "ctr": 5, "by": "guard"}', qos=1).wait_for_publish(5)
    assert col.event('system.site_fire', 5, m, active=False) and io.wait_value('front.lock', 1, 3), \
        'the same reset, well formed, ends the fire'
    for payload in BROKEN:
        m = send(col, 'd1', 'front', payload)
        a = ack(col, 'd1', 'front', None, m)
        abuse.input(refused=bool(a and not a['ok']) and io.get('front.lock') == 1)
        assert a and not a['ok'] and 'malformed JSON' in a['err'], (payload, a)
    assert io.get('front.lock') == 1, 'a malformed command moved the lock'
    m = col.mark()
    cfg = b'{"rev" "r9", "cfg": "{}"}'            # a config push (firmware/config_push.py), ':' missing
    col.client.publish(T.cfg('wire', 'd1'), cfg, qos=1).wait_for_publish(5)
    r = col.event('system.config_rejected', 5, m)
    abuse.input(refused=bool(r))
    assert r and 'not valid JSON (malformed)' in r[2]['err'], r     # not "needs a 'rev' string"
    m = send(col, 'd1', 'front', b'{"id": "j4", "op": "unlock"}')    # the same, well formed, works
    assert ack(col, 'd1', 'front', 'j4', m)['ok'] and io.wait_value('front.lock', 0, 3)
    dropped = links_dropped(col, [(b, io)])
    abuse.went_offline(dropped)
    assert dropped == 0
    io.close()


def test_a_command_flood_does_not_silence_fire_refusals(make_board, col, abuse):
    """Refused commands and refused fire messages are reported within separate budgets: a
    login that floods broken commands cannot hide a forged or broken fire message."""
    b, io = start(make_board, col, 'd1')
    for i in range(8):                                  # more than the commands' 5 per 10 s
        m = send(col, 'd1', 'front', BROKEN[i % len(BROKEN)])
        abuse.input(refused=True)
    assert ack(col, 'd1', 'front', None, m), 'the flood was answered'
    m = col.mark()
    col.client.publish(RAISE, b'{"active" true, "after": 0, "by": "pump-9"}', qos=1).wait_for_publish(5)
    r = col.event('system.site_fire_rejected', 5, m)
    abuse.input(refused=bool(r) and io.get('front.lock') == 1)
    assert r and r[2]['err'] == 'malformed fire raise', ('fire refusal not reported after a command flood',
                                                           b.log_tail())
    io.close()


def signed(cid, ctr, op='unlock', dev='d1', ctrl='front'):
    body = {'id': cid, 'op': op, 'ctr': ctr}
    body['sig'] = proto.signing.sign(KEY, dev, ctrl, body)
    return json.dumps(body)


def test_a_command_from_the_future_is_refused_and_blocks_nothing(make_board, col, abuse):
    b, io = start(make_board, col, 'd1', secret={'cmd_key': KEY.hex()})
    now = int(time.time() * 1000)
    m = send(col, 'd1', 'front', signed('f1', now + 30000))
    a = ack(col, 'd1', 'front', 'f1', m)
    abuse.input(refused=bool(a and not a['ok']))
    assert a and not a['ok'] and 'from the future' in a['err'], a
    assert io.get('front.lock') == 1
    m = send(col, 'd1', 'front', signed('f2', int(time.time() * 1000)))
    a = ack(col, 'd1', 'front', 'f2', m)
    assert a and a['ok'], 'a normal command after it: %r' % a
    assert io.wait_value('front.lock', 0, 3)
    io.close()


def test_lost_counter_and_unset_clock_refuse_a_captured_unlock(make_board, col, abuse):
    b, io = start(make_board, col, 'd1', secret={'cmd_key': KEY.hex()})
    then = int(time.time() * 1000) - 16 * 60000
    io.clock(then)                                  # 16 minutes ago: the unlock is sent and recorded
    captured = signed('c1', then + 10)
    m = send(col, 'd1', 'front', captured)
    assert ack(col, 'd1', 'front', 'c1', m)['ok'] and io.wait_value('front.lock', 0, 3)
    assert io.wait_value('front.lock', 1, 3)
    io.close()
    b.stop()
    lost = [p.name for p in b.fs.iterdir() if p.name.startswith('ctr')]
    assert lost, 'the board kept its counter on flash'
    for name in lost:                               # every counter file lost
        (b.fs / name).unlink()
    m = col.mark()
    b.start()
    assert online(col, 'd1', m), b.log_tail()
    io = SimIO(b.io_port)
    io.clock(946684800000)                          # the clock at its reset value: never set
    m = send(col, 'd1', 'front', captured)          # the capture replayed
    a = ack(col, 'd1', 'front', 'c1', m)
    abuse.input(refused=bool(a and not a['ok']) and io.get('front.lock') == 1)
    assert a and not a['ok'] and 'clock is not set' in a['err'], a
    assert not io.wait_value('front.lock', 0, 1), 'the captured unlock went through'
    assert col.event('system.cmd_rejected', 5, m, id='c1')
    now = int(time.time() * 1000)
    io.clock(now)                                   # NTP (here: the simulator) sets the clock
    m = send(col, 'd1', 'front', captured)
    a = ack(col, 'd1', 'front', 'c1', m)
    abuse.input(refused=bool(a and not a['ok']))
    assert a and 'expired' in a['err'], a
    m = send(col, 'd1', 'front', signed('c2', now + 50))
    assert ack(col, 'd1', 'front', 'c2', m)['ok'], 'a fresh command works again'
    assert io.wait_value('front.lock', 0, 3)
    assert sorted(p.name for p in b.fs.iterdir() if p.name in ('ctr.a', 'ctr.b')) == ['ctr.a', 'ctr.b']
    io.close()
