"""The front desk's card list (host/room/cards.py) and `edgectl cards` without a board:
the file keeps no card number and no PIN, versions and deltas, holders, door groups from the
site file, refusals with their exit codes, swipe records from the journal."""
import json
import stat
import time

import pytest

from edgectl.cli import main
from edgectl.core import proto
from edgectl.core import site as sitemod
from edgectl.core.errors import EdgeError
from edgectl.room import cards
from edgectl.room.store import Store

R = proto.cardrec
SITE = """\
site: fd
broker: {host: 127.0.0.1, port: 1}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25, reader_d0: 16, reader_d1: 17}, access_group: 3}
  gate-1:
    board: esp32-devkitc
    controllers:
      - {name: entry, type: barrier, pins: {beam: 34, up_limit: 32, down_limit: 33, motor_up: 25, motor_down: 26,
         eye_tx: 27, reader_d0: 16, reader_d1: 17}, reader_dir: 1}
  lobby-2:
    board: esp32-devkitc
    controllers:
      - {name: rear, type: door, pins: {contact: 4, lock: 25}}
"""


@pytest.fixture
def sitefile(tmp_path):
    p = tmp_path / 'site.yaml'
    p.write_text(SITE)
    return p


def test_the_list_keeps_no_number_and_no_pin(sitefile):
    db = cards.CardDB(sitefile)
    k, rec = db.issue('W26:1234567', 'Ann Lee', 8, pin='2580')
    db.save()
    p = cards.path_for(sitefile)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    text = p.read_text()
    assert '1234567' not in text and '2580' not in text and 'Ann Lee' in text
    assert k == R.key(db.salt, 'W26:1234567').hex() and len(db.salt) == 16
    assert rec['pin'] == R.pin_hash(db.salt, bytes.fromhex(k), '2580')
    again = cards.CardDB(sitefile)
    assert again.salt == db.salt and again.version == 1


def test_versions_and_deltas(sitefile):
    db = cards.CardDB(sitefile)
    db.issue('1', 'Ann', 1)
    db.issue('W34:2', 'Bob', 1, uses=5)
    db.issue('3', 'Cy', 1)
    assert db.version == 3
    frm, to, parts = db.delta(0)
    assert (frm, to, len(parts[0])) == (0, 3, 3)
    assert [r[:8] for r in parts[0]] == sorted(r[:8] for r in parts[0]), 'records in key order'
    db.set_state('1', 'lost')
    frm, to, parts = db.delta(3)
    assert (frm, to) == (3, 4) and len(parts) == 1 and len(parts[0]) == 1
    r = R.unpack(parts[0][0])
    assert r[9] & 3 == R.LOST and r[1] == db.holder_id('Ann')
    assert db.delta(9)[0] == 0, 'a board at a version we never made gets everything'
    many = cards.CardDB(sitefile)
    for i in range(40):
        many.issue(str(i), 'H%d' % i, 1)
    assert [len(p) for p in many.delta(0)[2]] == [16, 16, 8], 'parts a board takes in one message'
    assert len(json.dumps({'recs': b''.join(many.delta(0)[2][0]).hex()})) < 1500


def test_uses_revision_tells_the_board_when_to_take_a_new_count(sitefile):
    db = cards.CardDB(sitefile)
    k, a = db.issue('7', 'Ann', 1, uses=3)
    k, b = db.issue('7', 'Ann', 1)              # a change without --uses: the board keeps its count
    assert b['uses_rev'] == a['uses_rev']
    k, c = db.issue('7', 'Ann', 1, uses=10)     # a new count
    assert c['uses_rev'] == a['uses_rev'] + 1


def test_doors_map_to_their_groups(sitefile):
    site = sitemod.load_valid(sitefile)
    assert cards.reader_devices(site) == {'lobby-1': [('front', 3)], 'gate-1': [('entry', 0)]}
    assert cards.groups_of(site, ['lobby-1/front', 'gate-1/entry']) == (1 << 3) | 1
    with pytest.raises(EdgeError) as e:
        cards.groups_of(site, ['lobby-2/rear'])
    assert e.value.code == 2 and 'lobby-1/front' in str(e.value)


def test_cli_changes_and_refusals(sitefile, capsys):
    s = ['--site', str(sitefile)]
    assert main(['cards', 'issue', 'W26:1234567', '--holder', 'Ann', '--doors', 'lobby-1/front',
                 '--days', 'mon-fri', '--hours', '08:00-18:00', '--until', '2027-01-01', '--no-push'] + s) == 0
    assert main(['cards', 'issue', '42', '--holder', 'Bob', '--groups', '0', '--uses', '2', '--no-push'] + s) == 0
    assert main(['cards', 'lost', '42', '--no-push'] + s) == 0
    capsys.readouterr()
    assert main(['cards', 'list', '--json'] + s) == 0
    out = json.loads(capsys.readouterr().out)
    assert out['version'] == 3
    rows = {r['holder_name']: r for r in out['cards']}
    assert rows['Bob']['state'] == 'lost' and rows['Ann']['window'] == [0x1f, 480, 1080]
    for argv, code in ((['cards', 'revoke', '99', '--no-push'], 1),                         # no such card
                       (['cards', 'issue', 'x12', '--holder', 'A', '--groups', '1'], 2),     # not a card number
                       (['cards', 'issue', 'W26:16777216', '--holder', 'A', '--groups', '1'], 2),  # 24 bits
                       (['cards', 'issue', '5', '--holder', 'A'], 2),                         # opens nothing
                       (['cards', 'issue', '5', '--holder', 'A', '--doors', 'lobby-2/rear'], 2),  # no reader
                       (['cards', 'issue', '5', '--holder', 'A', '--groups', '32'], 2),
                       (['cards', 'issue', '5', '--holder', 'A', '--groups', '1', '--hours', '8-18'], 2),
                       (['cards', 'push', 'lobby-2'], 2)):
        assert main(argv + s) == code, argv
        assert 'edgectl: ' in capsys.readouterr().err
    assert cards.CardDB(sitefile).version == 3, 'refusals changed nothing'


