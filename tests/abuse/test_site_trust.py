"""Trust inside a site (issue 15: 2, 6, 7, 11), against real mosquitto with the password
files and ACLs generated from the site and its secrets, and simulated boards running the
firmware on the MicroPython VM: only a board with a fire input can raise the site's fire
state; no board can reset it (a board's key makes a reset for that board only); no login
can take over a board's session; reserved and malformed names, and board profiles named by
a path, are refused at validation."""
import json
import time

import paho.mqtt.client as mqtt
import pytest

from edgectl.room import fire
from edgectl.core import proto, secrets
from edgectl.core import site as sitemod
from edgectl.core.broker import Broker, free_port
from edgectl.core.errors import EdgeError
from edgectl.core.mqttc import Collector, connect
from edgectl.core.mqttraw import RawSubscriber
from edgectl.sim.sim import SimBoard, Supervisor
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: trust
broker: {host: 127.0.0.1, port: %d}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, fire: 14, lock: 25}, debounce_ms: 20}
  lobby-2:
    board: esp32-devkitc
    controllers:
      - {name: rear, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 20}
  lobby-3:
    board: esp32-devkitc
    controllers:
      - {name: side, type: door, pins: {contact: 4, lock: 25}}
  fountain-1:
    board: esp32-devkitc
    controllers:
      - {name: pool, type: pump, pins: {low_level: 4, pump: 26}}
