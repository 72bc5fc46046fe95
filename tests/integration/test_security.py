"""Security against a real mosquitto with the ACL and password file generated from the site:
no anonymous access; a device's credential cannot publish under another device or read its
commands; a simulated board logs in with its own credential; its safety commands must be
signed, fresh and meant for it: forged, replayed, truncated and unsigned ones are refused
with a reason and change nothing; `edgectl cmd` signs with the site's key by itself."""
import json
import os
import stat
import subprocess
import sys
import time

import pytest

from edgectl.core import commands, proto, secrets
from edgectl.room import fire
from edgectl.core import site as sitemod
from edgectl.core.broker import Broker
from edgectl.core.errors import EdgeError
from edgectl.core.mqttc import Collector, connect
from edgectl.sim.sim import SimBoard, Supervisor
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: sec
broker: {host: 127.0.0.1, port: %d}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 20, unlock_s: 3}
  lobby-2:
    board: esp32-devkitc
    controllers:
      - {name: rear, type: door, pins: {contact: 4, lock: 25}}
"""


@pytest.fixture
def secure(tmp_path):
    from edgectl.core.broker import free_port
    port = free_port(pair=True)
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % port)
    s = sitemod.load_valid(site)
    sec, added = secrets.ensure(site, sorted(s.devices))
    br = Broker(port=port, workdir=tmp_path / 'broker', site='sec', secrets=sec, raisers=fire.raisers(s)).start()
    yield site, s, sec, br
    br.stop()


def test_secrets_file_is_private_and_ignored_by_git(secure):
    site, s, sec, br = secure
    p = secrets.path_for(site)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert '*.secrets.json' in (site.parent / '.gitignore').read_text()
    a, b = sec['devices']['lobby-1'], sec['devices']['lobby-2']
    assert a['mqtt_password'] != b['mqtt_password'] and a['cmd_key'] != b['cmd_key']
    again, added = secrets.ensure(site, ['lobby-1', 'lobby-2'])
    assert added == [] and again == sec, 'existing credentials are kept'
    os.chmod(p, 0o644)
    with pytest.raises(EdgeError):
        secrets.load(site)
    os.chmod(p, 0o600)


def login(br, user, pw, name):
    """A device logs in on the boards' listener, the control room and operators on theirs."""
    return connect(br.host, br.port if user.startswith('lobby') else br.room_port, name, auth=(user, pw))


def test_acl_keeps_each_device_to_its_own_topics(secure):
    site, s, sec, br = secure
    with pytest.raises(EdgeError):
        connect(br.host, br.port, 'anon')                              # anonymous: refused
    with pytest.raises(EdgeError):
        login(br, 'lobby-1', 'wrong', 'bad')
    room = Collector(br.host, br.room_port, [T.site_filter('sec')], 'room',
                     auth=(sec['room']['user'], sec['room']['password']))
    got = []
    dev1 = login(br, 'lobby-1', sec['devices']['lobby-1']['mqtt_password'], 'd1')
    dev1.on_message = lambda c, u, m: got.append(m.topic)
    dev1.subscribe(T.cmd('sec', 'lobby-2', 'rear'), 1)                 # another device's commands
    dev1.subscribe(T.cmd('sec', 'lobby-1', 'front'), 1)                # its own
    time.sleep(0.3)
    try:
        dev1.publish(T.evt('sec', 'lobby-2', 'rear'), '{"seq": 1, "type": "door.forced"}', qos=1).wait_for_publish(5)
        dev1.publish(T.cmd('sec', 'lobby-2', 'rear'), '{"id": "x", "op": "unlock"}', qos=1).wait_for_publish(5)
        dev1.publish(T.evt('sec', 'lobby-1', 'front'), '{"seq": 1, "type": "door.opened"}', qos=1).wait_for_publish(5)
        room.client.publish(T.cmd('sec', 'lobby-2', 'rear'), '{"id": "r", "op": "status"}', qos=1)
        room.client.publish(T.cmd('sec', 'lobby-1', 'front'), '{"id": "r", "op": "status"}', qos=1)
        time.sleep(0.8)
        seen = [m[1] for m in room.msgs]
        assert T.evt('sec', 'lobby-1', 'front') in seen, 'its own event goes through'
        assert T.evt('sec', 'lobby-2', 'rear') not in seen, 'an event under another device was accepted'
        assert seen.count(T.cmd('sec', 'lobby-2', 'rear')) == 1, 'only the control room commands lobby-2'
        assert got == [T.cmd('sec', 'lobby-1', 'front')], 'lobby-1 read: %r' % got
    finally:
        dev1.loop_stop()
        room.close()


