"""The pump on a simulated board with the basin plant, against real mosquitto: the basin
runs low, the pump stops, the alarm arrives, the level is restored, the pump restarts only
after restore_s."""
import time

from edgectl.core import proto
from edgectl.core.mqttc import Collector
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: pt
broker: {host: 127.0.0.1, port: 1883}
devices:
  fountain-1:
    board: esp32-devkitc
    controllers:
      - name: pool
        type: pump
        pins: {low_level: 34, high_level: 35, pump: 25}
        restore_s: 3
        low_debounce_ms: 100
        min_off_s: 0
"""


def evt(col, etype, timeout=10, start=0, **match):
    return col.event(etype, timeout, start, **match)


def test_basin_runs_low_pump_stops_and_restarts_after_restore_s(make_board, broker):
    b = make_board(SITE, 'fountain-1')
    basin = b.plants[0]
    basin.level = 24.0
    basin.leak = 4.0                       # % per second while the pump runs
    b.start_plants()
    col = Collector(broker.host, broker.port, [T.base('pt', 'fountain-1') + '#'])
    io = SimIO(b.io_port)
    try:
        assert col.wait(lambda t, p: t.endswith('/status') and p.get('online'), 10)
        col.client.publish(T.cmd('pt', 'fountain-1', 'pool'), '{"id": "s1", "op": "start"}', qos=1)
        assert evt(col, 'pump.started')
        stopped = evt(col, 'pump.stopped', reason='low_water')
        assert stopped, b.log_tail()
        assert io.get('pool.pump') == 0
        alarm = evt(col, 'pump.low_water', active=True)
        assert alarm and proto.errors('event', alarm[2]) == []
        assert basin.level < 20
        m = col.mark()
        basin.set('level', 60)                 # refilled
        cleared = evt(col, 'pump.low_water', active=False, start=m)
        assert cleared
        again = evt(col, 'pump.started', start=m)
        assert again, b.log_tail()
        waited = again[0] - cleared[0]
        assert 2.9 <= waited <= 3.6, 'restarted %.2f s after the level came back (restore_s=3)' % waited
        st = col.wait(lambda t, p: t == T.state('pt', 'fountain-1', 'pool') and p.get('state') == 'running', 5, m)
        assert st and proto.errors('state', st[2]) == []
    finally:
        io.close()
        col.close()
        b.stop_plants()


SCHED = """\
site: ps
broker: {host: 127.0.0.1, port: 1883}
devices:
  fountain-2:
    board: esp32-devkitc
    controllers:
      - name: pool
        type: pump
        pins: {low_level: 34, pump: 25}
        min_off_s: 0
        tz_offset_min: 60
        schedule: [{on: "18:00", off: "22:30", days: "mon-sun"}]
"""


def test_schedule_switches_on_at_18_00_local_on_the_boards_clock(make_board, broker):
    import datetime
    b = make_board(SCHED, 'fountain-2')
    b.start_plants()
    col = Collector(broker.host, broker.port, [T.base('ps', 'fountain-2') + '#'])
    io = SimIO(b.io_port)
    try:
        assert col.wait(lambda t, p: t.endswith('/status') and p.get('online'), 10)
        # 16:59:58 UTC is 17:59:58 local (tz_offset_min 60)
        when = datetime.datetime(2026, 11, 28, 16, 59, 58, tzinfo=datetime.timezone.utc)
        m = col.mark()
        io.clock(int(when.timestamp() * 1000))
        time.sleep(1.0)
        assert io.get('pool.pump') == 0, 'on before 18:00'
        started = evt(col, 'pump.started', timeout=5, start=m)
        assert started and started[2]['by'] == 'schedule'
        assert io.get('pool.pump') == 1
        stamp = datetime.datetime.fromtimestamp(started[2]['ts'] / 1000, datetime.timezone.utc)
        assert stamp.hour == 17 and stamp.minute == 0, stamp      # 18:00 local
    finally:
        io.close()
        col.close()
        b.stop_plants()