"""


class SecureSite:
    def __init__(self, tmp_path):
        port = free_port(pair=True)
        self.path = tmp_path / 'site.yaml'
        self.path.write_text(SITE % port)
        self.site = sitemod.load_valid(self.path)
        self.sec, _ = secrets.ensure(self.path, sorted(self.site.devices))
        self.br = Broker(port=port, workdir=tmp_path / 'broker', site='trust', secrets=self.sec,
                         raisers=fire.raisers(self.site)).start()
        self.room_auth = (self.sec['room']['user'], self.sec['room']['password'])
        self.room = Collector(self.br.host, self.br.room_port, [T.site_filter('trust')], 'room', auth=self.room_auth)
        self.boards, self.io = {}, {}
        for d in ('lobby-1', 'lobby-2'):
            self.boards[d] = SimBoard(sitemod.device_config(self.site, d), tmp_path / d,
                                      secret=secrets.board_file(self.sec, d)).start()
        self.sup = Supervisor(list(self.boards.values()))
        for d, b in self.boards.items():
            assert self.room.wait(lambda t, p: t == T.status('trust', d) and isinstance(p, dict) and p.get('online'),
                                  15), b.log_tail()
            self.io[d] = SimIO(b.io_port)

    def login(self, device, client_id=None):
        """A paho client with a device's credentials on the boards' listener (a stolen board)."""
        return connect(self.br.host, self.br.port, device, client_id=client_id,
                       auth=(device, self.sec['devices'][device]['mqtt_password']))

    def key(self, device):
        return secrets.cmd_key(self.sec, device)

    def offline(self, devices=('lobby-1', 'lobby-2')):
        """How many times a board said (or its will said) it went offline."""
        return sum(1 for _, t, p, _ in list(self.room.msgs)
                   if t in [T.status('trust', d) for d in devices] and isinstance(p, dict) and p.get('online') is False)

    def reset_all(self):
        keys = {d: self.key(d) for d in self.site.devices}
        return fire.publish(self.br.endpoint(self.room_auth, room=True), 'trust', False, 'guard',
                            sorted(self.boards), 10, keys=keys)

    def close(self):
        for io in self.io.values():
            io.close()
        self.room.close()
        self.sup.stop()
        for b in self.boards.values():
            b.stop()
        self.br.stop()


@pytest.fixture
def trust(tmp_path):
    s = SecureSite(tmp_path)
    try:
        yield s
    finally:
        s.close()


def send(client, topic, body, retain=True):
    client.publish(topic, body if isinstance(body, str) else json.dumps(body), qos=1, retain=retain).wait_for_publish(5)


def test_only_a_board_with_a_fire_input_can_raise_the_site_fire(trust, abuse):
    io1, io2 = trust.io['lobby-1'], trust.io['lobby-2']
    pump = trust.login('fountain-1')
    door3 = trust.login('lobby-3')        # a door without a fire input
    forged = {'active': True, 'by': 'fountain-1', 'ts': 1, 'after': 2 ** 50}
    attempts = [(pump, T.site_fire('trust'), {'active': True}),              # what the old firmware obeyed
                (pump, T.fire_raise('trust', 'fountain-1'), forged),          # its own raise topic: no fire input
                (pump, T.fire_raise('trust', 'lobby-1'), forged),             # a raiser's topic
                (pump, T.fire_raise('trust', fire.ROOM), forged),                # the control room's
                (door3, T.fire_raise('trust', 'lobby-3'), forged)]
    try:
        m = trust.room.mark()
        for client, topic, body in attempts:
            send(client, topic, body)
            released = io2.wait_value('rear.lock', 0, 0.8) or io1.get('front.lock') == 0
            abuse.input(refused=not released)
            assert not released, 'a board without a fire input raised the site fire state on %s' % topic
        assert trust.room.event('system.site_fire', 0.5, m) is None
        assert not [x for x in list(trust.room.msgs)[m:] if '/_site/fire' in x[1]], 'the broker let a forged raise through'
    finally:
        pump.loop_stop()
        door3.loop_stop()
    io1.set('front.fire', 1)                        # the detector of the door that has one
    assert io2.wait_value('rear.lock', 0, 5), 'a real raise still releases every door'
    io1.set('front.fire', 0)
    got = trust.reset_all()
    assert got == {'lobby-1': True, 'lobby-2': True}, (got, ['%s %s' % (t, json.dumps(p)) for _, t, p, _ in list(trust.room.msgs)
                                                            if 'lobby-2/evt/system' in t][-6:], trust.boards['lobby-2'].log_tail())
    assert io1.wait_value('front.lock', 1, 5) and io2.wait_value('rear.lock', 1, 5)
    abuse.went_offline(trust.offline())
    assert trust.offline() == 0


def test_no_board_can_reset_the_site_fire(trust, abuse):
    io1, io2 = trust.io['lobby-1'], trust.io['lobby-2']
    io1.set('front.fire', 1)
    assert io2.wait_value('rear.lock', 0, 5) and io1.wait_value('front.lock', 0, 5)
    io1.set('front.fire', 0)                        # the detector clears: the site stays in fire
    trust.boards['lobby-1'].kill(restart=False)     # lobby-1 is stolen: its login and key are the thief's
    stolen = trust.login('lobby-1')
    own = trust.key('lobby-1')
    # every key in the stolen board's secrets.json, signing a reset as the control room did before
    # (one shared site fire key on every board, a reset on the site fire topic)
    from edgectl.core import commands
    loot = secrets.board_file(trust.sec, 'lobby-1')
    old_style = [(T.site_fire('trust'), commands.signed({'active': False, 'by': 'x'}, 'trust', '_site/fire',
                                                        bytes.fromhex(v)))
                 for k, v in sorted(loot.items()) if k.endswith('_key')]
    assert old_style, 'the board file holds its own key'
    try:
        for topic, body in old_style + [(T.fire_reset('trust', 'lobby-2'), fire.reset_messages('trust', ['lobby-2'], 'x', {'lobby-2': own})[1][1]),
                            (T.fire_reset('trust', 'lobby-1'), fire.reset_messages('trust', ['lobby-1'], 'x', {'lobby-1': own})[1][1]),
                            (T.site_fire('trust'), {'active': False, 'by': 'x'}),
                            (T.fire_raise('trust', 'lobby-1'), '')]:       # deleting its own raise
            send(stolen, topic, body)
            relocked = io2.wait_value('rear.lock', 1, 0.8)
            abuse.input(refused=not relocked)
            assert not relocked, 'a stolen board reset the site fire state via %s' % topic
    finally:
        stolen.loop_stop()
    # past the ACL (as a rogue with the control room's login and that stolen key would be):
    # lobby-1's key makes no reset any other board takes (tests/firmware/cases_fire.py: its own does)
    m = trust.room.mark()
    for t, p in fire.reset_messages('trust', ['lobby-1', 'lobby-2'], 'x', {'lobby-1': own, 'lobby-2': own})[1:]:
        send(trust.room.client, t, p)
    rej = trust.room.wait(lambda t, p: t == T.evt('trust', 'lobby-2', 'system') and isinstance(p, dict)
                          and p.get('type') == 'system.site_fire_rejected', 5, m)
    abuse.input(refused=rej is not None and not io2.wait_value('rear.lock', 1, 1.0))
    assert rej and rej[2]['err'] == 'bad signature', rej
    assert io2.get('rear.lock') == 0, "lobby-1's key relocked lobby-2"
    del trust.boards['lobby-1']
    assert trust.reset_all() == {'lobby-2': True}, 'the control room resets with each board\'s key'
    assert io2.wait_value('rear.lock', 1, 5)
    abuse.went_offline(trust.offline(['lobby-2']))
    assert trust.offline(['lobby-2']) == 0


def raw_connect(port, client_id, auth):
    """A client that picks its client id as it likes (no edgectl prefix); the CONNACK code."""
    got = {}
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    c.username_pw_set(*auth)
    c.on_connect = lambda cl, u, f, rc, p=None: got.setdefault('rc', rc)
    c.connect('127.0.0.1', port)
    c.loop_start()
    end = time.monotonic() + 5
    while 'rc' not in got and time.monotonic() < end:
        time.sleep(0.02)
    return c, got.get('rc')


def test_no_login_can_take_over_a_boards_session(trust, abuse):
    br = trust.br
    pump = ('fountain-1', trust.sec['devices']['fountain-1']['mqtt_password'])
    victim_ids = ['edge.trust/lobby-2', 'trust/lobby-2', 'lobby-2', 'edge.lobby-2']
    tries = [(br.port, cid, pump) for cid in victim_ids] + [(br.room_port, cid, trust.room_auth) for cid in victim_ids]
    clients = []
    try:
        for port, cid, auth in tries:
            before = trust.offline()
            c, rc = raw_connect(port, cid, auth)
            clients.append(c)
            time.sleep(0.5)              # held: a takeover would have dropped lobby-2 by now
            kicked = trust.offline() > before
            abuse.input(refused=not kicked)
            assert not kicked, 'client id %r on port %d took over lobby-2 (connack %s)' % (cid, port, rc)
        st = trust.room.wait(lambda t, p: t == T.status('trust', 'lobby-2'), 0.1)
        assert st and st[2].get('online') is True
        # the control room's tools share one login and still run side by side
        a = Collector(br.host, br.room_port, [T.site_filter('trust')], 'monitor', auth=trust.room_auth)
        b = Collector(br.host, br.room_port, [T.site_filter('trust')], 'fire', auth=trust.room_auth)
        got = []
        j = RawSubscriber(br.host, br.room_port, 'journal-trust', [T.site_filter('trust')],
                          lambda batch, release: (got.extend(batch), release()), auth=trust.room_auth)
        try:
            marks = [(col, col.mark()) for col in (a, b, trust.room)]
            trust.io['lobby-2'].set('rear.contact', 1)       # a forced door: every tool sees it
            for col, m in marks:
                assert col.event('door.forced', 5, m), col
            end = time.monotonic() + 5
            while not any(b'door.forced' in x[1] for x in got) and time.monotonic() < end:
                time.sleep(0.05)
            assert any(b'door.forced' in x[1] for x in got), 'the journal reader got it too'
            trust.io['lobby-2'].set('rear.contact', 0)
        finally:
            j.close()
            a.close()
            b.close()
    finally:
        for c in clients:
            c.loop_stop()
            c.disconnect()
    with pytest.raises(EdgeError):        # board logins do not exist on the control room's listener
        connect(br.host, br.room_port, 'x', auth=pump)
    with pytest.raises(EdgeError):        # nor the control room's on the boards'
        connect(br.host, br.port, 'x', auth=trust.room_auth)
    abuse.went_offline(trust.offline())
    assert trust.offline() == 0, 'a board went offline'


BAD_NAMES = ['control-room', 'system', 'a/b', 'a+b', 'lobby#', 'lob\x01by', 'lobby-1\n', '-lobby', 'Lobby',
             'x' * 33, '_site']
GOOD = """\
site: %s
broker: {host: 127.0.0.1, port: 1883}
devices:
  %s:
    board: %s
    controllers:
      - {name: %s, type: door, pins: {contact: 4, lock: 25}}