def test_swipes_from_the_journal(sitefile, tmp_path, capsys):
    db = cards.CardDB(sitefile)
    k, _ = db.issue('W26:55', 'Ann', 8)
    db.save()
    j = tmp_path / 'journal.sqlite3'
    st = Store(str(j))
    now = time.time()
    evs = [('lobby-1', {'seq': 1, 'ts': 1, 'type': 'access.granted', 'sev': 'info', 'ctrl': 'front', 'card': k,
                        'holder': db.holder_id('Ann'), 'by': 'card'}),
           ('lobby-1', {'seq': 2, 'ts': 2, 'type': 'access.denied', 'sev': 'warn', 'ctrl': 'front',
                        'card': 'ab' * 8, 'reason': 'unknown'}),
           ('gate-1', {'seq': 1, 'ts': 3, 'type': 'access.denied', 'sev': 'warn', 'ctrl': 'entry', 'card': k,
                       'holder': db.holder_id('Ann'), 'reason': 'anti_passback'}),
           ('lobby-1', {'seq': 3, 'ts': 4, 'type': 'door.opened', 'sev': 'info', 'ctrl': 'front'})]
    for i, (dev, ev) in enumerate(evs):
        st.event(dev, ev, received=now + i)
    st.flush()
    st.close()
    capsys.readouterr()
    assert main(['cards', 'swipes', '--db', str(j), '--json', '--site', str(sitefile)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [(e['device'], e['type'], e.get('holder_name')) for e in got] == [
        ('lobby-1', 'access.granted', 'Ann'), ('lobby-1', 'access.denied', None), ('gate-1', 'access.denied', 'Ann')]
    assert main(['cards', 'swipes', '--db', str(j), '--door', 'gate-1', '--site', str(sitefile)]) == 0
    out = capsys.readouterr().out
    assert 'anti_passback' in out and '…55' in out and 'lobby-1' not in out


def test_a_card_reader_counts_in_the_heap_check(tmp_path, monkeypatch):
    """On a chip whose heap leaves the plain door just enough in the lib layout, the door with
    a reader does not fit it (the table's reader bytes): validation says it needs the ROMFS
    layout, with a card reader in its figures."""
    import math
    from edgectl.core import boards, heapfit
    room = heapfit.predict(['door'], 'lib')['running'] + heapfit.MIN_FREE_KB * 1024
    real = boards.load
    monkeypatch.setattr(boards, 'load', lambda name: dict(real(name), heap_kb=math.ceil(room / 1024.0)))
    plain = SITE.split('  lobby-2:')[0].replace(', reader_d0: 16, reader_d1: 17', '')
    for text, has_reader in ((plain, False), (SITE, True)):
        s = sitemod.parse(text, 'site.yaml')
        sitemod.validate(s)
        msgs = [str(p) for p in s.warnings if 'lobby-1' in str(p)]
        romfs_lib = [m for m in msgs if 'ROMFS' in m]
        assert bool(romfs_lib) == has_reader, msgs
        if has_reader:
            assert 'with a card reader' in romfs_lib[0]


def test_import_takes_all_rows_or_none(sitefile, tmp_path, capsys):
    good = tmp_path / 'cards.csv'
    good.write_text('card,holder,doors,groups,from,until,days,hours,uses\n'
                    'W26:100,Ann,lobby-1/front gate-1/entry,,,,,,\n'
                    '101,Bob,,1 2,2026-12-01,2027-01-01,mon-fri,08:00-18:00,\n'
                    'W34:102,Visitor 7,gate-1/entry,,,,,,3\n')
    bad = tmp_path / 'bad.csv'
    bad.write_text('card,holder,groups\nW26:200,Cy,1\nW26:x,Dee,1\n')
    s = ['--site', str(sitefile), '--no-push']
    assert main(['cards', 'import', str(bad)] + s) == 2
    assert 'bad.csv line 3' in capsys.readouterr().err
    assert not cards.path_for(sitefile).exists(), 'nothing imported'
    assert main(['cards', 'import', str(good)] + s) == 0
    db = cards.CardDB(sitefile)
    rows = {r['holder_name']: r for r in db.rows()}
    assert rows['Ann']['groups'] == (1 << 3) | 1 and rows['Bob']['groups'] == 6
    assert rows['Bob']['window'] == [0x1f, 480, 1080] and rows['Visitor 7']['uses'] == 3
    assert len(db.delta(0)[2][0]) == 3
