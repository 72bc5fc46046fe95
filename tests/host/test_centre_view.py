"""The centre's control room (monitor/view with no site: every site bridged to the centre):
devices named SITE/DEVICE with a site column, every site's alarms in one list, a site
whose bridge is down an alarm of its own, commands and acknowledgements to the device's
own site, and the --sites filter."""
import json

from edgectl.core.mqttc import Endpoint
from edgectl.room.monitor import Monitor
from edgectl.room.roomview import RoomView

FORCED = b'{"seq": 3, "ts": 1, "type": "door.forced", "sev": "alarm", "ctrl": "front", "active": true}'


def test_the_centre_view_has_a_site_column_and_every_sites_alarms():
    v = RoomView(None, Endpoint('127.0.0.1', 1), 'ann', None, {}, None, out=1, size=(120, 30), keyboard=False)
    m = v.mon
    m.handle('edge/v1/north/lobby-1/status', b'{"online": true, "fw": "0.7.0"}')
    m.handle('edge/v1/south/lobby-1/status', b'{"online": true, "fw": "0.7.0"}')
    m.handle('edge/v1/north/lobby-1/evt/front', FORCED)
    m.handle('edge/v1/south/_site/bridge', b'0')           # south's link to the centre is down
    rows, keys = v.frame(120, 30)
    text = [''.join(s[0] for s in r) for r in rows]
    assert set(keys) == {('north/lobby-1', 'front', 'door.forced'), ('south/_site', 'room', 'room.bridge_down')}
    assert any(r.split()[:4] == ['since', 'prio', 'site', 'device'] for r in text)    # the alarms' headings
    assert [w for w in text if 'door.forced' in w][0].split()[-5:-2] == ['north', 'lobby-1', 'front']
    cut = [w for w in text if 'room.bridge_down' in w][0].split()
    assert cut[cut.index('HIGH') + 1:cut.index('HIGH') + 4] == ['south', '_site', 'room']   # a site cut off: high
    assert [r.split()[:3] for r in text if r.startswith(('north ', 'south '))] == [
        ['north', 'lobby-1', 'online'], ['south', 'lobby-1', 'online']]
    assert 'centre: sites all' in text[0]
    m.handle('edge/v1/south/_site/bridge', b'1')
    assert ('south/_site', 'room', 'room.bridge_down') not in m.alarms


def test_commands_and_acknowledgements_go_to_the_devices_own_site():
    m = Monitor(None)
    m.show = lambda rec: None
    sent = []

    class Client:
        def publish(self, topic, payload, qos=0, retain=False):
            sent.append((topic, retain))
    m.client = Client()
    m.handle('edge/v1/north/lobby-1/evt/front', FORCED)
    m.acknowledge(('north/lobby-1', 'front', 'door.forced'), by='ann')
    m.send('south/gate-1', 'gate', 'open', {})
    assert sent == [('edge/v1/north/_site/alarm_ack/lobby-1/front/door.forced', True),
                    ('edge/v1/south/gate-1/cmd/gate', False)]
    # another centre monitor's acknowledgement reaches this one, keyed by SITE/DEVICE
    m.handle('edge/v1/north/_site/alarm_ack/lobby-1/front/door.forced', json.dumps({'by': 'bob'}).encode())
    assert m.acked[('north/lobby-1', 'front', 'door.forced')]['by'] == 'bob'


def test_the_sites_filter_keeps_only_those_sites():
    m = Monitor(None, sites=['east'])
    m.show = lambda rec: None
    assert m.handle('edge/v1/north/d1/status', b'{"online": true}') is None
    m.handle('edge/v1/north/_site/bridge', b'0')
    assert m.handle('edge/v1/east/d1/status', b'{"online": true}')['device'] == 'east/d1'
    assert list(m.devices) == ['east/d1'] and not m.alarms
