"""The journal's and the monitor's intake against malformed messages from a board's own
login (issue 15, finding 3), a damaged journal file (finding 9), against real mosquitto with
the site's password file and ACL: what cannot be journaled is set aside in `quarantine`
(kept raw, counted, room.malformed), acknowledged, and the journal goes on; a restart gets
nothing that kills it; SIGTERM ends it; a damaged journal file is set aside at open."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from edgectl.room import fire
from edgectl.core import mqttc, proto, secrets
from edgectl.core import site as sitemod
from edgectl.core.broker import Broker, free_port
from edgectl.room.monitor import Monitor
from edgectl.room.roomview import RoomView
from edgectl.room.store import Store
from polling import until

T = proto.topics
SITE = """\
site: jq
broker: {host: 127.0.0.1, port: %d}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
"""
EVT = T.evt('jq', 'lobby-1', 'front')


def event(seq, **kw):
    return dict({'seq': seq, 'ts': 1764288000000 + seq, 'type': 'door.opened', 'sev': 'info', 'ctrl': 'front'}, **kw)


def nested(depth):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


# what a stolen board (or a broken one) can publish on its own evt topic
BAD = [
    b'[]',
    b'{}',
    json.dumps(event(2 ** 70)).encode(),                     # beyond SQLite's 64 bits
    json.dumps(event(-1)).encode(),
    json.dumps(event(3, note='x' * 100000)).encode(),         # 100 KB
    b'\xff\xfe{"seq": 4}',                                    # not UTF-8
    json.dumps(event(5, junk=nested(50))).encode(),           # nested junk in a field
    b'[' * 5000 + b']' * 5000,                                # nested past the parser's recursion limit
    json.dumps(event(6, ts='soon')).encode(),
    b'{"seq": 7, "ts": 1, "type": "door.opened", "sev": "info", "ctrl": "front", "x": NaN}',
    json.dumps(event(8, type='door.forced', sev='alarm')).encode(),   # an alarm without active
    b'"just a string"',
]


@pytest.fixture
def secure(tmp_path):
    port = free_port(pair=True)      # the boards' listener, and the control room's on port + 1
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % port)
    s = sitemod.load_valid(site)
    sec, _ = secrets.ensure(site, sorted(s.devices))
    br = Broker(port=port, workdir=tmp_path / 'broker', site='jq', secrets=sec, raisers=fire.raisers(s)).start()
    yield site, sec, br
    br.stop()


def board_login(br, sec):
    """The board's own credentials, as a stolen board has them."""
    return mqttc.connect(br.host, br.port, 'thief', auth=('lobby-1', sec['devices']['lobby-1']['mqtt_password']))


def publish(c, topic, payloads):
    for p in payloads:
        c.publish(topic, p, qos=1).wait_for_publish(5)


def rows(db, sql):
    if not os.path.exists(db):
        return []
    c = sqlite3.connect('file:%s?mode=ro' % db, uri=True, timeout=10)
    try:
        return c.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []             # not created yet
    finally:
        c.close()


def wait(pred, timeout=15):
    return until(pred, timeout, 0.1)


