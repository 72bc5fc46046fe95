"""The control room's intake: the in-memory dedup journal (bounded however long it runs),
the bounded record list, the SQLite store's after-commit hook and the lean MQTT parser."""
import json
import random
import time
import sqlite3
import threading

import pytest

from edgectl.room import journal as journalmod
from edgectl.room.journal import Journal
from edgectl.core.mqttraw import RawSubscriber
from edgectl.core.proto import mqtt_packet
from edgectl.core.recorder import Recorder
from edgectl.room.store import Store


def ev(seq):
    return {'seq': seq, 'type': 'door.opened'}


def test_duplicates_gaps_and_out_of_order():
    j = Journal()
    assert j.admit('d', ev(1)) == ('new', None)
    assert j.admit('d', ev(2)) == ('new', None)
    assert j.admit('d', ev(5)) == ('new', (3, 4))
    assert j.admit('d', ev(2)) == ('dup', None)
    assert j.admit('d', ev(5)) == ('dup', None)
    assert j.gaps('d') == [(3, 4)]
    assert j.admit('d', ev(3)) == ('new', None)
    assert j.out_of_order == 1
    assert j.gaps('d') == [(4, 4)]
    assert j.gaps('d', 7) == [(4, 4), (6, 7)]
    assert j.has('d', 3) and not j.has('d', 4)
    assert j.highest('d') == 5 and j.count('d') == 4 and j.duplicates == 2
    assert j.admit('d', {'seq': 'x'}) == ('bad', None)
    assert j.admit('d', {'seq': True}) == ('bad', None)
    assert j.gaps('other', 3) == [(1, 3)]
    assert j.events['d'][5] == ev(5)


def test_memory_stays_bounded_and_matches_a_plain_set():
    """Random order with duplicates, checked against a set of everything seen; the state
    held per device is the watermark plus the few seqs above it."""
    rng = random.Random(7)
    j = Journal(keep=False)
    seqs = list(range(1, 20001))
    for k in range(0, len(seqs), 50):          # shuffled within windows of 50
        part = seqs[k:k + 50]
        rng.shuffle(part)
        seqs[k:k + 50] = part
    seen = set()
    for s in seqs + rng.sample(range(1, 20001), 500):
        verdict = j.add('d', ev(s))
        assert verdict == ('dup' if s in seen else 'new'), s
        seen.add(s)
    st = j.seen[('d', 0)]
    assert st.low == 20000 and not st.above and not st.holes
    assert j.events == {} and j.count('d') == 20000 and j.duplicates == 500


def test_a_hole_that_never_fills_is_given_up_but_a_late_event_is_still_new(monkeypatch):
    monkeypatch.setattr(journalmod, 'WINDOW', 10)
    j = Journal(keep=False)
    j.add('d', ev(1))
    for s in range(5, 20):               # 2..4 lost for now
        j.add('d', ev(s))
    st = j.seen[('d', 0)]
    assert len(st.above) <= 10 and st.holes == [[2, 4]] and st.low == 19
    assert j.gaps('d') == [(2, 4)]
    assert j.admit('d', ev(3)) == ('new', None)     # late, but kept
    assert j.admit('d', ev(3)) == ('dup', None)
    assert j.gaps('d') == [(2, 2), (4, 4)]


def test_recorder_keeps_the_newest_and_marks_stay_valid():
    r = Recorder(keep=10)
    for i in range(25):
        r.record(i)
    assert len(r.items) < 20 and r.items[-1] == 24
    m = r.mark()
    assert m == 25
    threading.Timer(0.05, r.record, args=(99,)).start()
    assert r.wait_for(lambda x: x == 99, 2, start=m) == 99
    assert r.wait_for(lambda x: x == 3, 0.05, start=0) is None     # dropped long ago


