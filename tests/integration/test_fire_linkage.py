"""Site-wide fire linkage across simulated boards and real mosquitto: one door's fire input
raises the site's fire state on its own raise topic and releases every door and opens every
barrier on the site; they stay so after the input clears, until an acknowledged reset from
the control room (one reset per board); a board booting meanwhile applies the fire state at
once; a reset while a detector still reports fire is raised again by that board; `edgectl
fire status` derives the state from the retained raises and the last reset."""
import json
import subprocess
import sys
import time

from edgectl.core import proto
from edgectl.core.mqttc import Collector
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: fl
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
      - {name: lift, type: lift_recall, pins: {recalled: 13, recall: 26}, recall_s: 10}
  gate-1:
    board: esp32-devkitc
    controllers:
      - name: barrier
        type: barrier
        pins: {beam: 34, loop: 35, up_limit: 32, down_limit: 33, motor_up: 25, motor_down: 26, eye_tx: 27}
        auto_close_s: 1
"""


def edgectl(*args, cwd):
    return subprocess.run([sys.executable, '-m', 'edgectl.cli'] + list(args), cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def test_fire_linkage_across_boards(make_board, broker, tmp_path):
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % broker.port)
    text = site.read_text()
    col = Collector(broker.host, broker.port, [T.site_filter('fl')])
    a = make_board(text, 'lobby-1', site_broker=True)
    b = make_board(text, 'lobby-2', site_broker=True)
    g = make_board(text, 'gate-1', site_broker=True)
    g.start_plants()
    ia, ib, ig = SimIO(a.io_port), SimIO(b.io_port), SimIO(g.io_port)
    try:
        for d in ('lobby-1', 'lobby-2', 'gate-1'):
            assert col.wait(lambda t, p: t == T.status('fl', d) and p.get('online'), 10), d
        assert ib.wait_value('rear.lock', 1) and ig.wait_value('barrier.motor_up', 0)
        arm = g.plants[0]
        assert ig.wait_value('barrier.down_limit', 1), 'the barrier starts closed'

        ia.set('front.fire', 1)                            # a detector on lobby-1
        fire = col.wait(lambda t, p: t == T.fire_raise('fl', 'lobby-1') and isinstance(p, dict) and p.get('active'), 5)
        assert fire and fire[3] is False and fire[2]['by'] == 'lobby-1/front'
        assert proto.errors('fire', fire[2]) == [], fire[2]
        assert ib.wait_value('rear.lock', 0, 5), 'the other building\'s door released'
        assert ig.wait_value('barrier.up_limit', 1, 10), 'the barrier opened'
        assert col.event('barrier.fire_open', active=True)
        assert col.event('door.fire_release', active=True, ctrl='rear')
        assert ib.wait_value('lift.recall', 1, 5), 'the lifts recalled'
        assert col.event('lift_recall.recalling', ctrl='lift')

        st = edgectl('fire', 'status', '--site', str(site), '--json', cwd=tmp_path)
        assert st.returncode == 0 and json.loads(st.stdout)['active'] is True, st.stdout + st.stderr
        ia.set('front.fire', 0)                            # the detector clears
        time.sleep(2.5)                                    # past auto_close_s: it stays open
        assert ig.get('barrier.up_limit') == 1 and ib.get('rear.lock') == 0 and ia.get('front.lock') == 0

        # a board that boots now applies the fire state at once
        b.kill(restart=False)
        b.start()
        ib.close()
        ib = SimIO(b.io_port)
        assert ib.wait_value('rear.lock', 0, 5)
        assert ib.wait_value('lift.recall', 1, 5), 'the recall held through a reboot'

        r = edgectl('fire', 'reset', '--site', str(site), '--by', 'guard-1', cwd=tmp_path)
        assert r.returncode == 2 and 'acknowledged' in r.stderr, 'a reset without --yes is refused'
        r = edgectl('fire', 'reset', '--site', str(site), '--by', 'guard-1', '--yes', '--json', cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)['applied'] == {'gate-1': True, 'lobby-1': True, 'lobby-2': True}
        assert ia.wait_value('front.lock', 1) and ib.wait_value('rear.lock', 1)
        assert ib.wait_value('lift.recall', 0, 5), 'the reset released the recall'
        assert ig.wait_value('barrier.down_limit', 1, 10), 'auto-close resumed'
        st = edgectl('fire', 'status', '--site', str(site), '--json', cwd=tmp_path)
        assert json.loads(st.stdout) == {'active': False, 'by': 'guard-1', 'ts': json.loads(st.stdout)['ts']}

        # a reset while a detector still reports fire: that board raises it again
        m0 = col.mark()
        ia.set('front.fire', 1)
        assert col.wait(lambda t, p: t == T.fire_raise('fl', 'lobby-1') and isinstance(p, dict) and p.get('active'), 5, m0)
        m = col.mark()
        r = edgectl('fire', 'reset', '--site', str(site), '--by', 'guard-1', '--yes', cwd=tmp_path)
        assert r.returncode == 0
        again = col.wait(lambda t, p: t == T.fire_raise('fl', 'lobby-1') and isinstance(p, dict) and p.get('active'), 5, m)
        assert again and again[2]['by'] == 'lobby-1/front'
        assert ib.wait_value('rear.lock', 0, 5)
    finally:
        for io in (ia, ib, ig):
            io.close()
        col.close()
        g.stop_plants()
        # leave no retained fire state for other tests of this broker
        col2 = Collector(broker.host, broker.port, [])
        for t in [T.site_fire('fl'), T.fire_raise('fl', 'lobby-1')] + [T.fire_reset('fl', d) for d in
                                                                        ('lobby-1', 'lobby-2', 'gate-1')]:
            col2.client.publish(t, b'', qos=1, retain=True).wait_for_publish(5)
        col2.close()
