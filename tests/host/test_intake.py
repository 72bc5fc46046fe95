"""The control room's intake check (host/intake.py) against the event schema, what the
journal does with what it cannot keep (set aside, never stopped by it), and the reorder
window that keeps late events from being reported as gaps."""
import json
import threading
import time

import pytest
from hypothesis import given, settings, strategies as st

from edgectl.room import intake
from edgectl.core import proto
from edgectl.room.journal import Journal
from edgectl.room.monitor import Monitor
from edgectl.core.mqttraw import RawSubscriber
from edgectl.room.store import Store
from edgectl.core.mqttc import Endpoint

EVENTS = proto.vectors('event')


def good(seq=1, **kw):
    return dict({'seq': seq, 'ts': 1764288000000, 'type': 'door.opened', 'sev': 'info', 'ctrl': 'front'}, **kw)


@pytest.mark.parametrize('ev', EVENTS['valid'])
def test_valid_vectors_pass(ev):
    assert intake.check('evt', json.dumps(ev).encode()) == (ev, None)


@pytest.mark.parametrize('ev', EVENTS['invalid'])
def test_invalid_vectors_are_refused_with_a_reason(ev):
    obj, why = intake.check('evt', json.dumps(ev).encode())
    assert obj is None and why


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(allow_nan=False),
                    st.text(max_size=8), st.sampled_from(['door.opened', 'pump.x_y', 'toaster.on', 'alarm', 'info']))
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
                      max_leaves=6)
keys = st.sampled_from(['seq', 'log', 'ts', 'type', 'sev', 'ctrl', 'active', 'by', 'open_s'])


@settings(max_examples=400, deadline=None)
@given(base=st.booleans(), fields=st.dictionaries(keys, values, max_size=8))
def test_what_the_hand_check_takes_the_schema_takes(base, fields):
    """Nothing the schema refuses gets through, and what the schema takes is refused only
    for one of the added bounds."""
    ev = dict(good(), **fields) if base else fields
    obj, why = intake.check('evt', json.dumps(ev).encode())
    if why is None:
        assert proto.errors('event', ev) == []
    elif proto.errors('event', ev) == []:        # the schema takes it: refused only for a bound
        assert any(w in why for w in ('2**63', 'nested', 'longer', 'ctrl must', 'not JSON')), why   # (Infinity: a number to the schema)


@pytest.mark.parametrize('raw, why', [
    (b'[]', 'not a JSON object'),
    (b'{}', 'seq'),
    (json.dumps(good(2 ** 63)).encode(), 'seq'),
    (json.dumps(good(ts=2 ** 64)).encode(), 'ts'),
    (json.dumps(good(log=2 ** 31)).encode(), 'log'),
    (json.dumps(good(ctrl='c' * 65)).encode(), 'ctrl'),
    (json.dumps(good(x='y' * 5000)).encode(), 'too large'),
    (b'{"seq": 1, "ts": 1, "type": "door.opened", "sev": "info", "ctrl": "f", "x": Infinity}', 'not JSON'),
    (b'{"seq": 1, "ts": 1, "type": "door.opened", "sev": "info", "ctrl": "f", "x": 1e999}', 'finite'),
    (json.dumps(good(x=[[[[[1]]]]])).encode(), 'nested'),
    (b'[' * 3000, 'nested too deep'),
    (b'{"seq": 1, "ctrl": "\xc3"}', 'UTF-8'),
])
def test_malformed_events_are_refused_with_the_reason(raw, why):
    obj, got = intake.check('evt', raw)
    assert obj is None and why in got


def test_other_messages_must_be_one_json_object():
    assert intake.check('status', b'{"online": true}') == ({'online': True}, None)
    for raw in (b'[]', b'"x"', b'1', b'\xff', b'{' * 3000, b'{"a": ' + b'1' * 70000 + b'}'):
        assert intake.check('status', raw)[0] is None


def test_the_check_costs_little_beside_parsing():
    raw = json.dumps(good(12, log=7)).encode()
    n = 5000
    t0 = time.perf_counter()
    for _ in range(n):
        json.loads(raw)
    parse = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        intake.check('evt', raw)
    check = time.perf_counter() - t0
    assert check < 3 * parse + 0.05, 'intake %.1f us against json.loads %.1f us' % (check / n * 1e6, parse / n * 1e6)


