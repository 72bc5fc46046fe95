"""Many sites, one centre: three site mosquittos bridged over TLS to a central one on
loopback, each bridge through a link the test can cut (host/qa/centrerig.py). What a site
sends reaches the centre, commands reach only their site, a WAN cut loses and duplicates
nothing, and the centre's monitor shows the cut as an alarm of its own."""
import time

import pytest

from edgectl.core import centre
from edgectl.room.monitor import Monitor
from edgectl.qa.centrerig import CentreRig
from edgectl.room.store import Store


@pytest.fixture(scope='module')
def rig(tmp_path_factory):
    with CentreRig(tmp_path_factory.mktemp('centre')) as r:
        assert r.wait_bridges(15), r.broker.last_error()
        yield r


def _close(collector):
    collector.client.disconnect()      # before the loop stops: at once, not at the loop's next wake-up
    collector.client.loop_stop()


def _poll(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_generated_bridge_config_carries_only_the_site(rig):
    text = rig.sites['north'].conf.read_text()
    assert rig.sites['north'].conf.stat().st_mode & 0o077 == 0      # it holds the bridge's password
    assert 'cleansession false' in text and 'bridge_cafile %s' % rig.ca in text
    topics = [l for l in text.splitlines() if l.startswith('topic ')]
    assert topics and all(l.endswith(' edge/v1/north/ edge/v1/north/') for l in topics)
    assert {l.split()[2] for l in topics} == {'out', 'in', 'both'}
    # the bridge's section comes last: every line after `connection` is the bridge's
    assert text.index('connection centre-north') > text.index('persistence true')


def test_events_go_up_commands_come_down_to_their_site_alone(rig):
    col = rig.room_client()
    try:
        for site in rig.sites:
            rig.publish_events(site, 'gate-1', [1, 2])
        # something at north about south is not carried up (the bridge's topics are north's)
        p = rig.publisher('north')
        p.publish('edge/v1/south/gate-1/evt/gate', rig.event(99), qos=1).wait_for_publish(5)
        p.disconnect()
        p.loop_stop()
        assert _poll(lambda: len(col.events('door.opened')) >= 6, 5)
        time.sleep(0.3)
        got = sorted((m[1].split('/')[2], m[2]['seq']) for m in col.msgs if '/evt/' in m[1])
        assert got == [(s, n) for s in sorted(rig.sites) for n in (1, 2)]
    finally:
        _close(col)
    # a command from the centre for north: at north's broker, not at south's
    from edgectl.core.mqttc import Collector
    at = {s: Collector('127.0.0.1', b.port, ['edge/v1/#']) for s, b in rig.sites.items()}
    try:
        c = rig.room_client(['edge/v1/none'])
        c.client.publish('edge/v1/north/gate-1/cmd/gate', '{"id": "c1", "op": "open"}', qos=1).wait_for_publish(5)
        assert at['north'].wait(lambda t, p: t.endswith('/cmd/gate'), 5)
        time.sleep(0.3)
        assert not [m for s in ('south', 'east') for m in at[s].msgs if '/cmd/' in m[1]]
        _close(c)
    finally:
        for x in at.values():
            _close(x)


def test_wan_cut_loses_nothing_and_duplicates_nothing(rig, tmp_path):
    """Events raised at north during a cut of its link arrive once the link returns (its
    bridge queues them), each once in the centre's journal; south carries on meanwhile; the
    centre's monitor raises room.bridge_down for north while the link is down."""
    store = Store(tmp_path / 'centre.sqlite3')
    mon = Monitor(None, store=store)
    mon.show = lambda rec: None
    mon.attach(rig.room_endpoint(), client_id='journal-test', persistent=True, publish=False)
    key = ('north/_site', 'room', 'room.bridge_down')
    try:
        rig.publish_events('north', 'door-9', range(1, 51))
        assert _poll(lambda: store.flush() and store.count('north/door-9') == 50, 10)
        rig.links['north'].cut()
        assert _poll(lambda: key in mon.alarms, 10), 'the cut raised no alarm at the centre'
        rig.publish_events('north', 'door-9', range(51, 251))      # queued at north meanwhile
        rig.publish_events('south', 'door-9', range(1, 21))        # south is not cut
        assert _poll(lambda: store.flush() and store.count('south/door-9') == 20, 10)
        assert store.count('north/door-9') == 50
        back = time.monotonic()
        rig.links['north'].restore()
        assert _poll(lambda: store.flush() and store.count('north/door-9') == 250, 10)
        took = time.monotonic() - back
        assert took < 8, 'the backlog took %.1f s after the link returned' % took    # ~1 s here; a loaded CI box
        assert _poll(lambda: key not in mon.alarms, 10)
        rows = store.query('north/door-9')
        assert sorted(r['seq'] for r in rows) == list(range(1, 251))      # none lost, none twice
    finally:
        mon.detach()
        store.close()


def test_a_centre_restart_loses_nothing(rig, tmp_path):
    """The centre's mosquitto stopped and started again (persistent): the sites' bridges
    queue meanwhile and reconnect, the journal's persistent session is still there; every
    event once in the journal."""
    store = Store(tmp_path / 'centre.sqlite3')
    mon = Monitor(None, store=store)
    mon.show = lambda rec: None
    try:
        mon.attach(rig.room_endpoint(), client_id='journal-restart', persistent=True, publish=False)
        rig.publish_events('south', 'pump-1', range(1, 21))
        assert _poll(lambda: store.flush() and store.count('south/pump-1') == 20, 5)
        rig.broker.stop()
        rig.publish_events('south', 'pump-1', range(21, 61))        # queued at south meanwhile
        rig.broker.start()
        assert _poll(lambda: (mon.check_link() or True) and store.flush() and store.count('south/pump-1') == 60, 10)
        assert sorted(r['seq'] for r in store.query('south/pump-1')) == list(range(1, 61))
        assert rig.wait_bridges(10)
    finally:
        mon.detach()
        store.close()


def test_the_verbs_run_a_centre_and_bridge_a_site_to_it(tmp_path):
    """`edgectl centre broker` (TLS, its own CA), `edgectl centre enrol`, `edgectl broker`
    of a site whose file names the centre, `edgectl journal run --centre`: an event at the
    site is in the centre's journal, under SITE/DEVICE."""
    import json
    import signal
    import subprocess
    import sys
    from edgectl.core.broker import free_port
    cport, sport = free_port(pair=True), free_port(pair=True)
    (tmp_path / 'centre.yaml').write_text('centre: hq\nbroker: {host: 127.0.0.1, port: %d}\nsites: [north]\n' % cport)
    (tmp_path / 'site.yaml').write_text('''site: north
broker: {host: 127.0.0.1, port: %d}
centre: {host: 127.0.0.1, port: %d, ca: hq.tls/site-ca.pem}
devices:
  gate-1:
    board: esp32-devkitc
    controllers:
      - {name: gate, type: door, pins: {contact: 4, rex: 13, lock: 25, buzzer: 26}}
''' % (sport, cport))

    def edgectl(*args):
        return subprocess.Popen([sys.executable, '-m', 'edgectl.cli'] + list(args), cwd=str(tmp_path),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    procs = []
    try:
        procs.append(edgectl('centre', 'broker', 'centre.yaml'))
        assert procs[0].stdout.readline().startswith('new bridge logins for north')
        assert 'central mosquitto hq' in procs[0].stdout.readline()
        r = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'centre', 'enrol', 'centre.yaml', 'site.yaml'],
                           cwd=str(tmp_path), capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        procs.append(edgectl('broker', 'site.yaml'))       # a site with secrets now: logins and ACLs
        out = procs[1].stdout.readline() + procs[1].stdout.readline()
        assert 'bridged to the centre at 127.0.0.1:%d' % cport in out, out
        procs.append(edgectl('journal', 'run', '--centre', 'centre.yaml', '--db', 'centre.sqlite3'))
        assert 'journal of every site' in procs[2].stdout.readline()
        sec = json.loads((tmp_path / 'site.secrets.json').read_text())
        from edgectl.core.mqttc import connect
        from edgectl.qa.centrerig import CentreRig
        from edgectl.room.store import Store
        board = connect('127.0.0.1', sport, client_id='gate-1', auth=('gate-1', sec['devices']['gate-1']['mqtt_password']))
        board.publish('edge/v1/north/gate-1/evt/gate', CentreRig.event(1), qos=1).wait_for_publish(5)
        board.disconnect()
        board.loop_stop()
        store = Store(tmp_path / 'centre.sqlite3')
        try:
            assert _poll(lambda: store.count('north/gate-1') == 1, 10)
            assert store.query()[0]['device'] == 'north/gate-1'
        finally:
            store.close()
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