def edgectl(site, *args, **kw):
    return subprocess.Popen([sys.executable, '-m', 'edgectl.cli'] + list(args) + ['--site', str(site)],
                            cwd=str(site.parent), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def journal_run(site, db):
    p = edgectl(site, 'journal', 'run', '--db', str(db))
    seen = ''
    while 'journal of site jq' not in seen:
        line = p.stdout.readline()
        assert line, seen + p.stdout.read()
        seen += line
    p.seen = seen
    return p


def sigterm(p, timeout=15):
    p.send_signal(signal.SIGTERM)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        raise AssertionError('SIGTERM did not end `edgectl journal run` within %d s' % timeout)
    return p.returncode, out


def test_malformed_events_are_set_aside_and_the_journal_goes_on(secure, tmp_path, abuse):
    site, sec, br = secure
    db = tmp_path / 'journal.sqlite3'
    thief = board_login(br, sec)
    j = journal_run(site, db)
    try:
        publish(thief, EVT, BAD + [json.dumps(event(1)).encode()])
        assert wait(lambda: rows(db, 'SELECT seq FROM events')) == [(1,)], 'the good event after the bad ones'
        time.sleep(0.5)                  # nothing else comes of the bad ones
        assert rows(db, 'SELECT seq FROM events') == [(1,)]
        abuse.input(refused=True, n=len(BAD))
        q = wait(lambda: len(rows(db, 'SELECT 1 FROM quarantine')) == len(BAD) and
                 rows(db, 'SELECT topic, device, reason, size, raw FROM quarantine ORDER BY id'))
        assert q, rows(db, 'SELECT reason FROM quarantine')
        assert {r[0] for r in q} == {EVT} and {r[1] for r in q} == {'lobby-1'}
        assert [r[3] for r in q] == [len(b) for b in BAD], 'each kept with its size, in arrival order'
        assert [r[4] for r in q] == [b[:8192] for b in BAD], 'each kept raw'
        assert 'seq' in q[2][2] and 'too large' in q[4][2] and 'UTF-8' in q[5][2]
        assert ('lobby-1', 'room.malformed', 1) in rows(db, 'SELECT device, type, active FROM room_alarms')
        assert j.poll() is None, 'the journal is still running'
    finally:
        rc, out = sigterm(j)
    assert rc == 0, out
    listed = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'journal', 'quarantine', '--db', str(db), '--json'],
                            capture_output=True, text=True, cwd=str(tmp_path))
    assert listed.returncode == 0, listed.stderr
    import base64
    assert [base64.b64decode(json.loads(l)['raw']) for l in listed.stdout.splitlines()] == [b[:8192] for b in BAD]

    # while it is away the same again, queued by the broker for its persistent session
    publish(thief, EVT, BAD + [json.dumps(event(2)).encode()])
    abuse.input(refused=True, n=len(BAD))
    j = journal_run(site, db)
    try:
        assert wait(lambda: rows(db, 'SELECT seq FROM events ORDER BY seq') == [(1,), (2,)]), \
            'the restarted journal took its queue, bad ones and all'
        assert wait(lambda: len(rows(db, 'SELECT 1 FROM quarantine')) == 2 * len(BAD))
        assert j.poll() is None
    finally:
        rc, out = sigterm(j)
    assert rc == 0, out
    thief.loop_stop()
    thief.disconnect()


def test_the_monitor_and_its_view_survive_the_same_input(secure, tmp_path, monkeypatch, abuse):
    site, sec, br = secure
    store = Store(tmp_path / 'monitor.sqlite3')
    # the control room's login is known only on the room's listener
    v = RoomView('jq', br.endpoint((sec['room']['user'], sec['room']['password']), room=True), 'ann', store, {}, None, out=1, size=(120, 40), keyboard=False)
    mon = v.mon.attach(v.ep, publish=False)
    thief = board_login(br, sec)
    try:
        other = [(T.status('jq', 'lobby-1'), b'[]'), (T.ack('jq', 'lobby-1', 'front'), b'"ok"'),
                 (T.state('jq', 'lobby-1', 'front'), b'[' * 5000), (T.tele('jq', 'lobby-1'), b'\xff')]
        for topic, p in other:
            publish(thief, topic, [p])
        publish(thief, EVT, BAD + [json.dumps(event(1, type='door.forced', sev='alarm', active=True)).encode()])
        abuse.input(refused=True, n=len(BAD) + len(other))
        got = mon.wait_event('lobby-1', 'door.forced', 10)
        if got is None:
            abuse.alarms_lost(1)
        assert got, 'the alarm after the malformed messages reached the control room'
        assert mon.quarantined == len(BAD) + len(other)
        assert mon.sub.t.is_alive(), 'the reader lives on'
        alarm = mon.alarms[('lobby-1', 'room', 'room.malformed')]
        assert alarm['count'] == len(BAD) + len(other) and alarm['topic'] == EVT
        rows_, keys = v.frame(120, 40)
        text = '\n'.join(''.join(s[0] for s in r) for r in rows_)
        assert ('lobby-1', 'room', 'room.malformed') in keys and 'door.forced' in text
        for rec in list(mon.records):
            mon.render(rec)                     # every record can be drawn
        assert store.flush() and len(store.table('quarantine')) == mon.quarantined
        assert [e['seq'] for e in store.query()] == [1]
        mon.acknowledge(('lobby-1', 'room', 'room.malformed'))
        assert ('lobby-1', 'room', 'room.malformed') not in mon.alarms, 'acknowledged, the latched alarm ends'
        publish(thief, EVT, [b'[]'])
        abuse.input(refused=True)
        assert wait(lambda: ('lobby-1', 'room', 'room.malformed') in mon.alarms, 5), 'and a new one raises it again'
    finally:
        thief.loop_stop()
        thief.disconnect()
        mon.detach()
        store.close()