# --- the store: what the database refuses is set aside, the writer goes on ------------------

def test_a_row_the_database_refuses_is_set_aside_and_the_batch_still_commits(tmp_path):
    s = Store(tmp_path / 'j.sqlite3')
    acked = threading.Event()
    with s.hold():
        s.event('d', good(1))
        s.event('d', good(2 ** 70))          # past the intake, SQLite cannot hold it: the old writer died here
        s.event('d', good(3))
        s.then(acked.set)
    assert s.flush(10)
    assert acked.is_set() and s.error is None, s.error
    assert [e['seq'] for e in s.query()] == [1, 3]
    q = s.table('quarantine')
    assert len(q) == 1 and q[0]['device'] == 'd' and 'refused' in q[0]['reason'] and s.quarantined == 1
    assert list(s.refused) == [('d', q[0]['reason'])]
    s.event('d', good(4))                   # and the writer is still there
    assert s.flush(10) and s.count() == 3
    s.close()


def test_a_refused_row_raises_room_malformed_in_the_monitor(tmp_path):
    s = Store(tmp_path / 'j.sqlite3')
    mon = Monitor('s', store=s)
    mon.show = lambda rec: None
    s.event('d', good(2 ** 70))
    assert s.flush(10)
    mon.housekeep()
    assert ('d', 'room', 'room.malformed') in mon.alarms
    s.close()


def _reader(on_batch, start=True):
    """The lean reader on one end of a socket pair, one PUBLISH waiting: (reader, other end);
    start=False: its thread is made, not started (a handler that reads the reader itself
    must see it bound first)."""
    import socket
    a, b = socket.socketpair()
    a.settimeout(1.0)
    sub = RawSubscriber.__new__(RawSubscriber)
    sub.sock, sub._early, sub.keepalive, sub.received, sub.failed = a, b'', 30, 0, None
    sub._stop, sub._tx, sub.last_tx = threading.Event(), threading.Lock(), time.monotonic()
    sub.on_batch = on_batch
    b.sendall(b'\x30\x05\x00\x01tab')         # PUBLISH QoS 0 't' 'ab'
    sub.t = threading.Thread(target=sub._run, daemon=True)
    if start:
        sub.t.start()
    return sub, b


def test_a_reader_whose_handler_raises_stops_and_says_why():
    """Not a silent dead thread: `failed` says why, and a persistent journal's check_link
    ends the process (the broker keeps the batch)."""
    sub, other = _reader(lambda batch, release: 1 / 0)
    sub.t.join(5)
    assert not sub.t.is_alive() and 'ZeroDivisionError' in sub.failed
    mon = Monitor('s')
    mon.sub, mon.persistent = sub, True
    with pytest.raises(Exception, match='intake failed'):
        mon.check_link()
    sub.sock.close()
    other.close()


def test_a_batch_is_counted_as_received_only_once_handed_over():
    """`bench ingest` waited for `received`, then flushed the store: counted before the
    hand-over, the last batch was not queued yet and was reported lost."""
    inside, go = threading.Event(), threading.Event()
    seen = []

    def on_batch(batch, release):
        seen.append(sub.received)
        inside.set()
        go.wait(5)

    sub, other = _reader(on_batch, start=False)
    sub.t.start()
    assert inside.wait(5)
    assert seen == [0] and sub.received == 0
    go.set()
    assert wait_for(lambda: sub.received == 1)
    sub._stop.set()
    sub.t.join(5)
    sub.sock.close()
    other.close()


def wait_for(pred, timeout=5):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


def test_an_exception_while_handling_a_message_sets_it_aside(tmp_path):
    s = Store(tmp_path / 'j.sqlite3')
    mon = Monitor('s', store=s)
    mon.show = lambda rec: None
    mon.calls.feed = lambda *a: 1 / 0        # a bug somewhere behind the intake check
    mon.handle_batch([('edge/v1/s/d/evt/front', json.dumps(good(1)).encode(), False),
                      ('edge/v1/s/d/status', b'{"online": true}', False)])
    assert mon.quarantined == 1 and mon.devices['d'] == {'online': True}, 'the next message is handled'
    assert s.flush(10) and 'ZeroDivisionError' in s.table('quarantine')[0]['reason']
    s.close()


# --- gaps: reported once they outlive the reorder window ----------------------------------