@pytest.fixture
def board(secure, tmp_path):
    """lobby-1 with its secrets, the control room's collector logged in, its wires."""
    site, s, sec, br = secure
    b = SimBoard(sitemod.device_config(s, 'lobby-1'), tmp_path / 'lobby-1',
                 secret=secrets.board_file(sec, 'lobby-1')).start()
    sup = Supervisor([b])
    auth = (sec['room']['user'], sec['room']['password'])
    col = Collector(br.host, br.room_port, [T.site_filter('sec')], 'room', auth=auth)
    io = SimIO(b.io_port)
    try:
        yield b, col, io, auth
    finally:
        io.close()
        col.close()
        sup.stop()
        b.stop()


def test_board_logs_in_and_refuses_forged_replayed_and_unsigned_unlocks(secure, board, tmp_path):
    site, s, sec, br = secure
    b, col, io, auth = board
    key = secrets.cmd_key(sec, 'lobby-1')

    def raw(body):
        m = col.mark()
        col.client.publish(T.cmd('sec', 'lobby-1', 'front'), json.dumps(body), qos=1)
        r = col.wait(lambda t, p: '/ack/' in t and isinstance(p, dict) and p.get('id') == body['id'], 5, m)
        assert r, b.log_tail()
        return r[2]

    st = col.wait(lambda t, p: t == T.status('sec', 'lobby-1') and isinstance(p, dict) and p.get('online'), 10)
    assert st and st[2]['signed_cmds'] is True, b.log_tail()
    ack = raw({'id': 'u1', 'op': 'unlock'})
    assert not ack['ok'] and 'needs a signature' in ack['err']
    good = commands.signed({'id': 'u2', 'op': 'unlock', 's': 2}, 'lobby-1', 'front', key)
    forged = dict(good, id='u3', s=3600)                           # changed after signing
    assert 'bad signature' in raw(forged)['err']
    truncated = dict(good, id='u2', sig=good['sig'][:20])
    assert 'bad signature' in raw(truncated)['err']
    other = commands.signed({'id': 'u4', 'op': 'unlock'}, 'lobby-2', 'front', key)   # meant for another board
    assert 'bad signature' in raw(other)['err']
    assert io.get('front.lock') == 1, 'nothing refused moved the lock'
    from edgectl.core.proto import signing
    held = {'id': 'u5', 'op': 'unlock', 'ctr': int(time.time() * 1000) - 60000}   # captured, sent a minute late
    held['sig'] = signing.sign(key, 'lobby-1', 'front', held)
    assert 'expired' in raw(held)['err']
    assert raw(good)['ok'] is True
    assert io.get('front.lock') == 0
    replay = raw(good)                                              # the same message recorded and sent again
    assert not replay['ok'] and 'replayed' in replay['err']
    assert col.event('system.cmd_rejected', err='bad signature')
    assert raw({'id': 's1', 'op': 'status'})['ok'], 'status needs no signature'
    # edgectl cmd finds the site's secrets next to the site file and signs
    time.sleep(3.2)
    assert io.get('front.lock') == 1
    r = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'cmd', 'lobby-1', 'front', 'unlock', 's=2',
                        '--site', str(site)], capture_output=True, text=True, timeout=30, cwd=tmp_path,
                       env=dict(os.environ, EDGECTL_MQTT_USER=auth[0], EDGECTL_MQTT_PASSWORD=auth[1]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert io.get('front.lock') == 0


def test_only_a_reset_signed_with_the_boards_own_key_relocks(secure, board):
    site, s, sec, br = secure
    b, col, io, auth = board
    key = secrets.cmd_key(sec, 'lobby-1')
    other = secrets.cmd_key(sec, 'lobby-2')

    def wait_lock(v, t=5):
        return io.wait_value('front.lock', v, t)

    def send(msgs):
        for t, p in msgs:
            col.client.publish(t, p, qos=1, retain=True).wait_for_publish(5)
    assert col.wait(lambda t, p: t == T.status('sec', 'lobby-1') and isinstance(p, dict) and p.get('online'), 10)
    send(fire.messages('sec', True, 'room'))
    assert wait_lock(0), 'fire releases the lock'
    m = col.mark()
    send(fire.reset_messages('sec', ['lobby-1'], 'intruder'))                   # unsigned
    assert col.event('system.site_fire_rejected', 5, m), b.log_tail()
    send(fire.reset_messages('sec', ['lobby-1'], 'intruder', {'lobby-1': other}))   # another board's key
    assert not wait_lock(1, 1.0), 'a reset not signed with its own key relocked the door'
    reset = fire.reset_messages('sec', ['lobby-1'], 'guard', {'lobby-1': key})
    send(reset)
    assert wait_lock(1), 'the signed reset relocks'
    send(fire.messages('sec', True, 'room'))
    assert wait_lock(0)
    send([(t, p.replace('"guard"', '"guard" ')) for t, p in reset[1:]])      # recorded and replayed
    assert not wait_lock(1, 1.0), 'a replayed reset relocked the door'
    m = col.mark()
    ctr = json.loads(reset[1][1])['ctr']
    send(fire.reset_messages('sec', ['lobby-1'], 'guard', {'lobby-1': key}, now_ms=ctr - 5))   # an older one
    r = col.event('system.site_fire_rejected', 5, m)
    assert r and 'replayed' in r[2]['err'], r
    assert not wait_lock(1, 1.0)
    # as the CLI does: logged in as the control room on its listener
    applied = fire.publish(br.endpoint(auth, room=True), 'sec', False, 'guard', ['lobby-1'], 5, keys={'lobby-1': key})
    assert applied == {'lobby-1': True} and wait_lock(1), 'edgectl fire reset signs by itself'


def test_operators_log_in_as_themselves_and_a_removed_one_is_locked_out(secure, tmp_path):
    site, s, sec, br = secure
    env = dict(os.environ, EDGE_OPERATOR_PASSWORD='ann-correct-horse')

    def edgectl(*args, **kw):
        return subprocess.run([sys.executable, '-m', 'edgectl.cli'] + list(args) +
                              ['--site', str(site)], cwd=tmp_path, capture_output=True, text=True, timeout=60, **kw)
    r = edgectl('operator', 'add', 'ann', '--dir', str(br.workdir), env=env)
    assert r.returncode == 0 and 'reloaded' in r.stdout, r.stdout + r.stderr
    stored = json.loads(secrets.path_for(site).read_text())['operators']['ann']
    assert 'ann-correct-horse' not in json.dumps(stored) and stored['passwd'].startswith('$')
    assert edgectl('operator', 'add', 'lobby-1', env=env).returncode == 2, 'a device name is taken'
    assert edgectl('operator', 'add', 'bob', env=dict(env, EDGE_OPERATOR_PASSWORD='short')).returncode == 2
    time.sleep(0.3)
    ann = Collector(br.host, br.room_port, [T.site_filter('sec')], 'ann', auth=('ann', 'ann-correct-horse'))
    try:
        room = login(br, sec['room']['user'], sec['room']['password'], 'room')
        room.publish(T.cmd('sec', 'lobby-1', 'front'), '{"id": "q9", "op": "status"}', qos=1).wait_for_publish(5)
        assert ann.wait(lambda t, p: t == T.cmd('sec', 'lobby-1', 'front'), 5), 'an operator reads the site'
        room.loop_stop()
    finally:
        ann.close()
    with pytest.raises(EdgeError):
        login(br, 'ann', 'not-her-password', 'x')
    r = edgectl('monitor', '--plain', '--operator', 'bob', '--duration', '1', env=env)
    assert r.returncode == 2 and "no control-room login for operator 'bob'" in r.stderr, r.stderr
    r = edgectl('monitor', '--plain', '--no-journal', '--operator', 'ann', '--duration', '1', env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = edgectl('operator', 'remove', 'ann', '--dir', str(br.workdir))
    assert r.returncode == 0 and 'reloaded' in r.stdout
    time.sleep(0.3)
    with pytest.raises(EdgeError):
        login(br, 'ann', 'ann-correct-horse', 'y')
    r = edgectl('operator', 'list')
    assert 'no operators' in r.stdout