"""


def validate(site='s', device='lobby-1', board='esp32-devkitc', ctrl='front'):
    s = sitemod.parse(GOOD % tuple(json.dumps(x) for x in (site, device, board, ctrl)), 'site.yaml')
    if not s.problems:
        sitemod.validate(s)
    return s.errors


def test_reserved_and_malformed_names_are_refused_at_validation(abuse, tmp_path):
    assert validate() == [] and validate(ctrl='front_2') == []
    for name in BAD_NAMES:
        for where in ('site', 'device', 'ctrl'):
            errs = validate(**{where: name})
            abuse.input(refused=bool(errs))
            assert errs, '%s name %r passed validation' % (where, name)
    import config                       # the board applies the same rule (tests/firmware/cases_fire.py)
    for name in BAD_NAMES:
        cfg = {'site': 's', 'device': 'lobby-1', 'broker': {'host': 'h', 'port': 1},
               'controllers': [{'name': name, 'type': 'door', 'pins': {'contact': 4, 'lock': 25}}]}
        with pytest.raises(config.ConfigError):
            config.check(cfg)
        abuse.input(refused=True)
    # a device may not take the name of a control-room login of the site
    p = tmp_path / 'site.yaml'
    secrets.ensure(p, ['lobby-1'])
    secrets.set_operator(p, 'ann', '$7$x')
    with pytest.raises(EdgeError):
        secrets.ensure(p, ['lobby-1', 'ann'])
    abuse.input(refused=True)
    for name in ('bob\n', 'system', 'control-room', 'a/b', 'b#'):     # operators' logins: one line each
        with pytest.raises(EdgeError):
            secrets.set_operator(p, name, '$7$x')
        abuse.input(refused=True)
    assert secrets.operators(secrets.load(p)) == ['ann']


def test_a_board_profile_is_named_never_a_path(abuse):
    for board in ('../protocols/controllers', '../../x', '/etc/passwd', 'esp32-devkitc/../sim', '../boards/sim'):
        errs = validate(board=board)
        refused = len(errs) == 1 and 'no board profile' in errs[0].msg
        abuse.input(refused=refused)
        assert refused, (board, [str(e) for e in errs])


def test_the_control_rooms_login_cannot_forge_what_a_board_says(trust, abuse):
    """An operator's (or the control room's) login sends commands, configs, acknowledgements
    and fire messages; it cannot publish a board's events, status, state or acks: no forged
    alarm, no forged clearing, no fake 'offline'."""
    forger = connect(trust.br.host, trust.br.room_port, 'forger', auth=trust.room_auth)
    forged = [(T.evt('trust', 'lobby-1', 'front'), {'seq': 999, 'ts': 1, 'type': 'door.forced', 'sev': 'alarm',
                                                    'ctrl': 'front', 'active': True}),
              (T.status('trust', 'lobby-1'), {'online': False}),
              (T.state('trust', 'lobby-1', 'front'), {'type': 'door', 'lock': 'locked', 'door': 'closed'}),
              (T.ack('trust', 'lobby-1', 'front'), {'id': 'c-1', 'ok': True})]
    try:
        m = trust.room.mark()
        for topic, body in forged:
            send(forger, topic, body, retain=False)
        time.sleep(1.0)
        seen = [x for x in list(trust.room.msgs)[m:] if x[1] in [t for t, _ in forged]]
        for topic, _ in forged:
            abuse.input(refused=not [x for x in seen if x[1] == topic])
        assert not seen, 'the broker let the control room publish as a board: %s' % [x[1] for x in seen]
        m = trust.room.mark()                     # what it may send still goes through
        send(forger, T.cmd('trust', 'lobby-1', 'front'), {'id': 'q1', 'op': 'status'}, retain=False)
        assert trust.room.wait(lambda t, p: t == T.ack('trust', 'lobby-1', 'front') and isinstance(p, dict)
                               and p.get('id') == 'q1', 5, m), 'a command from the control room is answered'
    finally:
        forger.loop_stop()
    abuse.went_offline(trust.offline())
    assert trust.offline() == 0
