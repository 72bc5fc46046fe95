"""The journal on PostgreSQL, for a monitoring centre (many sites, several writers): the
same interface and intake as the SQLite journal (host/store.py), with the rows keyed by
site as well. Events are unique by (site, device, log, seq): a duplicate (a bridge or a
board resending, two writers handed the same message after a reconnect) is dropped by the
database (ON CONFLICT DO NOTHING), so any number of writers may share the stream and any
of them may be killed at any moment: the broker gives its unacknowledged batch again, to
it or another writer, and the database keeps one copy.

Devices are named as the monitor names them: DEVICE on a site's own journal (the store's
`site` fills the site column) or SITE/DEVICE at a centre. The schema is created and
migrated by the tool (table `edgectl_schema`), under an advisory lock so writers starting
together do not race. Only the SQL differs from SQLite's (placeholders, upserts, the site
column); batching, the quarantine and acknowledging only after commit are Store's."""
import time

from .store import Store

SCHEMA_LOCK = 0x6564676563746c     # pg_advisory_xact_lock key: 'edgectl'
VERSION = 1
# each step takes the schema from version i to i + 1 (a new version adds a step; none is ever changed)
MIGRATIONS = ['''
CREATE TABLE events (
  site TEXT NOT NULL, device TEXT NOT NULL, log INTEGER NOT NULL, seq BIGINT NOT NULL, ts BIGINT,
  received DOUBLE PRECISION NOT NULL, ctrl TEXT, type TEXT, sev TEXT, active SMALLINT, body TEXT NOT NULL,
  PRIMARY KEY (site, device, log, seq));
CREATE INDEX events_received ON events (received);
CREATE TABLE commands (
  id TEXT PRIMARY KEY, site TEXT, device TEXT, ctrl TEXT, op TEXT, body TEXT, sent DOUBLE PRECISION,
  ok SMALLINT, err TEXT, acked DOUBLE PRECISION);
CREATE TABLE alarm_acks (
  site TEXT NOT NULL, device TEXT NOT NULL, ctrl TEXT NOT NULL, type TEXT NOT NULL, seq BIGINT NOT NULL,
  by TEXT, at DOUBLE PRECISION, PRIMARY KEY (site, device, ctrl, type, seq));
CREATE TABLE room_alarms (
  id BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, site TEXT, device TEXT, type TEXT, active SMALLINT,
  body TEXT);
CREATE TABLE gaps (
  site TEXT NOT NULL, device TEXT NOT NULL, log INTEGER NOT NULL, first BIGINT NOT NULL, last BIGINT NOT NULL,
  found DOUBLE PRECISION, PRIMARY KEY (site, device, log, first));
CREATE TABLE quarantine (
  id BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION NOT NULL, topic TEXT, site TEXT, device TEXT, reason TEXT,
  size INTEGER, raw BYTEA);
''']

# where each kind of row names its device (Store's row tuples): the site goes in front of it
DEVICE_AT = {'event': 0, 'command': 1, 'alarm_ack': 0, 'room': 1, 'gap': 0, 'quarantine': 2}


def is_url(db):
    return isinstance(db, str) and db.startswith(('postgresql://', 'postgres://'))


def open_store(db=None, repair=True, site=None):
    """The journal named by --db: a PostgreSQL URL, else the SQLite file (default)."""
    if is_url(db):
        return PgStore(db, site=site)
    return Store(db, repair=repair)


def shown(url):
    """The URL without its password (for messages)."""
    import re
    return re.sub(r'(://[^:/@]+):[^@]*@', r'\1:***@', url)


class _Reader:
    """A psycopg connection that takes Store's SQL (? placeholders) and gives dict rows."""

    def __init__(self, url):
        import psycopg
        from psycopg.rows import dict_row
        self.db = psycopg.connect(url, row_factory=dict_row, autocommit=True)

    def execute(self, sql, args=()):
        return self.db.execute(sql.replace('?', '%s'), args)

    def close(self):
        self.db.close()


