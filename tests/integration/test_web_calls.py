"""A gate call through `edgectl web` (HTTP, real mosquitto, the call station's firmware on a
simulated board): the call rings on the page, the logged-in operator answers it (the board
names them), only they may release the gate, then hang up; each command journaled as theirs."""
import json
import time

from webkit import Web
from polling import until

SITE = """\
site: web
broker: {host: 127.0.0.1, port: %d}
devices:
  gate-1:
    board: esp32-devkitc
    controllers:
      - {name: callpoint, type: intercom, pins: {call: 4, strike: 13, led: 14}, strike_s: 1, debounce_ms: 20}
"""


def wait(pred, timeout=5.0):
    return until(pred, timeout, 0.02)


def test_a_gate_call_answered_released_and_hung_up_from_the_page(broker, make_board, tmp_path):
    from edgectl.sim.simio import SimIO
    web = Web(tmp_path, SITE % broker.port, broker=broker)
    try:
        io = SimIO(make_board(web.site_file.read_text(), 'gate-1', site_broker=True).io_port)
        ann, bob = web.client(), web.client()
        ann.login('ann')
        bob.login('bob')
        cmd = {'device': 'gate-1', 'ctrl': 'callpoint'}
        assert wait(lambda: (web.mon.devices.get('gate-1') or {}).get('online'), 15)
        io.set('callpoint.call', 1)              # the visitor presses the call button
        time.sleep(0.08)
        io.set('callpoint.call', 0)
        call = wait(lambda: ann.get('/api/state')[2]['calls'])
        assert call and call[0]['state'] == 'ringing', 'the call rings on the page'
        status, _, out = ann.post('/api/command', dict(cmd, op='answer', by='mallory'))
        assert status == 200, out
        answered = wait(lambda: [c for c in bob.get('/api/state')[2]['calls'] if c['state'] == 'answered'])
        assert answered and answered[0]['by'] == 'ann', 'the board was told who answered: the session\'s operator'
        assert bob.post('/api/command', dict(cmd, op='unlock'))[0] == 409, 'only who answered releases the gate'
        assert ann.post('/api/command', dict(cmd, op='unlock'))[0] == 200
        assert web.mon.wait_event('gate-1', 'intercom.unlock', 5) is not None, 'the gate released'
        assert ann.post('/api/command', dict(cmd, op='hangup'))[0] == 200
        assert web.mon.wait_event('gate-1', 'intercom.ended', 5) is not None
        assert wait(lambda: not ann.get('/api/state')[2]['calls'])
        web.store.flush()
        sent = [(r['operator'], json.loads(r['detail'])['op']) for r in web.store.table('actions') if r['action'] == 'command']
        assert sent == [('ann', 'answer'), ('ann', 'unlock'), ('ann', 'hangup')]
        assert all(r['ok'] == 1 for r in web.store.table('commands')), web.store.table('commands')
    finally:
        web.close()


def test_the_web_bench_measures_the_push_to_every_page():
    from edgectl.qa.bench import BENCHES
    out = BENCHES['web'].run(n=2, pages=2, burst=0)
    assert out['n'] == 2 and out['pages'] == 2 and out['every_page']['max_ms'] < 2000, out
    assert out['slowest_page']['p50_ms'] >= out['every_page']['min_ms'] > 0