def test_late_events_inside_the_reorder_window_make_no_gap():
    j = Journal(keep=False, reorder_s=5)
    for seq in (1, 2, 6):
        j.admit('d', good(seq), now=100.0)
    j.admit('d', good(4), now=102.0)
    assert j.overdue(104.9) == []
    j.admit('d', good(3), now=104.0)
    j.admit('d', good(5), now=104.5)
    assert j.overdue(200.0) == [], 'every late one arrived inside the window'


def test_a_gap_that_outlives_the_window_is_reported_once_with_what_is_still_missing():
    j = Journal(keep=False, reorder_s=5)
    for seq in (1, 10):
        j.admit('d', good(seq), now=100.0)
    j.admit('d', good(5), now=101.0)
    assert j.overdue(104.0) == []
    assert j.overdue(105.0) == [('d', 0, 2, 4), ('d', 0, 6, 9)]
    assert j.overdue(500.0) == []
    j.admit('d', good(3), now=501.0)        # very late: still taken, no new gap
    assert j.gaps('d') == [(2, 2), (4, 4), (6, 9)]


def test_the_monitor_prints_a_gap_only_after_the_window(tmp_path):
    s = Store(tmp_path / 'j.sqlite3')
    mon = Monitor('s', store=s)
    mon.show = lambda rec: None
    printed = []
    mon.console.print = lambda *a, **k: printed.append(a[0])
    topic = 'edge/v1/s/d/evt/front'
    t0 = time.time()
    for seq in (1, 4):
        mon.handle(topic, json.dumps(good(seq)).encode(), when=t0)
    mon.check_gaps(t0 + 1)
    assert not printed and mon.gaps == []
    mon.handle(topic, json.dumps(good(2)).encode(), when=t0 + 2)
    mon.check_gaps(t0 + mon.journal.reorder_s + 1)
    assert mon.gaps == [('d', 3, 3)] and 'gap: events 3..3' in printed[0]
    assert s.flush(10) and [(g['first'], g['last']) for g in s.table('gaps')] == [(3, 3)]
    s.close()


def test_a_seq_jump_to_2_62_costs_no_walk_over_the_range():
    j = Journal(keep=False, reorder_s=0)
    j.admit('d', good(1), now=1.0)
    j.admit('d', good(2 ** 62), now=1.0)
    t0 = time.perf_counter()
    assert j.overdue(2.0) == [('d', 0, 2, 2 ** 62 - 1)]
    assert j.gaps('d') == [(2, 2 ** 62 - 1)]
    assert time.perf_counter() - t0 < 0.5


# --- a damaged journal file -----------------------------------------------------------------

def test_the_full_screen_view_says_the_journal_was_damaged(tmp_path):
    from edgectl.room.roomview import RoomView
    db = tmp_path / 'j.sqlite3'
    db.write_bytes(b'this is not a database' * 500)
    s = Store(db)
    assert s.damaged and s.damaged['file'].startswith(str(db) + '.damaged-')
    v = RoomView('s', Endpoint('127.0.0.1', 1), 'ann', s, {}, None, out=1, size=(160, 30), keyboard=False)
    v.mon.check_store()
    rows, keys = v.frame(160, 30)
    text = [''.join(seg[0] for seg in r) for r in rows]
    assert any('JOURNAL FILE WAS DAMAGED' in r and 'set aside as' in r for r in text), text[:4]
    assert ('control-room', 'room', 'room.journal_damaged') in keys
    log = [''.join(seg[0] for seg in line) for line in v.lines]
    assert any('was damaged' in line for line in log), 'the model\'s own line reaches the view\'s log pane'
    v.mon.check_store()
    assert s.flush(10) and len(s.table('room_alarms')) == 1, 'raised once'
    s.close()


def test_a_board_cannot_send_terminal_escapes_to_the_line_view():
    mon = Monitor('s')
    mon.show = lambda rec: None
    rec = mon.handle('edge/v1/s/d/evt/front', json.dumps(good(1, by='\x1b[2J\x1b]0;owned\x07')).encode())
    assert rec is not None and '\x1b' not in mon.render(rec) and '\x07' not in mon.render(rec)
    rec = mon.handle('edge/v1/s/d/ack/front', json.dumps({'id': 'c1', 'ok': False, 'err': '\x1b[31m'}).encode())
    assert '\x1b' not in mon.render(rec)
