"""Issue 23, firmware updates over the network, attacked with the site's own credentials (the
firmware on the MicroPython VM, real mosquitto with the site's logins and ACL): a forged or
altered offer, one signed with another board's key or sent by a stolen board, a downgrade, an
image whose hash is not the one signed, a transfer cut short, chunks longer than asked or over
the board's message limit, malformed offers, a replayed offer. Each is refused with the
reason (system.ota_rejected); the board keeps its image and stays online."""
import json
import time

import pytest

from edgectl.core import proto, secrets
from edgectl.core import site as sitemod
from edgectl.core.broker import Broker, free_port
from edgectl.core.commands import signed
from edgectl.core.mqttc import connect
from edgectl.install import ota
from edgectl.room import fire
from edgectl.sim.sim import SimBoard, Supervisor

T = proto.topics
SITE = """\
site: ab
broker: {host: 127.0.0.1, port: %d}
devices:
  gate-1:
    board: esp32-devkitc
    healthy_s: 1
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
  gate-2:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
"""
IMG = bytes(range(256)) * 12        # 3 KB: three chunks


@pytest.fixture(scope='module')
def site_board(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('ota-abuse')
    port = free_port(pair=True)
    path = tmp / 'site.yaml'
    path.write_text(SITE % port)
    s = sitemod.load_valid(path)
    sec, _ = secrets.ensure(path, sorted(s.devices))
    br = Broker(port=port, workdir=tmp / 'broker', site='ab', secrets=sec, raisers=fire.raisers(s)).start()
    b = SimBoard(sitemod.device_config(s, 'gate-1'), tmp / 'gate-1', secret=secrets.board_file(sec, 'gate-1')).start()
    sup = Supervisor([b])
    auth = (sec['room']['user'], sec['room']['password'])
    col = br.endpoint(auth, room=True).collector([T.site_filter('ab')], 'room')
    try:
        yield sec, br, b, col, auth
    finally:
        col.close()
        sup.stop()
        b.stop()
        br.stop()


def rejected(col, start, timeout=8):
    """The board's system.ota_rejected event after `start`, or None."""
    m = col.wait(lambda t, p: t == T.evt('ab', 'gate-1', 'system') and isinstance(p, dict)
                 and p.get('type') == 'system.ota_rejected', timeout, start)
    return m[2] if m else None


class Tampering(ota.Server):
    """Serves the image through `tamper(off, chunk message) -> message or None`."""
    tamper = None

    def payload(self, t, off, n):
        return self.tamper(off, super().payload(t, off, n))


def run_transfer(sec, br, col, auth, tamper, sent=IMG, signed_data=IMG):
    key = secrets.cmd_key(sec, 'gate-1')
    srv = Tampering(br.endpoint(auth, room=True), 'ab', sent, '9.0.0', {'gate-1': key})
    srv.tamper = tamper
    m = col.mark()
    try:
        t = ota.Target('gate-1', 10)
        with srv.lock:
            srv.targets['gate-1'] = t
            t.kind, t.size = 'romfs', len(sent)
            t.state, t.t0, t.last = 'offered', time.monotonic(), time.monotonic()
        body = ota.offer('gate-1', key, signed_data, '9.0.0')
        srv.c.publish(T.ota('ab', 'gate-1'), json.dumps(body), qos=1)
        return rejected(col, m)
    finally:
        srv.close()


def test_forged_and_misdirected_offers_are_refused(site_board, abuse):
    sec, br, b, col, auth = site_board
    m0 = col.mark()
    assert col.wait(lambda t, p: t == T.status('ab', 'gate-1') and isinstance(p, dict) and p.get('online'), 20), \
        b.log_tail()
    base = ota.fw_version()
    key1, key2 = secrets.cmd_key(sec, 'gate-1'), secrets.cmd_key(sec, 'gate-2')
    plain = {'op': 'offer', 'kind': 'romfs', 'ver': '9.0.0', 'size': len(IMG), 'sha': '0' * 64}
    cases = [       # (what, the message made just before it is sent: each counter newer, why refused)
        ('forged key', lambda: ota.offer('gate-1', b'f' * 32, IMG, '9.0.0'), 'bad signature'),
        ("another board's key", lambda: ota.offer('gate-1', key2, IMG, '9.0.0'), 'bad signature'),
        ('signed for another board', lambda: ota.offer('gate-2', key2, IMG, '9.0.0'), 'bad signature'),
        ('altered after signing', lambda: dict(ota.offer('gate-1', key1, IMG, '9.0.0'), size=len(IMG) + 1),
         'bad signature'),
        ('unsigned', lambda: plain, 'unsigned'),
        ('downgrade', lambda: ota.offer('gate-1', key1, IMG, '0.1.0'), 'downgrade'),
        ('same version', lambda: ota.offer('gate-1', key1, IMG, base), 'downgrade'),
        ('image kind for another board', lambda: ota.offer('gate-1', key1, IMG, '9.0.0', kind='vm'), 'kind'),
        ('larger than the board can keep', lambda: signed(dict(plain, size=1 << 40), 'gate-1', ota.SIGNED_AS, key1),
         'does not fit'),
        ('an update window that is none', lambda: ota.offer('gate-1', key1, IMG, '9.0.0', window='25:00-26:00'),
         'update window'),
        ('malformed JSON', lambda: b'{"op": "offer", "ver": ', 'not valid JSON'),
        ('not an offer', lambda: {'op': 'install', 'ver': '9.0.0'}, 'an ota message is an offer'),
    ]
    for what, make, why in cases:
        time.sleep(0.002)
        msg = make()
        m = col.mark()
        col.client.publish(T.ota('ab', 'gate-1'), msg if isinstance(msg, bytes) else json.dumps(msg), qos=1)
        r = rejected(col, m)
        abuse.input(refused=bool(r))
        assert r and why in r['err'], '%s: %r' % (what, r)
    # a genuine offer replayed: its counter was used (the transfer it started ends at once)
    good = ota.offer('gate-1', key1, IMG, '9.0.0')
    m = col.mark()
    col.client.publish(T.ota('ab', 'gate-1'), json.dumps(good), qos=1)
    assert col.wait(lambda t, p: isinstance(p, dict) and p.get('type') == 'system.ota_started', 8, m)
    col.client.publish(T.ota('ab', 'gate-1'), ota.chunk(0, b''), qos=0)
    r = rejected(col, m)
    abuse.input(refused=bool(r))
    assert r and 'truncated: the sender ended at 0' in r['err'], r
    m = col.mark()
    col.client.publish(T.ota('ab', 'gate-1'), json.dumps(good), qos=1)
    r = rejected(col, m)
    abuse.input(refused=bool(r))
    assert r and 'replayed' in r['err'], r
    # a stolen board (gate-2's login and key) cannot even publish an offer to gate-1 (ACL)
    thief = connect(br.host, br.port, 'thief', auth=('gate-2', sec['devices']['gate-2']['mqtt_password']),
                    client_id='edge.ab/gate-2')
    try:
        m = col.mark()
        thief.publish(T.ota('ab', 'gate-1'), json.dumps(ota.offer('gate-1', key2, IMG, '9.1.0')), qos=1)
        time.sleep(1.0)
        got = [x for x in col.msgs[m:] if x[1] == T.evt('ab', 'gate-1', 'system')
               and isinstance(x[2], dict) and x[2].get('type', '').startswith('system.ota_')]
        abuse.input(refused=not got)
        assert not got, got
    finally:
        thief.loop_stop()
        thief.disconnect()
    offline = sum(1 for x in col.msgs[m0:] if x[1] == T.status('ab', 'gate-1') and isinstance(x[2], dict)
                  and x[2].get('online') is False)
    abuse.went_offline(offline)
    assert offline == 0
    assert not (b.fs / 'fw.slot').exists() and not (b.fs / 'fw.a').exists(), 'nothing switched, nothing kept'


def test_bad_transfers_are_refused_and_the_board_keeps_its_image(site_board, abuse):
    sec, br, b, col, auth = site_board
    m0 = col.mark()
    other = bytes(reversed(IMG))
    cases = [
        ('wrong hash', lambda off, msg: msg, other, 'wrong hash'),
        ('truncated', lambda off, msg: ota.chunk(off, b'') if off >= 1024 else msg, IMG, 'truncated: the sender ended'),
        ('chunk longer than asked', lambda off, msg: msg + b'x' * 200, IMG, 'oversized chunk'),
        ('chunk over the board\'s message limit', lambda off, msg: msg + b'x' * 6000, IMG, 'oversized chunk'),
        ('served past its end', lambda off, msg: ota.chunk(off, IMG[off:off + 1024] + b'!')
         if off == 2048 else msg, IMG, 'oversized chunk'),
    ]
    for what, tamper, sent, why in cases:
        r = run_transfer(sec, br, col, auth, tamper, sent=sent)
        abuse.input(refused=bool(r))
        assert r and why in r['err'], '%s: %r\n%s' % (what, r, b.log_tail())
    time.sleep(0.3)
    offline = sum(1 for x in col.msgs[m0:] if x[1] == T.status('ab', 'gate-1') and isinstance(x[2], dict)
                  and x[2].get('online') is False)
    abuse.went_offline(offline)
    assert offline == 0, b.log_tail()
    assert not (b.fs / 'fw.slot').exists() and not (b.fs / 'fw.new').exists() and not (b.fs / 'fw.a').exists()
    st = ota.fleet(br.endpoint(auth, room=True), 'ab', ['gate-1'])['gate-1']
    assert st['fw'] == ota.fw_version() and st['ota']['ok'] is False