class PgStore(Store):
    SHELVES = False     # shelvings are a site's, in its SQLite journal (host/room/shelving.py): none at a centre
    EVENTS_SELECT = "SELECT site || '/' || device AS device, received, body FROM events"
    SQL = {
        'event': 'INSERT INTO events (site, device, log, seq, ts, received, ctrl, type, sev, active, body) '
                 'VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING',
        'command': 'INSERT INTO commands (site, id, device, ctrl, op, body, sent) VALUES (%s,%s,%s,%s,%s,%s,%s) '
                   'ON CONFLICT DO NOTHING',
        'ack': 'UPDATE commands SET ok=%s, err=%s, acked=%s WHERE id=%s',
        'alarm_ack': 'INSERT INTO alarm_acks (site, device, ctrl, type, seq, by, at) VALUES (%s,%s,%s,%s,%s,%s,%s) '
                     'ON CONFLICT DO NOTHING',
        'room': 'INSERT INTO room_alarms (site, at, device, type, active, body) VALUES (%s,%s,%s,%s,%s,%s)',
        'gap': 'INSERT INTO gaps (site, device, log, first, last, found) VALUES (%s,%s,%s,%s,%s,%s) '
               'ON CONFLICT DO NOTHING',
        'quarantine': 'INSERT INTO quarantine (site, at, topic, device, reason, size, raw) '
                      'VALUES (%s,%s,%s,%s,%s,%s,%s)',
    }

    def __init__(self, url, site=None):
        """url: postgresql://USER[:PASSWORD]@HOST[:PORT]/DB; site: the site of devices
        named without one (a site's own journal)."""
        import psycopg
        self.url = url
        self.path = shown(url)
        self.site = site or ''
        self.damaged = None
        self.ROW_ERRORS = self.ROW_ERRORS + (psycopg.DataError, psycopg.IntegrityError)
        try:
            with psycopg.connect(url, autocommit=True) as db:
                migrate(db)
        except psycopg.OperationalError as e:
            from ..core.errors import EdgeError
            raise EdgeError('cannot open the journal %s: %s' % (self.path, str(e).strip().splitlines()[-1]), 1)
        self._start()

    def _split(self, device):
        if isinstance(device, str) and '/' in device:
            return device.split('/', 1)
        return self.site, device

    def _shape(self, kind, row):
        """The site in front (from SITE/DEVICE, else the store's site), the device by its own name."""
        at = DEVICE_AT.get(kind)
        if at is None:
            return row
        site, dev = self._split(row[at])
        return (site,) + row[:at] + (dev,) + row[at + 1:]

    def _put(self, kind, row):
        Store._put(self, kind, self._shape(kind, row))

    @staticmethod
    def _device_of(kind, row):
        at = DEVICE_AT.get(kind)
        if at is None or not isinstance(row[at + 1], str):
            return None
        return '%s/%s' % (row[0], row[at + 1]) if row[0] else row[at + 1]

    def _checkpointer(self):
        pass                # PostgreSQL has its own

    def _writer_db(self):
        import psycopg
        try:
            db = psycopg.connect(self.url, autocommit=True)
            # COPY has no ON CONFLICT: a long run goes into this session's staging table, then over
            db.execute('CREATE TEMP TABLE events_in (LIKE events)')
        except psycopg.Error as e:       # no writer: said (check_link stops the journal), nothing acknowledged
            self.error = 'cannot connect the writer: %s' % e
            raise
        return db

    # a run of this many events or more is copied in (3-4 times executemany's rate here);
    # duplicates, in the table or in the run, are dropped alike
    COPY_FROM = 20
    COLUMNS = 'site, device, log, seq, ts, received, ctrl, type, sev, active, body'

    def _insert_events(self, cur, run):
        """The new events of a run written; their count."""
        if len(run) < self.COPY_FROM:
            cur.executemany(self.SQL['event'], run)
            return max(cur.rowcount, 0)
        cur.execute('DELETE FROM events_in')      # an earlier run of this commit's
        with cur.copy('COPY events_in (%s) FROM STDIN' % self.COLUMNS) as cp:
            for r in run:
                cp.write_row(r)
        cur.execute('INSERT INTO events (%s) SELECT %s FROM events_in ON CONFLICT DO NOTHING' % (
            self.COLUMNS, self.COLUMNS))
        return max(cur.rowcount, 0)

    def _commit(self, db, rows):
        from .store import runs
        written = quarantined = 0
        with db.transaction(), db.cursor() as cur:
            for kind, run in runs(rows):
                if kind == 'event':
                    written += self._insert_events(cur, run)
                    continue
                cur.executemany(self.SQL[kind], run)
                if kind == 'quarantine':
                    quarantined += len(run)
        self.written += written
        self.quarantined += quarantined

    def _reader(self):
        return _Reader(self.url)

    def _device_where(self, device):
        """DEVICE (any site), SITE/DEVICE or SITE/* (every device of the site)."""
        if not device:
            return [], []
        if '/' not in device:
            return ['device = ?'], [device]
        site, dev = device.split('/', 1)
        return (['site = ?'], [site]) if dev in ('*', '') else (['site = ? AND device = ?'], [site, dev])

    def count(self, device=None):
        where, args = self._device_where(device)
        db = self._reader()
        try:
            sql = 'SELECT COUNT(*) AS n FROM events' + (' WHERE ' + ' AND '.join(where) if where else '')
            return db.execute(sql, args).fetchone()['n']
        finally:
            db.close()

    def prune(self, days, alarm_days):
        now = time.time()
        import psycopg
        with psycopg.connect(self.url) as db:       # one transaction, committed on leaving
            a = db.execute("DELETE FROM events WHERE received < %s AND (sev IS NULL OR sev != 'alarm')",
                           (now - days * 86400,)).rowcount
            b = db.execute("DELETE FROM events WHERE received < %s AND sev = 'alarm'",
                           (now - alarm_days * 86400,)).rowcount
            db.execute('DELETE FROM commands WHERE sent < %s', (now - days * 86400,))
            db.execute('DELETE FROM room_alarms WHERE at < %s', (now - alarm_days * 86400,))
            db.execute('DELETE FROM quarantine WHERE at < %s', (now - alarm_days * 86400,))
        return {'events': a, 'alarms': b}


def migrate(db):
    """Create or bring the schema up to VERSION (autocommit connection); returns the version it found."""
    with db.transaction():
        db.execute('SELECT pg_advisory_xact_lock(%s)', (SCHEMA_LOCK,))
        db.execute('CREATE TABLE IF NOT EXISTS edgectl_schema (version INTEGER NOT NULL)')
        row = db.execute('SELECT version FROM edgectl_schema').fetchone()
        found = row[0] if row else 0
        if found > VERSION:
            from ..core.errors import EdgeError
            raise EdgeError('the journal\'s schema is version %d, newer than this edgectl (%d): upgrade edgectl'
                            % (found, VERSION), 1)
        for step in MIGRATIONS[found:]:
            db.execute(step)
        if row is None:
            db.execute('INSERT INTO edgectl_schema VALUES (%s)', (VERSION,))
        else:
            db.execute('UPDATE edgectl_schema SET version = %s', (VERSION,))
    return found
