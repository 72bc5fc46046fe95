"""Abuse at the monitoring centre: one site's bridge login (stolen from the site's secrets
file, or a site's broker turned hostile) used against another site. The centre's ACL and
its login-as-client-id must keep it inside its own site: it can neither forge another
site's events, status, acks or bridge state, nor read another site's traffic or commands,
nor take over another site's bridge session, nor send commands down to boards."""
import json
import time

import pytest

from edgectl.core.mqttc import Collector, connect
from edgectl.qa.centrerig import CentreRig
from edgectl.core.errors import EdgeError


@pytest.fixture(scope='module')
def rig(tmp_path_factory):
    with CentreRig(tmp_path_factory.mktemp('centre'), sites=('north', 'south')) as r:
        assert r.wait_bridges(15), r.broker.last_error()
        yield r


def _close(c):
    c.disconnect()
    c.loop_stop()


def _as_north(rig, client_id='edge.thief'):
    """A client at the centre's bridge listener with north's bridge login."""
    return connect('127.0.0.1', rig.port, client_id=client_id, auth=rig.login('north'), ca=rig.ca)


def test_a_sites_bridge_login_cannot_forge_another_site(rig, abuse):
    room = rig.room_client()
    thief = _as_north(rig)
    try:
        forged = ['edge/v1/south/gate-1/evt/gate', 'edge/v1/south/gate-1/status', 'edge/v1/south/gate-1/ack/gate',
                  'edge/v1/south/gate-1/state/gate', 'edge/v1/south/_site/bridge', 'edge/v1/south/_site/fire/x',
                  'edge/v1/south/_site/alarm_ack/gate-1/gate/door.forced', 'edge/v1/north/gate-1/cmd/gate',
                  'edge/v1/south/gate-1/cmd/gate', '$SYS/broker/connection/edge.bridge.south/state']
        for t in forged:
            thief.publish(t, rig.event(7, etype='door.forced', sev='alarm', active=True), qos=1).wait_for_publish(5)
        # its own site's event goes through: the login works, only the other site is closed to it
        thief.publish('edge/v1/north/gate-1/evt/gate', rig.event(8), qos=1).wait_for_publish(5)
        assert room.wait(lambda t, p: t == 'edge/v1/north/gate-1/evt/gate', 5)
        time.sleep(0.3)
        got = [m[1] for m in room.msgs if m[1] in forged and not m[3]]
        for t in forged:
            abuse.input(refused=t not in got)
        assert got == []
    finally:
        _close(thief)
        _close(room.client)


def test_a_sites_bridge_login_cannot_read_another_site(rig, abuse):
    thief = _as_north(rig)
    seen = []
    thief.on_message = lambda c, u, m: seen.append(m.topic)
    for t in ('edge/v1/south/#', 'edge/v1/+/+/cmd/+', 'edge/v1/#', '#', '$SYS/#'):
        thief.subscribe(t, 1)
    time.sleep(0.3)
    try:
        rig.publish_events('south', 'gate-2', [1, 2, 3])
        room = rig.room_client(['edge/v1/none'])
        room.client.publish('edge/v1/south/gate-2/cmd/gate', '{"id": "c9", "op": "open"}', qos=1).wait_for_publish(5)
        _close(room.client)
        time.sleep(0.8)
        south = [t for t in seen if t.startswith('edge/v1/south/') or t.startswith('$SYS')]
        abuse.input(refused=not south, n=5)
        assert south == []
    finally:
        _close(thief)


def test_a_sites_bridge_login_cannot_take_over_another_sites_session(rig, abuse):
    """Connecting with south's bridge client id under north's login: the centre names the
    client by its login (bridge.north), so south's bridge stays connected and keeps
    carrying; no bridge-down for south."""
    room = rig.room_client(['edge/v1/+/_site/bridge', 'edge/v1/south/+/evt/+'])
    start = len(room.msgs)
    thief = _as_north(rig, client_id='edge.bridge.south')
    try:
        time.sleep(0.5)
        down = [m for m in room.msgs[start:] if m[1] == 'edge/v1/south/_site/bridge' and m[2] == 0]
        rig.publish_events('south', 'gate-3', [1])
        assert room.wait(lambda t, p: t == 'edge/v1/south/gate-3/evt/gate', 5, start)
        abuse.input(refused=not down)
        assert down == []
    finally:
        _close(thief)
        _close(room.client)


def test_wrong_or_misplaced_logins_are_refused(rig, abuse):
    user, pw = rig.login('north')
    tries = [(rig.port, (user, pw + 'x')),                 # a wrong password
             (rig.port, ('control-room', rig.room[1])),     # the room's login on the bridges' listener
             (rig.broker.room_port, (user, pw)),           # a bridge's login on the room's listener
             (rig.port, None)]                              # anonymous
    for port, auth in tries:
        try:
            c = connect('127.0.0.1', port, client_id='edge.try', auth=auth or ('', ''), ca=rig.ca, timeout=3)
        except EdgeError:
            abuse.input(refused=True)
            continue
        abuse.input(refused=False)
        _close(c)
        pytest.fail('%s was let in on port %d' % (auth and auth[0], port))


def test_a_site_cannot_reach_another_site_through_its_own_broker(rig, abuse):
    """Whatever is published at north's broker (anonymous here: a hostile site) about
    south stays at north: the bridge carries only edge/v1/north/."""
    room = rig.room_client(['edge/v1/south/#'])
    p = rig.publisher('north')
    try:
        for t in ('edge/v1/south/gate-1/evt/gate', 'edge/v1/south/_site/fire/x', 'edge/v1/south/gate-1/cmd/gate'):
            p.publish(t, json.dumps({'active': True, 'by': 'x'}), qos=1).wait_for_publish(5)
        time.sleep(0.6)
        got = [m for m in room.msgs if not m[3] and not m[1].endswith('/_site/bridge')]
        abuse.input(refused=not got, n=3)
        assert got == []
    finally:
        _close(p)
        _close(room.client)