def test_store_runs_after_commit_hooks_only_after_a_good_commit(tmp_path):
    st = Store(tmp_path / 'j.sqlite3')
    ran = threading.Event()
    with st.hold():
        st.event('d', ev(1))
        st.event('d', ev(2))
    st.then(ran.set)
    assert ran.wait(5)
    assert st.count() == 2
    st.SQL = dict(st.SQL, event='INSERT INTO no_such_table VALUES (?,?,?,?,?,?,?,?,?)')
    bad = threading.Event()
    st.event('d', ev(3))
    st.then(bad.set)
    st.flush()
    assert not bad.is_set() and 'no_such_table' in st.error
    st.close()


def test_store_keeps_events_in_a_rowid_table(tmp_path):
    st = Store(tmp_path / 'j.sqlite3')
    st.close()
    db = sqlite3.connect(str(tmp_path / 'j.sqlite3'))
    sql = db.execute("SELECT sql FROM sqlite_master WHERE name='events'").fetchone()[0]
    assert 'WITHOUT ROWID' not in sql
    db.close()


def publish(topic, payload, qos=1, pid=1, retain=False):
    return mqtt_packet.publish_packet(topic, payload, qos, retain, pid)


@pytest.mark.parametrize('cut', [0, 1, 2, 3, 7, 150, 300])
def test_parser_takes_whole_packets_and_acks_qos1_ones(cut):
    big = b'x' * 200                          # a two-byte remaining length
    data = (publish('a/b', b'{"seq":1}', 1, 7) + publish('c', big, 0) + publish('r', b'1', 1, 258, True)
            + b'\xd0\x00')                    # a PINGRESP among them
    got, acks = [], b''
    rest = data[:cut]
    for chunk in (data[cut:],):
        batch, a, used = RawSubscriber.parse(rest)
        got += batch
        acks += a
        rest = rest[used:] + chunk
    batch, a, used = RawSubscriber.parse(rest)
    got += batch
    acks += a
    assert used == len(rest)
    assert got == [('a/b', b'{"seq":1}', False), ('c', big, False), ('r', b'1', True)]
    assert acks == b'\x40\x02\x00\x07' + b'\x40\x02\x01\x02'


def test_parser_passes_over_a_malformed_publish_and_reads_on():
    """The board's rules (protocols/mqtt_packet.py): a topic that is not UTF-8, or QoS 2, is no
    message; the packets after it still are."""
    data = (b'\x32\x07\x00\x02\xff\xfe\x00\x05x'         # QoS 1, topic not UTF-8
            + b'\x34\x06\x00\x01q\x00\x06y'               # QoS 2
            + publish('ok', b'1', 1, 9))
    batch, acks, used = RawSubscriber.parse(data)
    assert (batch, acks, used) == ([('ok', b'1', False)], b'\x40\x02\x00\x09', len(data))


def test_a_wiped_board_starts_a_new_log_and_its_events_are_not_taken_for_duplicates(tmp_path):
    j = Journal()
    for s in range(1, 6):
        assert j.add('d', {'seq': s, 'log': 77}) == 'new'
    assert j.admit('d', {'seq': 1, 'log': 91}) == ('new-log', None)      # flash erased: seq 1 again
    assert j.admit('d', {'seq': 2, 'log': 91}) == ('new', None)
    assert j.admit('d', {'seq': 2, 'log': 91}) == ('dup', None)
    assert j.highest('d') == 2 and j.count('d') == 7 and j.gaps('d') == []
    assert j.admit('d', {'seq': 3, 'log': 77}) == ('dup', None)          # the old log is still known
    assert j.admit('d', {'seq': 1, 'log': 'x'}) == ('bad', None)
    st = Store(tmp_path / 'j.sqlite3')
    st.event('d', {'seq': 1, 'log': 77, 'type': 'a'})
    st.event('d', {'seq': 1, 'log': 91, 'type': 'b'})
    st.event('d', {'seq': 1, 'log': 91, 'type': 'b'})
    st.flush()
    assert [(e['log'], e['type']) for e in st.query()] == [(77, 'a'), (91, 'b')]
    st.close()


