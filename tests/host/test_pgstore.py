"""The journal's PostgreSQL back-end (host/room/pgstore.py) against a real PostgreSQL
(the session's `postgres` fixture, one database per test): the same interface as the
SQLite journal, rows keyed by site, duplicates dropped by the database, the schema created
and migrated by the tool, a refused row set aside, nothing acknowledged after a failed commit."""
import threading

import pytest

from edgectl.room import pgstore
from edgectl.room.pgstore import PgStore, open_store
from edgectl.room.store import Store


def ev(seq, **kw):
    return dict({'seq': seq, 'log': 1, 'ts': 1000 + seq, 'type': 'door.opened', 'sev': 'info', 'ctrl': 'gate'}, **kw)


@pytest.fixture
def url(postgres, request):
    return postgres.create_db('t_' + request.node.name.lower()[:40])


def test_open_store_picks_the_back_end(url, tmp_path):
    s = open_store(url)
    try:
        assert isinstance(s, PgStore) and '***' not in s.path     # no password in this URL: nothing to hide
    finally:
        s.close()
    s = open_store(str(tmp_path / 'j.sqlite3'))
    assert type(s) is Store
    s.close()
    assert pgstore.shown('postgresql://u:secret@h/db') == 'postgresql://u:***@h/db'


def test_events_keyed_by_site_device_log_seq(url):
    s = PgStore(url, site='north')
    try:
        for n in (1, 2, 3):
            s.event('gate-1', ev(n))              # north (the store's site)
            s.event('south/gate-1', ev(n))        # a centre's name: SITE/DEVICE
        s.event('gate-1', ev(2))                  # a duplicate: dropped by the database
        s.event('south/gate-1', ev(3))
        s.event('gate-1', ev(1, log=2))           # a new log of the same device: kept
        s.flush()
        assert s.error is None
        assert s.written == 7 and s.count() == 7
        assert s.count('south/*') == 3 and s.count('north/gate-1') == 4 and s.count('gate-1') == 7
        rows = s.query('south/gate-1')
        assert [(r['device'], r['seq']) for r in rows] == [('south/gate-1', n) for n in (1, 2, 3)]
        assert [r['seq'] for r in s.query(etype='door.*', limit=2)] == [1, 1]
    finally:
        s.close()


def test_other_rows_carry_the_site(url):
    s = PgStore(url)
    try:
        s.command('c1', 'south/gate-1', 'gate', 'open', {'op': 'open'})
        s.ack('c1', True, None)
        s.alarm_ack('south/gate-1', 'gate', 'door.forced', 4, 'ann')
        s.room_alarm('south/_site', 'room.bridge_down', True, {'site': 'south'})
        s.gap('south/gate-1', 1, 5, 9)
        s.flush()
        cmd, = s.table('commands')
        assert (cmd['site'], cmd['device'], cmd['ok']) == ('south', 'gate-1', 1)
        assert s.table('alarm_acks')[0]['site'] == 'south'
        assert (s.table('room_alarms')[0]['site'], s.table('room_alarms')[0]['device']) == ('south', '_site')
        assert s.table('gaps')[0]['first'] == 5
    finally:
        s.close()


def test_a_row_postgresql_refuses_is_set_aside_and_the_rest_kept(url):
    """PostgreSQL text takes no NUL character (SQLite does): that row goes to the
    quarantine, the others of its batch are journaled, the journal goes on."""
    s = PgStore(url, site='north')
    try:
        with s.hold():
            s.event('gate-1', ev(1))
            s.event('gate-1', ev(2, ctrl='ga\x00te'))
            s.event('gate-1', ev(3))
        s.flush()
        assert s.error is None and s.count() == 2
        q, = s.set_aside()
        assert q['device'] == 'gate-1' and 'NUL' in q['reason']
        assert s.refused[0][0] == 'north/gate-1'
    finally:
        s.close()


def test_a_large_batch_is_copied_in_with_the_same_verdicts(url):
    """A run of COPY_FROM events or more is copied in (a staging table, then the same
    duplicate rule): duplicates inside the batch and already in the table dropped, a row
    PostgreSQL refuses set aside and the rest kept."""
    s = PgStore(url, site='north')
    n = PgStore.COPY_FROM * 3
    try:
        s.event('gate-1', ev(1))
        s.flush()
        with s.hold():
            for k in range(1, n + 1):
                s.event('gate-1', ev(k))              # 1 is in the table already
            s.event('gate-1', ev(5))                  # twice in the batch
            s.room_alarm('gate-1', 'room.silent', True)
            for k in range(n + 1, 2 * n + 1):         # a second run of events in the same commit
                s.event('gate-1', ev(k))
        s.flush()
        assert s.error is None and s.count() == 2 * n and s.written == 2 * n
        with s.hold():
            for k in range(2 * n + 1, 3 * n + 1):
                s.event('gate-1', ev(k, ctrl='bad\x00' if k == 2 * n + 7 else 'gate'))
        s.flush()
        assert s.count() == 3 * n - 1 and len(s.set_aside()) == 1
    finally:
        s.close()


def test_schema_created_once_by_writers_starting_together_and_migrated(url):
    import psycopg
    errors = []

    def open_one():
        try:
            PgStore(url).close()
        except Exception as e:          # noqa: BLE001 - any failure is the finding
            errors.append(e)
    ts = [threading.Thread(target=open_one) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    with psycopg.connect(url) as db:
        assert db.execute('SELECT version FROM edgectl_schema').fetchall() == [(pgstore.VERSION,)]
        db.execute('UPDATE edgectl_schema SET version = 99')
    from edgectl.core.errors import EdgeError
    with pytest.raises(EdgeError, match='newer than this edgectl'):
        PgStore(url)


def test_nothing_is_acknowledged_once_the_database_cannot_write(url, postgres):
    """The broker's batch is released (then) only after its commit: with the database
    gone, `error` says so and no release runs (the broker keeps the batch)."""
    import psycopg
    s = PgStore(url, site='north')
    released = []
    try:
        s.event('gate-1', ev(1))
        s.then(lambda: released.append(1))
        s.flush()
        assert released == [1]
        with psycopg.connect(postgres.dsn('postgres'), autocommit=True) as db:   # the writer's link dies
            db.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                       "AND pid <> pg_backend_pid()", (url.rsplit('/', 1)[1],))
        s.event('gate-1', ev(2))
        s.then(lambda: released.append(2))
        s.flush()
        assert s.error and released == [1]
    finally:
        s.close()


def test_prune_keeps_alarms_longer(url):
    s = PgStore(url, site='north')
    try:
        s.event('gate-1', ev(1), received=1.0)
        s.event('gate-1', ev(2, type='door.forced', sev='alarm', active=True), received=1.0)
        s.event('gate-1', ev(3))
        s.flush()
        assert s.prune(1, 10 ** 6) == {'events': 1, 'alarms': 0}
        assert [r['seq'] for r in s.query()] == [2, 3]
    finally:
        s.close()
