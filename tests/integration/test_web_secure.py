"""`edgectl web` as a site runs it: a secured broker (password file and ACL from the site's
secrets), the board with its own login and command key, the operators' logins. The web
logs in to the broker as the control room, an operator logs in to the page, and the door
unlock sent from the page, and a card issued at its card desk, are signed with the board's key
and accepted by the firmware."""
import subprocess
import sys
import time

import pytest

from edgectl.core import proto, secrets
from edgectl.core import site as sitemod
from edgectl.core.broker import Broker, free_port
from edgectl.room import fire
from edgectl.sim.sim import SimBoard, Supervisor
from webkit import Client, hashed

T = proto.topics
SITE = """\
site: sec
broker: {host: 127.0.0.1, port: %d}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25, reader_d0: 16, reader_d1: 17}, debounce_ms: 20, unlock_s: 3}
"""


@pytest.fixture
def secure_site(tmp_path):
    port = free_port(pair=True)
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % port)
    s = sitemod.load_valid(site)
    secrets.ensure(site, sorted(s.devices))
    secrets.set_operator(site, 'ann', hashed('ann'))
    sec = secrets.load(site)
    br = Broker(port=port, workdir=tmp_path / 'broker', site='sec', secrets=sec, raisers=fire.raisers(s)).start()
    b = SimBoard(sitemod.device_config(s, 'lobby-1'), tmp_path / 'lobby-1', secret=secrets.board_file(sec, 'lobby-1')).start()
    sup = Supervisor([b])
    yield site, sec, br
    sup.stop()
    b.stop()
    br.stop()


def test_a_door_unlocked_from_the_page_is_signed_and_accepted_on_a_secured_site(secure_site, tmp_path):
    site, sec, br = secure_site
    p = subprocess.Popen([sys.executable, '-m', 'edgectl.cli', 'web', '--site', str(site), '--port', '0', '--db',
                          str(tmp_path / 'j.sqlite3'), '--duration', '30'], cwd=tmp_path, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    col = br.endpoint((sec['room']['user'], sec['room']['password']), room=True).collector([T.site_filter('sec')], 'room')
    try:
        line = p.stdout.readline()
        assert 'open http://127.0.0.1:' in line, line + p.stderr.read()
        page = Client(int(line.split('open http://127.0.0.1:')[1].split('/')[0]))
        assert page.login('ann')[0] == 200
        end = time.monotonic() + 15
        while time.monotonic() < end:
            devs = {d['id']: d for d in page.get('/api/state')[2]['devices']}
            if devs['lobby-1']['online']:
                break
            time.sleep(0.1)
        assert devs['lobby-1']['online'], 'the web reads the secured site as the control room'
        status, _, out = page.post('/api/command', {'device': 'lobby-1', 'ctrl': 'front', 'op': 'unlock'})
        assert status == 200, out
        ack = col.wait(lambda t, m: t == T.ack('sec', 'lobby-1', 'front') and isinstance(m, dict)
                       and m.get('id') == out['id'], 10)
        assert ack is not None, 'no ack from the board'
        assert ack[2]['ok'] is True, 'the board refused the page\'s command: %s' % ack[2]
        sent = col.wait(lambda t, m: t == T.cmd('sec', 'lobby-1', 'front') and isinstance(m, dict), 1)
        assert sent and 'sig' in sent[2] and 'ctr' in sent[2], 'signed with the board\'s key'
        # the card desk: a card issued from the page goes to the board, signed with its key
        status, _, out = page.post('/api/cards/issue', {'card': '1234567', 'holder': 'Ann Lee', 'doors': ['lobby-1/front']})
        assert status == 200 and out['pushed'] == {'lobby-1': 1} and out['failed'] == {}, out
        assert page.get('/api/cards')[2]['boards'] == {'lobby-1': 1}
    finally:
        col.close()
        p.terminate()
        p.wait(15)