def test_a_journal_from_before_log_ids_is_migrated(tmp_path):
    path = tmp_path / 'old.sqlite3'
    db = sqlite3.connect(str(path))
    db.executescript('''
        CREATE TABLE events (device TEXT NOT NULL, seq INTEGER NOT NULL, ts INTEGER, received REAL NOT NULL,
          ctrl TEXT, type TEXT, sev TEXT, active INTEGER, body TEXT NOT NULL,
          PRIMARY KEY (device, seq)) WITHOUT ROWID;
        CREATE INDEX events_received ON events (received);
        CREATE INDEX events_type ON events (type);
        CREATE TABLE gaps (device TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, found REAL,
          PRIMARY KEY (device, first));
        INSERT INTO events VALUES ('d', 1, 5, 100.0, 'front', 'door.opened', 'info', NULL, '{"seq": 1}');
        INSERT INTO gaps VALUES ('d', 2, 3, 101.0);''')
    db.commit()
    db.close()
    st = Store(path)
    st.event('d', {'seq': 1, 'log': 5, 'type': 'door.opened'})        # the new firmware's seq 1
    st.flush()
    assert st.count() == 2 and st.error is None
    assert [(g['device'], g['log'], g['first']) for g in st.table('gaps')] == [('d', 0, 2)]
    st.close()
    st = Store(path)                     # opening again changes nothing
    assert st.count() == 2
    st.close()


def test_backup_while_written_restore_refused_while_open_and_of_a_damaged_copy(tmp_path, capsys):
    from edgectl.room import store as st
    from edgectl.cli import main
    db = tmp_path / 'journal.sqlite3'
    live = Store(db)
    stop = threading.Event()

    def writer():
        s = 0
        while not stop.is_set():
            s += 1
            live.event('d', {'seq': s, 'log': 1, 'type': 'door.opened', 'sev': 'alarm' if s % 10 == 0 else 'info'})
            if s % 50 == 0:
                time.sleep(0.001)              # a busy site, not a spin holding the GIL
    t = threading.Thread(target=writer)
    t.start()
    try:
        end = time.monotonic() + 20
        while live.written < 500 and time.monotonic() < end:
            time.sleep(0.01)
        assert live.written >= 500, 'the store committed nothing'
        info = st.backup(db, tmp_path / 'b' / 'copy.sqlite3')     # while rows keep coming
    finally:
        stop.set()
        t.join()
    assert info['events'] > 0 and info['alarms'] == info['events'] // 10
    assert not (tmp_path / 'b' / 'copy.sqlite3-wal').exists(), 'a backup is one file'
    live.flush()
    assert main(['journal', 'restore', str(tmp_path / 'b' / 'copy.sqlite3'), '--db', str(db)]) == 1
    assert 'is open' in capsys.readouterr().err
    live.close()
    total = Store(db)
    n = total.count()
    total.close()
    bad = tmp_path / 'bad.sqlite3'
    bad.write_bytes(b'SQLite format 3\x00' + b'\x00' * 200)
    assert main(['journal', 'restore', str(bad), '--db', str(db)]) == 1
    assert 'unchanged' in capsys.readouterr().err
    assert main(['journal', 'restore', str(tmp_path / 'b' / 'copy.sqlite3'), '--db', str(db)]) == 0
    out = capsys.readouterr().out
    assert 'restored' in out and (tmp_path / 'journal.sqlite3.replaced').exists()
    back = Store(db)
    assert back.count() == info['events'] <= n
    back.close()
    assert main(['journal', 'backup', '--db', str(db), '--to', str(tmp_path / 'again.sqlite3'), '--json']) == 0
    assert json.loads(capsys.readouterr().out)['events'] == info['events']


def test_scheduled_backups_keep_the_newest(tmp_path):
    from edgectl.room import store as st
    Store(tmp_path / 'j.sqlite3').close()
    b = st.Backups(tmp_path / 'j.sqlite3', tmp_path / 'bk', 3600, 2)
    assert b.due()
    for k in range(4):
        b.take(now=1795800000 + k * 3600)
    assert not b.due(now=1795800000 + 3 * 3600 + 10)
    assert len(list((tmp_path / 'bk').glob('journal-*.sqlite3'))) == 2
