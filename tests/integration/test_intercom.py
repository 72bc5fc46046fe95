"""Gate call stations on a simulated board, against real mosquitto: a press reaches the
control room as a call, the operator answers and releases the gate (strike pulse seen on
the wire), a second operator is refused, two stations never mix, a shorted line is a fault
and its presses are ignored, and a call made offline shows "no answer" and is delivered
when the network returns."""
import time

from edgectl.core import commands, proto
from edgectl.core.broker import Broker, free_port
from edgectl.core.mqttc import Collector
from edgectl.sim.simio import EdgeWatcher, SimIO

T = proto.topics
SITE = """\
site: ic
broker: {host: 127.0.0.1, port: 1883}
devices:
  gate-1:
    board: esp32-devkitc
    controllers:
      - {name: east, type: intercom, pins: {call: 4, line: 34, strike: 25, led: 26}, strike_s: 1, debounce_ms: 20}
      - {name: west, type: intercom, pins: {call: 13, strike: 27, led: 14}, debounce_ms: 20}
"""


def press(io, name):
    io.set(name, 1)
    time.sleep(0.08)
    io.set(name, 0)


def cmd(broker, ctrl, op, **args):
    return commands.send(broker.endpoint(), 'ic', 'gate-1', ctrl, op, args)


def test_call_answer_unlock_and_two_stations(make_board, broker):
    b = make_board(SITE, 'gate-1')
    col = Collector(broker.host, broker.port, [T.base('ic', 'gate-1') + '#'])
    io = SimIO(b.io_port)
    io.set('east.line', 33)                      # a healthy end-of-line resistor
    watch = EdgeWatcher(b.io_port)
    try:
        assert col.wait(lambda t, p: t.endswith('/status') and p.get('online'), 10), b.log_tail()
        time.sleep(0.3)                          # the line's band settles (debounce 20 ms)
        press(io, 'east.call')
        call = col.event('intercom.call', ctrl='east')
        assert call, b.log_tail()
        assert proto.errors('event', call[2]) == []
        cid = call[2]['call']
        press(io, 'west.call')
        wcall = col.event('intercom.call', ctrl='west')
        assert wcall
        ring = col.wait(lambda t, p: t == T.state('ic', 'gate-1', 'east') and p.get('call') == 'ringing', 5)
        assert ring and ring[2]['call_id'] == cid

        assert cmd(broker, 'east', 'answer', call=cid, by='desk-1')['ok']
        second = cmd(broker, 'east', 'answer', call=cid, by='desk-2')
        assert not second['ok'] and 'already answered by desk-1' in second['err']
        assert col.event('intercom.answered', ctrl='east', call=cid, by='desk-1')
        assert col.event('system.cmd_rejected')

        # the west call is still ringing and unanswered: its unlock is refused
        r = cmd(broker, 'west', 'unlock', call=wcall[2]['call'])
        assert not r['ok'] and 'not answered' in r['err']
        assert io.get('west.strike') == 0

        m = len(watch.edges)
        assert cmd(broker, 'east', 'unlock', call=cid)['ok']
        on = watch.wait('east.strike', 1, 3, m)
        off = watch.wait('east.strike', 0, 3, m)
        assert on and off, watch.edges[m:]
        assert 0.9 <= (off[3] - on[3]) / 1e6 <= 1.2, 'strike pulse %d us for strike_s 1' % (off[3] - on[3])
        assert col.event('intercom.unlock', ctrl='east', call=cid)
        assert io.get('west.strike') == 0, 'the other station never moved'

        assert cmd(broker, 'east', 'hangup', call=cid)['ok']
        ended = col.event('intercom.ended', ctrl='east', call=cid)
        assert ended and ended[2]['reason'] == 'hangup'
        assert cmd(broker, 'west', 'hangup', call=wcall[2]['call'])['ok']
        assert col.event('intercom.ended', ctrl='west', reason='hangup')
        assert len(col.events('intercom.ended')) == 2
    finally:
        watch.close()
        io.close()
        col.close()


def test_shorted_line_is_a_fault_and_its_presses_are_ignored(make_board, broker):
    b = make_board(SITE.replace('site: ic', 'site: is'), 'gate-1')
    col = Collector(broker.host, broker.port, [T.base('is', 'gate-1') + '#'])
    io = SimIO(b.io_port)
    try:
        io.set('east.line', 33)
        assert col.wait(lambda t, p: t.endswith('/status') and p.get('online'), 10)
        time.sleep(0.3)
        m = col.mark()
        io.set('east.line', 2)                   # shorted
        fault = col.event('intercom.fault', active=True, start=m)
        assert fault and fault[2]['reason'] == 'line_short' and fault[2]['sev'] == 'alarm'
        for _ in range(5):
            press(io, 'east.call')
            time.sleep(0.05)
        st = col.wait(lambda t, p: t == T.state('is', 'gate-1', 'east') and p.get('ignored_presses') == 5, 5)
        assert st, 'presses not counted as ignored'
        assert col.events('intercom.call') == []
        io.set('east.line', 33)
        assert col.event('intercom.fault', active=False, start=m)
        press(io, 'east.call')
        assert col.event('intercom.call', ctrl='east')
    finally:
        io.close()
        col.close()


def test_offline_call_shows_no_answer_and_is_delivered_later(make_board, tmp_path):
    nb = Broker(port=free_port(), workdir=tmp_path / 'broker', persistence=True)
    site = SITE.replace('site: ic', 'site: io').replace('port: 1883', 'port: %d' % nb.port)
    site = site.replace('strike_s: 1,', 'strike_s: 1, ring_timeout_s: 5,')
    nb.start()
    col = Collector(nb.host, nb.port, [T.base('io', 'gate-1') + 'evt/#'], client_id='room-io',
                    clean_session=False)
    col.close()
    nb.stop()                                    # the network is down before the board boots
    b = make_board(site, 'gate-1', site_broker=True)
    io = SimIO(b.io_port)
    watch = EdgeWatcher(b.io_port)
    try:
        io.set('east.line', 33)
        time.sleep(0.2)
        press(io, 'east.call')
        time.sleep(0.3)
        m = len(watch.edges)
        time.sleep(2.0)
        ons = [e for e in watch.edges[m:] if e[1] == 'east.led' and e[2] == 1]
        assert 3 <= len(ons) <= 5, 'two short flashes a second: %d flashes in 2 s' % len(ons)
        lit = [(e2[3] - e1[3]) / 1000 for e1, e2 in zip(watch.edges[m:], watch.edges[m + 1:])
               if e1[1] == e2[1] == 'east.led' and e1[2] == 1]
        assert lit and max(lit) < 150, 'flashes of ~100 ms: %r' % lit
        time.sleep(3.5)                          # ring_timeout_s 5 from the press
        nb.start()
        col = Collector(nb.host, nb.port, [T.base('io', 'gate-1') + 'evt/#'], client_id='room-io',
                        clean_session=False)
        call = col.event('intercom.call', 20)
        assert call, b.log_tail()
        ended = col.event('intercom.ended', 10, call=call[2]['call'])
        assert ended and ended[2]['reason'] == 'timeout'
        assert 4 <= ended[2]['ts'] / 1000 - call[2]['ts'] / 1000 <= 6
        col.close()
    finally:
        watch.close()
        io.close()
        nb.stop()
