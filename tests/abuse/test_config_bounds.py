"""Issue 15 findings 1 and 10 on the simulated site (the firmware on the MicroPython VM,
real mosquitto with the site's ACL, pushed with the control room's login): a config push is
a safety command (signed like unlock) and the board refuses any setting outside
protocols/controllers.json's bounds, and a safety signal inverted without invert_ack; it
keeps its config and stays online. A truncated config.json falls back to the last good
config, else safe mode, online."""
import json
import os
import subprocess
import sys
import time

import pytest

from edgectl.install import configpush
from edgectl.room import fire
from edgectl.core import proto, secrets
from edgectl.core import site as sitemod
from edgectl.core.broker import Broker, free_port
from edgectl.core.mqttc import Collector
from edgectl.sim.sim import SimBoard, Supervisor
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: ab
broker: {host: 127.0.0.1, port: %d}
devices:
  gate-1:
    board: esp32-devkitc
    healthy_s: 2
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 20}
      - {name: arm, type: barrier, pins: {beam: 13, up_limit: 14, down_limit: 27, motor_up: 26,
         motor_down: 32, eye_tx: 33}}
"""

# the finding's configs: (what, change to the flat config, words the refusal must name)
FINDING = [
    ('beam debounce 4000 ms', lambda c: c['controllers'][1].update(beam_debounce_ms=4000),
     ('beam_debounce_ms', '4000', '0..20')),
    ('eye test 10000 ms', lambda c: c['controllers'][1].update(eye_test_ms=10000), ('eye_test_ms', '10000', '50..1000')),
    ('unlock for 115 days', lambda c: c['controllers'][0].update(unlock_s=10000000), ('unlock_s', '10000000', '1..600')),
    ('lock inverted unacknowledged', lambda c: c['controllers'][0].update(active_low=['lock']),
     ('active_low', 'lock', 'invert_ack')),
    ('keepalive 0', lambda c: c.update(keepalive_s=0), ('keepalive_s', '0', '5..120')),
]


@pytest.fixture
def site_board(tmp_path):
    port = free_port(pair=True)      # the boards' listener, and the control room's on port + 1
    path = tmp_path / 'site.yaml'
    path.write_text(SITE % port)
    s = sitemod.load_valid(path)
    sec, _ = secrets.ensure(path, sorted(s.devices))
    br = Broker(port=port, workdir=tmp_path / 'broker', site='ab', secrets=sec, raisers=fire.raisers(s)).start()
    b = SimBoard(sitemod.device_config(s, 'gate-1'), tmp_path / 'gate-1',
                 secret=secrets.board_file(sec, 'gate-1')).start()
    sup = Supervisor([b])
    auth = (sec['room']['user'], sec['room']['password'])          # the control room's login
    col = Collector(br.host, br.room_port, [T.site_filter('ab')], 'room', auth=auth)
    try:
        yield s, sec, br, b, col, auth
    finally:
        col.close()
        sup.stop()
        b.stop()
        br.stop()


def online(col, start=0, timeout=15, **match):
    return col.wait(lambda t, p: t == T.status('ab', 'gate-1') and isinstance(p, dict) and p.get('online')
                    and all(p.get(k) == v for k, v in match.items()), timeout, start)


def offline_seen(col, start):
    return sum(1 for m in col.msgs[start:] if m[1] == T.status('ab', 'gate-1') and isinstance(m[2], dict)
               and m[2].get('online') is False)


def test_config_pushes_outside_the_bounds_are_refused_and_the_board_keeps_its_config(site_board, abuse):
    s, sec, br, b, col, auth = site_board
    first = online(col)
    assert first, b.log_tail()
    running = json.loads((b.fs / 'config.json').read_text())
    key = secrets.cmd_key(sec, 'gate-1')
    m0 = col.mark()
    n = 0
    for what, change, words in FINDING:
        cfg = json.loads(json.dumps(running))
        change(cfg)
        for how, k in (('unsigned', None), ('forged', b'x' * 32), ('signed', key)):
            n += 1
            cfg['rev'] = 'abuse-%d' % n
            m = col.mark()
            col.client.publish(T.cfg('ab', 'gate-1'), json.dumps(configpush.message(cfg, k)), qos=1, retain=True)
            rej = col.event('system.config_rejected', 10, m, rev=cfg['rev'])
            abuse.input(refused=bool(rej))
            assert rej, '%s (%s) was not refused: %s' % (what, how, b.log_tail())
            err = rej[2]['err']
            if how == 'signed':      # even with the key: the bounds hold; the refusal says which and why
                assert all(w in err for w in words), err
            else:
                assert ('unsigned' if how == 'unsigned' else 'bad signature') in err, err
            assert rej[2]['kept'] == running['rev']
    n += 1
    plain = dict(running, rev='abuse-plain', keepalive_s=0)          # the old, unsigned format
    m = col.mark()
    col.client.publish(T.cfg('ab', 'gate-1'), json.dumps(plain), qos=1, retain=True)
    rej = col.event('system.config_rejected', 10, m, rev='abuse-plain')
    abuse.input(refused=bool(rej))
    assert rej and 'unsigned' in rej[2]['err']
    for junk in (b'{"rev": "abuse-junk", "cfg": ', b'[1, 2'):       # malformed JSON says so (finding 12)
        m = col.mark()
        col.client.publish(T.cfg('ab', 'gate-1'), junk, qos=1, retain=True)
        rej = col.wait(lambda t, p: isinstance(p, dict) and p.get('type') == 'system.config_rejected', 10, m)
        abuse.input(refused=bool(rej))
        assert rej and 'not valid JSON (malformed)' in rej[2]['err'], rej
    time.sleep(0.5)
    offline = offline_seen(col, m0)
    abuse.went_offline(offline)
    assert offline == 0
    assert not online(col, m0, 0.1), 'the board restarted'
    assert json.loads((b.fs / 'config.json').read_text())['rev'] == running['rev']
    io = SimIO(b.io_port)
    try:
        assert io.get('front.lock') == 1, 'the lock is still driven locked'
    finally:
        io.close()
    # a genuine push (signed with the site's key, as `edgectl config push` does) still works
    col.client.publish(T.cfg('ab', 'gate-1'), b'', qos=1, retain=True).wait_for_publish(5)
    good = sitemod.device_config(sitemod.parse((SITE % br.port).replace('debounce_ms: 20', 'debounce_ms: 30'),
                                               'x.yaml'), 'gate-1')
    verdict = configpush.push_mqtt(br.endpoint(auth, room=True), 'ab', good, 30, key=key)
    assert verdict['type'] == 'system.config_applied', verdict
    assert online(col, m0, rev=good['rev'])


def test_an_acknowledged_inversion_is_journaled_and_state_shows_the_pin(site_board, abuse, tmp_path):
    s, sec, br, b, col, auth = site_board
    assert online(col), b.log_tail()
    site = tmp_path / 'site.yaml'       # the site file beside its secrets: `edgectl config push` signs
    site.write_text(site.read_text().replace('debounce_ms: 20}', 'debounce_ms: 20, active_low: [lock]}'))
    r = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'config', 'validate', str(site)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 2 and 'invert_ack: [lock]' in r.stderr, r.stderr
    site.write_text(site.read_text().replace('active_low: [lock]}', 'active_low: [lock], invert_ack: [lock]}'))
    m = col.mark()
    r = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'config', 'push', str(site), 'gate-1', '--timeout', '30'],
                       capture_output=True, text=True, timeout=60, cwd=tmp_path,
                       env=dict(os.environ, EDGECTL_MQTT_USER=auth[0], EDGECTL_MQTT_PASSWORD=auth[1]))
    assert r.returncode == 0 and 'runs config rev' in r.stdout, r.stdout + r.stderr + b.log_tail()
    ev = col.event('system.signal_inverted', 10, m, target='front', signal='lock')
    assert ev and ev[2]['pin'] == 25 and ev[2]['sev'] == 'warn'
    st = col.wait(lambda t, p: t == T.state('ab', 'gate-1', 'front') and isinstance(p, dict)
                  and 'inverted_pins' in p, 10, m)
    assert st and st[2]['lock'] == 'locked' and st[2]['inverted_pins'] == {'lock': 0}
    io = SimIO(b.io_port)
    try:
        assert io.get('front.lock') == 1        # the logical value; the pin is driven low
    finally:
        io.close()
    abuse.input(refused=True)      # the inversion went through only with its acknowledgement, journaled


def test_a_truncated_config_falls_back_to_the_last_good_one_else_safe_mode_online(site_board, abuse):
    s, sec, br, b, col, auth = site_board
    first = online(col)
    assert first, b.log_tail()
    rev = first[2]['rev']
    assert (b.fs / 'config.good').exists(), 'the board keeps a last good copy'
    b.stop()
    text = (b.fs / 'config.json').read_text()
    (b.fs / 'config.json').write_text(text[:len(text) // 2])               # a write cut short
    m = col.mark()
    b.start()
    back = online(col, m, 20, rev=rev)
    abuse.input(refused=bool(back))
    assert back, b.log_tail()
    ev = col.event('system.config_damaged', 10, m)
    assert ev and ev[2]['rev'] == rev and ev[2]['safe_mode'] is False and 'not valid JSON' in ev[2]['err']
    assert (b.fs / 'config.damaged').exists() and json.loads((b.fs / 'config.json').read_text())['rev'] == rev
    b.stop()
    for f in ('config.json', 'config.good'):                                 # both damaged
        t = (b.fs / f).read_text()
        (b.fs / f).write_text(t[:len(t) // 2] if f == 'config.good' else t.replace('"unlock_s": 5', '"unlock_s": 0'))
    m = col.mark()
    b.start()
    safe = online(col, m, 20, safe_mode=True)
    abuse.input(refused=bool(safe))
    if not safe:
        abuse.went_offline()
    assert safe, b.log_tail()
    alarm = col.event('system.safe_mode', 10, m, active=True)
    assert alarm and 'no usable config' in alarm[2]['why'] and 'unlock_s' in alarm[2]['why']
    io = SimIO(b.io_port)
    try:
        assert io.get('front.lock') == 0, 'fail-safe door: released, driven'
        assert io.get('arm.motor_up') == 0 and io.get('arm.motor_down') == 0
    finally:
        io.close()
    # online, it takes a pushed config (the same site file) and leaves safe mode
    good = sitemod.device_config(s, 'gate-1')
    m = col.mark()
    verdict = configpush.push_mqtt(br.endpoint(auth, room=True), 'ab', good, 30, key=secrets.cmd_key(sec, 'gate-1'))
    assert verdict['type'] == 'system.config_applied', verdict
    assert online(col, m, rev=good['rev'], safe_mode=None)