def _journal_with_events(path, n=400):
    s = Store(path)
    for i in range(1, n + 1):
        s.event('lobby-1', event(i, note='x' * 60))
    s.close()
    c = sqlite3.connect(str(path))
    c.execute('PRAGMA journal_mode=DELETE')     # one self-contained file to damage
    c.close()


def _damage(path, how):
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * 4096
    if how == 'truncated':
        path.write_bytes(bytes(data[:len(data) // 2]))
    elif how == 'overwritten':
        data[2 * 4096:5 * 4096] = b'\xa5' * (3 * 4096)
        path.write_bytes(bytes(data))
    else:
        data[:100] = b'\x00' * 100          # the header: not a database at all
        path.write_bytes(bytes(data))


@pytest.mark.parametrize('how', ['truncated', 'overwritten', 'header'])
def test_a_damaged_journal_is_set_aside_and_the_monitor_starts(secure, tmp_path, how, abuse):
    site, sec, br = secure
    db = tmp_path / 'journal.sqlite3'
    _journal_with_events(db)
    _damage(db, how)
    abuse.input(refused=True)
    before = db.read_bytes()
    p = edgectl(site, 'monitor', '--plain', '--no-keys', '--duration', '2', '--db', str(db))
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 0, out
    assert 'was damaged' in out and 'journaling into a fresh one' in out and 'room.journal_damaged' in out, out
    aside = [f for f in tmp_path.iterdir() if f.name.startswith('journal.sqlite3.damaged-')]
    assert len(aside) == 1 and aside[0].read_bytes() == before, 'the damaged file is kept as it was, beside'
    fresh = Store(db, repair=False)           # sound: would raise if not
    assert [r['type'] for r in fresh.table('room_alarms')] == ['room.journal_damaged']
    fresh.close()


def test_journal_run_checks_its_file_at_open_and_query_refuses_a_damaged_one(secure, tmp_path, abuse):
    site, sec, br = secure
    db = tmp_path / 'journal.sqlite3'
    _journal_with_events(db)
    _damage(db, 'overwritten')
    abuse.input(refused=True, n=2)
    q = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'journal', 'query', '--db', str(db)],
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert q.returncode == 1 and 'is damaged' in q.stderr and 'Traceback' not in q.stderr, q.stderr
    assert db.exists(), 'a query leaves the file where it is'
    j = journal_run(site, db)
    thief = board_login(br, sec)
    try:
        publish(thief, EVT, [json.dumps(event(1)).encode()])
        assert wait(lambda: rows(db, 'SELECT seq FROM events')) == [(1,)], 'journaled into the fresh file'
    finally:
        thief.loop_stop()
        thief.disconnect()
        rc, out = sigterm(j)
    assert rc == 0 and 'was damaged' in j.seen, j.seen + out
    assert any(f.name.startswith('journal.sqlite3.damaged-') for f in tmp_path.iterdir())
