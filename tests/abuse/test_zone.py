"""Arming and disarming an intrusion zone on a secured site (real mosquitto with the site's
password files and ACL, a simulated board with a door and a zone): one command arms; the
disarm goes out only after the operator's PIN matched its hash (the secrets file never holds
the PIN), and the board takes only a disarm signed with its own key: an unsigned one, one
signed with another board's key, or one after a wrong PIN leave the zone armed."""
import json
import os
import re
import subprocess
import sys

import pytest

from edgectl.core import proto, secrets
from edgectl.core import site as sitemod
from edgectl.core.broker import Broker, free_port
from edgectl.core.commands import send as send_cmd
from edgectl.core.errors import EdgeError
from edgectl.core.mqttc import Collector
from edgectl.room import pins, pinguard
from edgectl.sim.sim import SimBoard
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: zn
broker: {host: 127.0.0.1, port: %d}
devices:
  vault-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 20}
      - {name: vault, type: zone, members: front.contact, exit_s: 0, entry_s: 1, pins: {armed: 26}}
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: rear, type: door, pins: {contact: 4, lock: 25}}
"""


def edgectl(path, *args, pin=None):
    env = dict(os.environ)
    env.pop('EDGE_OPERATOR_PIN', None)
    if pin is not None:
        env['EDGE_OPERATOR_PIN'] = pin
    return subprocess.run([sys.executable, '-m', 'edgectl.cli', 'zone'] + list(args) + ['--site', str(path)],
                          cwd=path.parent, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def secured(tmp_path):
    port = free_port(pair=True)
    path = tmp_path / 'site.yaml'
    path.write_text(SITE % port)
    site = sitemod.load_valid(path)
    sec, _ = secrets.ensure(path, sorted(site.devices))
    br = Broker(port=port, workdir=tmp_path / 'broker', site='zn', secrets=sec).start()
    room_auth = (sec['room']['user'], sec['room']['password'])
    room = Collector(br.host, br.room_port, [T.site_filter('zn')], 'room', auth=room_auth)
    board = SimBoard(sitemod.device_config(site, 'vault-1'), tmp_path / 'vault-1',
                     secret=secrets.board_file(sec, 'vault-1')).start()
    io = SimIO(board.io_port)
    try:
        assert room.wait(lambda t, p: t == T.status('zn', 'vault-1') and isinstance(p, dict) and p.get('online'),
                         15), board.log_tail()
        yield path, sec, br, room, io, br.endpoint(room_auth, room=True)
    finally:
        io.close()
        room.close()
        board.stop()
        br.stop()


def test_pin_is_kept_hashed_and_checked_before_a_signed_disarm(secured, abuse):
    path, sec, br, room, io, ep = secured
    r = edgectl(path, 'pin', 'ann', pin='4821')
    assert r.returncode == 0, r.stderr
    text = secrets.path_for(path).read_text()
    assert '4821' not in text and 'pbkdf2_sha256$' in text, 'only a salted hash of the PIN is kept'
    assert edgectl(path, 'pin', 'ann', pin='12ab').returncode == 2, 'a PIN is digits'

    m = room.mark()
    r = edgectl(path, 'arm', 'vault', '--by', 'ann')
    assert r.returncode == 0, r.stdout + r.stderr
    arming = room.event('zone.arming', 5, m)
    assert arming and arming[2]['by'] == 'ann'

    forged = [('unsigned', None), ("another board's key", secrets.cmd_key(sec, 'lobby-1'))]
    for what, key in forged:
        ack = send_cmd(ep, 'zn', 'vault-1', 'vault', 'disarm', {'by': 'mallory'}, key=key)
        abuse.input(refused=not ack.get('ok'))
        assert not ack.get('ok'), 'a disarm %s was taken' % what
    for wrong in ('0000', '48210', ''):
        r = edgectl(path, 'disarm', 'vault', '--by', 'ann', pin=wrong)
        abuse.input(refused=r.returncode != 0)
        assert r.returncode == 1 and 'wrong PIN' in r.stderr, r.stdout + r.stderr
    r = edgectl(path, 'disarm', 'vault', '--by', 'bob', pin='4821')
    abuse.input(refused=r.returncode != 0)
    assert r.returncode == 1, "ann's PIN does not disarm as bob"
    assert room.event('zone.disarmed', 1, m) is None, 'still armed after every refused disarm'

    io.set('front.contact', 1)                  # opened with a key: still an intrusion once armed
    entry = room.event('zone.entry', 5, m)
    alarm = room.event('zone.intrusion', 5, m, active=True)
    assert entry and alarm and alarm[2]['member'] == 'front.contact'
    assert proto.errors('event', alarm[2]) == []
    r = edgectl(path, 'disarm', 'vault', '--by', 'ann', pin='4821')
    assert r.returncode == 0, r.stdout + r.stderr
    done = room.event('zone.disarmed', 5, m)
    cleared = room.event('zone.intrusion', 5, m, active=False)
    assert done and done[2]['by'] == 'ann' and cleared and cleared[2]['by'] == 'ann'


def test_pin_hashes():
    h = pins.hash_pin('4821')
    assert pins.matches(h, '4821') and not pins.matches(h, '4822')
    assert h != pins.hash_pin('4821'), 'salted'
    for bad in ('', 'x', 'pbkdf2_sha256$1$zz$00', 'md5$1000$00$00', None):
        assert not pins.matches(bad, '4821')
    assert not pins.check({}, 'ann', '4821') and not pins.check(None, 'ann', '4821')
    with pytest.raises(EdgeError):
        pins.set_pin('/nonexistent/site.yaml', 'ann', '4821')


def journal_rows(path, etype):
    import sqlite3
    db = sqlite3.connect(str(path.parent / '.edgectl' / 'journal.sqlite3'))
    try:
        return [(a, json.loads(b)) for a, b in db.execute(
            'SELECT active, body FROM room_alarms WHERE type=? ORDER BY id', (etype,))]
    finally:
        db.close()


def test_wrong_pins_lock_the_zone_across_processes_and_are_journaled(secured, abuse):
    """Guessing PINs: six guesses at once from six processes; the fifth locks the zone and the
    operator for LOCKOUT_S; then even the right PIN is refused (saying for how long), a right
    PIN under another operator's name does not clear the zone, and only the administrator's
    `zone unlock` ends it. Every wrong PIN and each lockout is in the journal."""
    path, sec, br, room, io, ep = secured
    assert edgectl(path, 'pin', 'ann', pin='4821').returncode == 0
    assert edgectl(path, 'pin', 'bob', pin='7302').returncode == 0
    m = room.mark()
    assert edgectl(path, 'arm', 'vault', '--by', 'ann').returncode == 0
    env = dict(os.environ, EDGE_OPERATOR_PIN='0000')
    guesses = [subprocess.Popen([sys.executable, '-m', 'edgectl.cli', 'zone', 'disarm', 'vault', '--by', 'ann',
                                 '--site', str(path)], cwd=path.parent, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(pinguard.LIMIT + 1)]
    errs = [p.communicate(timeout=60)[1] for p in guesses]
    for p, err in zip(guesses, errs):
        abuse.input(refused=p.returncode == 1)
        assert p.returncode == 1 and 'nothing sent' in err, err
    locked = ['%d wrong PINs: zone vault locked for 15 min 0 s' % pinguard.LIMIT in e for e in errs]
    assert sum(locked) == 1, errs                 # (a sixth may find it locked: 'locked for ... more')
    assert 'operator ann locked for 15 min 0 s' in errs[locked.index(True)], errs
    wrong = journal_rows(path, 'room.pin_wrong')
    assert len(wrong) >= pinguard.LIMIT and all(b['zone'] == 'vault' and b['by'] == 'ann' for a, b in wrong)
    n = list(range(1, pinguard.LIMIT + 1))      # (a sixth counted after the lock starts a new count)
    assert sorted(b['count'] for a, b in wrong) in (n, sorted(n + [1])), wrong
    locks = journal_rows(path, 'room.pin_lockout')
    assert sorted(b['locked'] for a, b in locks) == ['operator ann', 'zone vault'] and all(a for a, b in locks)
    assert oct(pinguard.path_for(path).stat().st_mode & 0o777) == '0o600'

    r = edgectl(path, 'disarm', 'vault', '--by', 'ann', pin='4821')      # the right PIN, during the lockout
    abuse.input(refused=r.returncode == 1)
    assert r.returncode == 1 and re.search(r'locked for 1[45] min \d+ s more .* edgectl zone unlock', r.stderr), \
        r.stderr
    r = edgectl(path, 'disarm', 'vault', '--by', 'bob', pin='7302')      # another operator's right PIN
    abuse.input(refused=r.returncode == 1)
    assert r.returncode == 1 and 'zone vault' in r.stderr, r.stderr
    assert room.event('zone.disarmed', 0.5, m) is None, 'the zone stays armed through the lockout'

    r = edgectl(path, 'unlock', 'vault')            # the administrator
    assert r.returncode == 0 and 'zone vault' in r.stdout, r.stdout + r.stderr
    assert journal_rows(path, 'room.pin_lockout')[-1] == (0, {'locked': 'zone vault', 'by': 'administrator',
                                                               'unlocked': True})
    r = edgectl(path, 'disarm', 'vault', '--by', 'bob', pin='7302')
    assert r.returncode == 0, r.stdout + r.stderr
    assert room.event('zone.disarmed', 5, m)


def test_the_pin_limit_counts_per_zone_and_operator_within_its_window(tmp_path):
    g = pinguard.Guard(tmp_path / 'site.yaml', limit=3, window_s=60, lockout_s=300)
    assert g.wrong('vault', 'ann', now=0) == (1, [])
    assert g.wrong('vault', 'ann', now=70) == (1, []), 'the first one fell out of the window'
    assert g.wrong('vault', 'bob', now=80) == (2, [])
    g.right('bob')
    assert g.wrong('vault', 'cat', now=90) == (3, [('zone vault', 300)]), 'a right PIN does not clear the zone'
    assert g.locked('vault', 'dan', now=91) == (299, 'zone vault')
    assert g.locked('shop', 'dan', now=91) == (0, None)
    assert g.wrong('shop', 'ann', now=95) == (1, [])
    assert g.wrong('yard', 'ann', now=97) == (1, [('operator ann', 300)]), 'one operator guessing on many zones'
    assert g.locked('yard', 'ann', now=100)[1] == 'operator ann'
    assert g.locked('vault', 'dan', now=390) == (0, None), 'over after lockout_s'
    again = pinguard.Guard(tmp_path / 'site.yaml')      # another process: the same counts
    assert again.locked('yard', 'ann', now=100)[1] == 'operator ann'
    assert again.unlock('ann') == ['operator ann'] and again.locked('yard', 'ann', now=100) == (0, None)
    pinguard.path_for(tmp_path / 'site.yaml').write_text('{not json')
    assert g.locked('shop', 'x')[1] == 'damaged', 'a damaged file locks rather than opens'
    assert pinguard.span(900) == '15 min 0 s' and pinguard.span(0.2) == '1 s'
