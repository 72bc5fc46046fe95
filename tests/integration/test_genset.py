"""The standby generator on a simulated board with the engine plant, against real mosquitto:
a blackout starts the engine after mains_fail_s, the mains coming back cool it down and stop
it; an engine that will not start is start_failed after its crank time."""
import time

from edgectl.core import proto
from edgectl.core.mqttc import Collector

T = proto.topics
SITE = """\
site: gs
broker: {host: 127.0.0.1, port: 1883}
devices:
  plant-1:
    board: esp32-devkitc
    controllers:
      - name: gen
        type: genset
        pins: {mains_ok: 34, gen_running: 35, gen_fault: 32, gen_start: 25}
        mains_fail_s: 1
        crank_s: 1
        rest_s: 5
        start_attempts: 1
        cooldown_s: 1
        debounce_ms: 50
"""


def test_blackout_start_cooldown_stop_and_a_failed_start(make_board, broker):
    b = make_board(SITE, 'plant-1')
    engine = b.plants[0]
    engine.crank_ms = 500
    b.start_plants()
    col = Collector(broker.host, broker.port, [T.base('gs', 'plant-1') + '#'])
    try:
        assert col.wait(lambda t, p: t.endswith('/status') and p.get('online'), 10)
        m = col.mark()
        engine.set('mains', 0)                         # blackout
        alarm = col.event('genset.mains_fail', 5, m, active=True)
        started = col.event('genset.started', 5, m)
        assert alarm and started, b.log_tail()
        assert started[2]['by'] == 'mains' and proto.errors('event', started[2]) == []
        st = col.wait(lambda t, p: t == T.state('gs', 'plant-1', 'gen') and p.get('state') == 'running', 5, m)
        assert st and proto.errors('state', st[2]) == [], st
        m = col.mark()
        engine.set('mains', 1)
        assert col.event('genset.cooldown', 5, m)
        stopped = col.event('genset.stopped', 5, m)
        assert stopped and stopped[2]['reason'] == 'mains_back'
        end = time.monotonic() + 2
        while engine.running and time.monotonic() < end:    # the plant follows gen_start
            time.sleep(0.01)
        assert engine.running == 0
        m = col.mark()
        engine.set('fails', 1)
        engine.set('mains', 0)
        failed = col.event('genset.start_failed', 8, m, active=True)
        assert failed and failed[2]['attempts'] == 1, b.log_tail()     # (retries: cases_genset)
    finally:
        col.close()
        b.stop_plants()
