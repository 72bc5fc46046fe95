"""The control room's journal on disk: SQLite in WAL mode. Every event (once per
(device, log, seq)), every command and its ack, every alarm acknowledgement, control-room
alarms (a board offline or silent) and the gaps found. Writes go through one thread in
batches, so a burst of thousands of events a second costs a few commits, not thousands.

Events live in a rowid table (rows appended in arrival order; (device, log, seq) is a
unique index beside it): with the rows inside the key's tree instead, inserting across
500 devices cost 70 us a row here, against 19. The type filter is a LIKE, which no index
serves, so there is none on type.

What cannot be journaled is set aside, never dropped and never allowed to stop the journal:
a message that fails the intake check (host/intake.py) goes to `quarantine` as it came
(its first QUARANTINE_KEEP bytes, its size, topic and why); so does a row the database
refuses (the batch is then written row by row). A journal file found damaged when it is
opened is renamed aside (journal.sqlite3.damaged-YYYYmmdd-HHMMSS) and a fresh one started
(`damaged` says so), or, for the readers (query, prune), refused."""
import collections
import contextlib
import csv
import io
import json
import sqlite3
import threading
import time
from pathlib import Path

SCHEMA = '''
CREATE TABLE IF NOT EXISTS events (
  device TEXT NOT NULL, log INTEGER NOT NULL, seq INTEGER NOT NULL, ts INTEGER, received REAL NOT NULL,
  ctrl TEXT, type TEXT, sev TEXT, active INTEGER, body TEXT NOT NULL,
  PRIMARY KEY (device, log, seq));
CREATE INDEX IF NOT EXISTS events_received ON events (received);
DROP INDEX IF EXISTS events_type;
CREATE TABLE IF NOT EXISTS commands (
  id TEXT PRIMARY KEY, device TEXT, ctrl TEXT, op TEXT, body TEXT, sent REAL,
  ok INTEGER, err TEXT, acked REAL);
CREATE TABLE IF NOT EXISTS alarm_acks (
  device TEXT NOT NULL, ctrl TEXT NOT NULL, type TEXT NOT NULL, seq INTEGER NOT NULL,
  by TEXT, at REAL, PRIMARY KEY (device, ctrl, type, seq));
CREATE TABLE IF NOT EXISTS room_alarms (
  id INTEGER PRIMARY KEY, at REAL NOT NULL, device TEXT, type TEXT, active INTEGER, body TEXT);
CREATE TABLE IF NOT EXISTS gaps (
  device TEXT NOT NULL, log INTEGER NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL, found REAL,
  PRIMARY KEY (device, log, first));
CREATE TABLE IF NOT EXISTS board_logs (
  id INTEGER PRIMARY KEY, device TEXT NOT NULL, at REAL NOT NULL, ts INTEGER, lvl INTEGER, msg TEXT, dropped INTEGER);
CREATE INDEX IF NOT EXISTS board_logs_device ON board_logs (device, at);
CREATE TABLE IF NOT EXISTS quarantine (
  id INTEGER PRIMARY KEY, at REAL NOT NULL, topic TEXT, device TEXT, reason TEXT, size INTEGER, raw BLOB);
CREATE TABLE IF NOT EXISTS actions (
  id INTEGER PRIMARY KEY, at REAL NOT NULL, operator TEXT, action TEXT NOT NULL, device TEXT, ctrl TEXT,
  type TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS shelves (
  device TEXT NOT NULL, ctrl TEXT NOT NULL, type TEXT NOT NULL, raised TEXT, since REAL, by TEXT, at REAL NOT NULL,
  until REAL NOT NULL, reason TEXT, PRIMARY KEY (device, ctrl, type));
'''
VERSION = 2

# A journal written before event logs had ids (user_version 0): its rows move to tables
# keyed by (device, log, seq), with log 0 as events of that firmware carry none.
MIGRATE_1 = '''
ALTER TABLE events RENAME TO events_v1;
ALTER TABLE gaps RENAME TO gaps_v1;
DROP INDEX IF EXISTS events_received;
%s
INSERT INTO events SELECT device, 0, seq, ts, received, ctrl, type, sev, active, body FROM events_v1;
INSERT INTO gaps SELECT device, 0, first, last, found FROM gaps_v1;
DROP TABLE events_v1;
DROP TABLE gaps_v1;
'''



QUARANTINE_KEEP = 8192     # bytes of a set-aside message kept (its size is kept whole)
# a row the database refuses (rather than a database that cannot write): set aside
ROW_ERRORS = (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.DataError, sqlite3.ProgrammingError,
              OverflowError, TypeError, ValueError)


def runs(rows):
    """(kind, [row, ...]) for each run of rows of one kind, in order."""
    i = 0
    while i < len(rows):
        kind = rows[i][0]
        j = i
        while j < len(rows) and rows[j][0] == kind:
            j += 1
        yield kind, [r for _, r in rows[i:j]]
        i = j


def default_path():
    return Path('.edgectl') / 'journal.sqlite3'


class Damaged(Exception):
    """The journal file is damaged (and was not set aside)."""


def damage(path):
    """What is wrong with the SQLite file at `path` (PRAGMA quick_check), or None when it is
    sound or absent."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(str(path), timeout=30)
        try:
            rows = db.execute('PRAGMA quick_check(3)').fetchall()
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        return str(e)
    if rows and rows[0][0] == 'ok':
        return None
    return '; '.join(str(r[0]) for r in rows) or 'quick_check said nothing'


def set_aside(path, now=None):
    """Rename a damaged journal (and its -wal, -shm) to <name>.damaged-YYYYmmdd-HHMMSS;
    returns the new path of the main file."""
    path = Path(path)
    stamp = time.strftime('%Y%m%d-%H%M%S', time.localtime(now or time.time()))
    aside = path.with_name('%s.damaged-%s' % (path.name, stamp))
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name('%s.damaged-%s-%d' % (path.name, stamp, n))
    for side in ('-wal', '-shm'):
        p = path.with_name(path.name + side)
        if p.exists():
            p.replace(aside.with_name(aside.name + side))
    path.replace(aside)
    return aside


def _wal(db, tries=100):
    """The journal in WAL mode (kept in the file once set). Switching waits for no busy
    handler: several processes opening a new journal at once got "database is locked"
    (six `edgectl zone` calls at once), so it is asked first and retried."""
    for i in range(tries):
        try:
            if db.execute('PRAGMA journal_mode').fetchone()[0].lower() != 'wal':
                db.execute('PRAGMA journal_mode=WAL')
            return
        except sqlite3.OperationalError as e:
            if 'locked' not in str(e) or i == tries - 1:
                raise
            time.sleep(0.1)


class Store:
    def __init__(self, path=None, repair=True):
        """repair: a damaged file is set aside and a fresh one started (`damaged` then says
        {'file', 'why'}); else Damaged is raised and the file left as it is."""
        self.path = Path(path or default_path())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.damaged = None
        why = damage(self.path)
        if why is not None:
            if not repair:
                raise Damaged('the journal %s is damaged (%s)' % (self.path, why))
            self.damaged = {'file': str(set_aside(self.path)), 'why': why}
        db = sqlite3.connect(str(self.path), timeout=30)
        _wal(db)
        version = db.execute('PRAGMA user_version').fetchone()[0]
        old = db.execute("SELECT 1 FROM sqlite_master WHERE name='events'").fetchone()
        if old and version < 2:
            db.executescript('BEGIN;' + MIGRATE_1 % SCHEMA + 'COMMIT;')
        db.executescript(SCHEMA)
        db.execute('PRAGMA user_version=%d' % VERSION)
        db.close()
        self._start()

    def _start(self):
        """The writer and checkpointer threads and their counters (each back-end opens its database first)."""
        self._pending = []        # (kind, row) waiting for the writer
        self._closing = False
        self.written = 0          # event rows committed (new ones)
        self.quarantined = 0      # messages and rows set aside
        self.refused = collections.deque(maxlen=1000)   # (device, why) of rows the database refused
        self.commits = 0
        self.error = None
        self._done = threading.Condition()
        self._queued = 0
        self._held = threading.local()    # .rows: this thread's rows inside hold()
        self._applied = 0
        self._stopped = threading.Event()
        self.t = threading.Thread(target=self._writer, daemon=True)
        self.t.start()
        self.tc = threading.Thread(target=self._checkpointer, daemon=True)
        self.tc.start()

    # --- writing ---------------------------------------------------------------------------
    def _put(self, kind, row):
        held = getattr(self._held, 'rows', None)
        if held is not None:
            held.append((kind, row))
        else:
            self._enqueue([(kind, row)])

    def _enqueue(self, items):
        with self._done:
            self._queued += len(items)
            was = len(self._pending)
            self._pending.extend(items)
            if not was:
                self._done.notify_all()

    @contextlib.contextmanager
    def hold(self):
        """Rows written by this thread inside the block go to the writer together at its end
        (one handover for a whole MQTT batch instead of one per event)."""
        rows = self._held.rows = []
        try:
            yield
        finally:
            self._held.rows = None
            if rows:
                self._enqueue(rows)

    def event(self, device, ev, received=None, raw=None):
        """Journal an event (`raw`: its payload as received, stored as is: no re-encoding)."""
        if raw is None:
            body = json.dumps(ev, separators=(',', ':'))
        else:
            body = raw.decode('utf-8', 'replace') if isinstance(raw, bytes) else raw
        active = ev.get('active')
        self._put('event', (device, ev.get('log', 0), ev.get('seq'), ev.get('ts'), received or time.time(), ev.get('ctrl'),
                            ev.get('type'), ev.get('sev'), None if active is None else int(bool(active)), body))

    def command(self, cid, device, ctrl, op, body):
        self._put('command', (cid, device, ctrl, op, json.dumps(body), time.time()))

    def ack(self, cid, ok, err):
        self._put('ack', (int(bool(ok)), err, time.time(), cid))

    def alarm_ack(self, device, ctrl, etype, seq, by, at=None):
        self._put('alarm_ack', (device, ctrl, etype, seq, by, at or time.time()))

    def room_alarm(self, device, etype, active, body=None):
        self._put('room', (time.time(), device, etype, int(bool(active)), json.dumps(body or {})))

    def board_log(self, device, line, received=None):
        """A board's log line (intake-checked: lvl, ts, msg, optional dropped)."""
        self._put('board_log', (device, received or time.time(), line['ts'], line['lvl'], line['msg'],
                                line.get('dropped') or 0))
    def action(self, operator, action, device=None, ctrl=None, etype=None, detail=None):
        """What an operator did from a control-room view (log in and out, acknowledge, shelve
        and unshelve, send a command): who, what, on which alarm or device."""
        self._put('action', (time.time(), operator, action, device, ctrl, etype, json.dumps(detail or {})))

    # --- shelvings: shared by every view of the site (host/room/shelving.py) ------------------
    # Written and read at once, beside the batched writer: a shelving made in one web is
    # seen by the others and by `edgectl monitor` within a refresh, and outlives them all.
    SHELVES = True
    SHELF_COLS = ('raised', 'since', 'by', 'at', 'until', 'reason')

    def _shelf_db(self):
        return sqlite3.connect(str(self.path), timeout=5, isolation_level=None)     # (under a view's lock: short)

    def shelf_put(self, key, entry):
        db = self._shelf_db()
        try:
            db.execute('INSERT OR REPLACE INTO shelves VALUES (?,?,?,?,?,?,?,?,?)',
                       tuple(key) + tuple(entry.get(c) for c in self.SHELF_COLS))
        finally:
            db.close()

    def shelf_take(self, key, at=None):
        """Remove a shelving and return it (None when there is none, or `at` is given and it
        is another shelving of that alarm): of views ending it together, one gets it."""
        db = self._shelf_db()
        try:
            db.execute('BEGIN IMMEDIATE')
            row = db.execute('SELECT %s FROM shelves WHERE device=? AND ctrl=? AND type=?' % ', '.join(self.SHELF_COLS),
                             tuple(key)).fetchone()
            entry = dict(zip(self.SHELF_COLS, row)) if row else None
            if entry is not None and (at is None or entry['at'] == at):
                db.execute('DELETE FROM shelves WHERE device=? AND ctrl=? AND type=?', tuple(key))
            else:
                entry = None
            db.execute('COMMIT')
            return entry
        finally:
            db.close()

    def shelves(self):
        """{alarm key: shelving} of the site."""
        db = self._shelf_db()
        try:
            return {tuple(r[:3]): dict(zip(self.SHELF_COLS, r[3:])) for r in db.execute(
                'SELECT device, ctrl, type, %s FROM shelves' % ', '.join(self.SHELF_COLS))}
        finally:
            db.close()

    def gap(self, device, log, first, last):
        self._put('gap', (device, log, first, last, time.time()))

    def quarantine(self, topic, device, raw, why):
        """Set a message aside as it came (host/intake.py refused it)."""
        raw = bytes(raw) if isinstance(raw, (bytes, bytearray)) else str(raw).encode('utf-8', 'replace')
        self._put('quarantine', (time.time(), topic, device, why, len(raw), raw[:QUARANTINE_KEEP]))

    def then(self, fn):
        """Run fn() in the writer once everything queued before it is committed; never if
        that commit failed (`error` says why): an MQTT batch is acknowledged only then."""
        self._put('then', fn)

    CHECKPOINT_S = 1.0

    SQL = {
        'event': 'INSERT OR IGNORE INTO events VALUES (?,?,?,?,?,?,?,?,?,?)',
        'command': 'INSERT OR IGNORE INTO commands (id, device, ctrl, op, body, sent) VALUES (?,?,?,?,?,?)',
        'ack': 'UPDATE commands SET ok=?, err=?, acked=? WHERE id=?',
        'alarm_ack': 'INSERT OR IGNORE INTO alarm_acks VALUES (?,?,?,?,?,?)',
        'room': 'INSERT INTO room_alarms (at, device, type, active, body) VALUES (?,?,?,?,?)',
        'gap': 'INSERT OR IGNORE INTO gaps VALUES (?,?,?,?,?)',
        'board_log': 'INSERT INTO board_logs (device, at, ts, lvl, msg, dropped) VALUES (?,?,?,?,?,?)',
        'action': 'INSERT INTO actions (at, operator, action, device, ctrl, type, detail) VALUES (?,?,?,?,?,?,?)',
        'quarantine': 'INSERT INTO quarantine (at, topic, device, reason, size, raw) VALUES (?,?,?,?,?,?)',
    }

    def _checkpointer(self):
        """Copies the WAL into the database every CHECKPOINT_S, beside the writer: a
        checkpoint run by a commit (SQLite's default, every 1,000 pages) held that commit,
        and the alarm in it, for 10 ms and more. PASSIVE never blocks the writer."""
        db = sqlite3.connect(str(self.path), timeout=30)
        try:
            while not self._stopped.wait(self.CHECKPOINT_S):
                try:
                    db.execute('PRAGMA wal_checkpoint(PASSIVE)')
                except sqlite3.Error:
                    pass            # busy now: the next round
        finally:
            db.close()

    def _writer_db(self):
        db = sqlite3.connect(str(self.path), timeout=30)
        db.execute('PRAGMA synchronous=NORMAL')     # WAL: durable at checkpoints, never corrupt
        db.execute('PRAGMA wal_autocheckpoint=0')   # the checkpointer thread does it
        return db

    ROW_ERRORS = ROW_ERRORS

    def _writer(self):
        db = self._writer_db()
        while True:
            with self._done:
                self._done.wait_for(lambda: self._pending or self._closing)
                batch, self._pending = self._pending, []
                if not batch and self._closing:
                    break
            after = [fn for kind, fn in batch if kind == 'then']
            rows = [(kind, r) for kind, r in batch if kind != 'then']
            try:
                try:
                    self._commit(db, rows)
                except self.ROW_ERRORS:     # one row spoils the batch: row by row, that one set aside
                    self._one_by_one(db, rows)
                self.commits += 1
                if self.error is None:
                    for fn in after:
                        try:
                            fn()
                        except Exception as e:      # the writer lives on; acks stop
                            self.error = 'after commit: %r' % e
            except Exception as e:          # the database cannot write: nothing more is acknowledged
                self.error = repr(e)
            with self._done:
                self._applied += len(batch)
                self._done.notify_all()
        db.close()

    def _commit(self, db, rows):
        written = quarantined = 0
        with db:
            for kind, run in runs(rows):      # runs of one kind go in one executemany
                before = db.total_changes
                db.executemany(self.SQL[kind], run)
                if kind == 'event':
                    written += db.total_changes - before
                elif kind == 'quarantine':
                    quarantined += len(run)
        self.written += written            # counted once committed (a batch may be tried again row by row)
        self.quarantined += quarantined

    @staticmethod
    def _device_of(kind, row):
        """The device a row is about (None when it names none)."""
        return row[0] if kind in ('event', 'gap', 'alarm_ack') and isinstance(row[0], str) else None

    @staticmethod
    def _shape(kind, row):
        """A row as this back-end's SQL takes it (SQLite's: as made)."""
        return row

    def _one_by_one(self, db, rows):
        for kind, r in rows:
            try:
                self._commit(db, [(kind, r)])
            except self.ROW_ERRORS as e:
                device = self._device_of(kind, r)
                why = 'the journal refused this %s row: %r' % (kind, e)
                raw = repr(r).encode('utf-8', 'replace')
                self._commit(db, [('quarantine', self._shape('quarantine', (time.time(), None, device, why, len(raw),
                                                                           raw[:QUARANTINE_KEEP])))])
                self.refused.append((device, why))

    def flush(self, timeout=30.0):
        """Wait until everything queued so far is committed."""
        with self._done:
            target = self._queued
            return self._done.wait_for(lambda: self._applied >= target, timeout)

    def close(self):
        if self.t.is_alive():
            self.flush()
        self._stopped.set()
        self.tc.join(10)
        with self._done:
            self._closing = True
            self._done.notify_all()
        self.t.join(10)        # the last connection to close folds the WAL in

    # --- reading -----------------------------------------------------------------------------
    def _reader(self):
        db = sqlite3.connect(str(self.path), timeout=30)
        db.row_factory = sqlite3.Row
        return db

    def query(self, device=None, etype=None, sev=None, since=None, until=None, limit=None, newest=False):
        """Events, oldest first (newest: newest first, so a limit keeps the latest), as dicts
        (the event's own fields plus device/received)."""
        where, args = self._device_where(device)
        if sev:
            where.append('sev = ?')
            args.append(sev)
        if etype:
            where.append('type LIKE ?')
            args.append(etype.replace('*', '%'))
        if since is not None:
            where.append('received >= ?')
            args.append(since)
        if until is not None:
            where.append('received < ?')
            args.append(until)
        def event(r):
            ev = json.loads(r['body'])
            ev['device'] = r['device']
            ev['received'] = r['received']
            return ev
        return self._select(self.EVENTS_SELECT, where, args,
                            'received DESC, device, seq DESC' if newest else 'received, device, seq', limit, event)

    EVENTS_SELECT = 'SELECT device, received, body FROM events'

    @staticmethod
    def _device_where(device):
        """([condition], [args]) for a device filter: a name, or SITE/* (a centre's journal
        names devices SITE/DEVICE: every device of that site)."""
        if not device:
            return [], []
        if device.endswith('/*'):
            return ['device LIKE ?'], [device[:-1] + '%']
        return ['device = ?'], [device]

    def _select(self, sql, where, args, order, limit, row):
        """Rows of `sql` filtered by the AND of `where`, ordered, limited, each made by `row`."""
        if where:
            sql += ' WHERE ' + ' AND '.join(where)
        sql += ' ORDER BY ' + order
        if limit:
            sql += ' LIMIT %d' % int(limit)
        db = self._reader()
        try:
            return [row(r) for r in db.execute(sql, args)]
        finally:
            db.close()

    def actions(self, operator=None, since=None, until=None, limit=None):
        """What operators did (see action()), newest first, detail parsed."""
        where, args = [], []
        for clause, val in (('operator = ?', operator), ('at >= ?', since), ('at < ?', until)):
            if val is not None:
                where.append(clause)
                args.append(val)
        return self._select('SELECT at, operator, action, device, ctrl, type, detail FROM actions', where, args,
                            'id DESC', limit, lambda r: dict(r, detail=json.loads(r['detail'] or '{}')))

    def set_aside(self, device=None, since=None, limit=None):
        """Messages set aside (the quarantine), oldest first: at, topic, device, reason,
        size and raw (the first QUARANTINE_KEEP bytes as received)."""
        where, args = [], []
        if device:
            where.append('device = ?')
            args.append(device)
        if since is not None:
            where.append('at >= ?')
            args.append(since)
        return self._select('SELECT at, topic, device, reason, size, raw FROM quarantine', where, args, 'id',
                            limit, dict)

    def board_logs(self, device, since=None, lvl=4, limit=None):
        """A board's log lines at or below level `lvl`, oldest first (the newest `limit`)."""
        where, args = ['device = ?', 'lvl <= ?'], [device, lvl]
        if since is not None:
            where.append('at >= ?')
            args.append(since)
        rows = self._select('SELECT device, at, ts, lvl, msg, dropped FROM board_logs', where, args, 'id DESC',
                            limit, dict)
        return rows[::-1]

    def count(self, device=None):
        db = self._reader()
        try:
            if device:
                return db.execute('SELECT COUNT(*) FROM events WHERE device=?', (device,)).fetchone()[0]
            return db.execute('SELECT COUNT(*) FROM events').fetchone()[0]
        finally:
            db.close()

    def table(self, name):
        db = self._reader()
        try:
            return [dict(r) for r in db.execute('SELECT * FROM %s' % name)]
        finally:
            db.close()

    def prune(self, days, alarm_days):
        """Drop events older than `days`, alarm events older than `alarm_days` (kept longest)."""
        now = time.time()
        db = sqlite3.connect(str(self.path), timeout=30)
        try:
            with db:
                a = db.execute("DELETE FROM events WHERE received < ? AND (sev IS NULL OR sev != 'alarm')",
                               (now - days * 86400,)).rowcount
                b = db.execute("DELETE FROM events WHERE received < ? AND sev = 'alarm'",
                               (now - alarm_days * 86400,)).rowcount
                db.execute('DELETE FROM commands WHERE sent < ?', (now - days * 86400,))
                db.execute('DELETE FROM room_alarms WHERE at < ?', (now - alarm_days * 86400,))
                db.execute('DELETE FROM quarantine WHERE at < ?', (now - alarm_days * 86400,))
                db.execute('DELETE FROM board_logs WHERE at < ?', (now - days * 86400,))
                db.execute('DELETE FROM actions WHERE at < ?', (now - alarm_days * 86400,))
            return {'events': a, 'alarms': b}
        finally:
            db.close()


def backup(src, dest):
    """Copy the journal at `src` to `dest` while it is in use (SQLite's online backup: a
    consistent snapshot, writers carry on), then check the copy. Returns its figures."""
    src, dest = Path(src), Path(dest)
    if not src.exists():
        raise FileNotFoundError('no journal at %s' % src)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + '.part')
    if tmp.exists():
        tmp.unlink()
    a = sqlite3.connect(str(src), timeout=30)
    b = sqlite3.connect(str(tmp))
    try:
        a.backup(b)          # one step, one read snapshot: WAL lets the writer carry on meanwhile
        b.execute('PRAGMA journal_mode=DELETE')   # the copy is one self-contained file
        info = check(b)
    finally:
        a.close()
        b.close()
    tmp.replace(dest)
    info['file'] = str(dest)
    info['bytes'] = dest.stat().st_size
    return info


def check(db):
    """A journal's integrity and contents: {'events', 'alarms'}; raises ValueError when the
    file is damaged or not a journal."""
    try:
        ok = db.execute('PRAGMA integrity_check').fetchone()[0]
        if ok != 'ok':
            raise ValueError('damaged: %s' % ok)
        return {'events': db.execute('SELECT COUNT(*) FROM events').fetchone()[0],
                'alarms': db.execute("SELECT COUNT(*) FROM events WHERE sev='alarm'").fetchone()[0]}
    except sqlite3.DatabaseError as e:
        raise ValueError('not a journal: %s' % e)


def restore(src, dest):
    """Put a backup in place of the journal at `dest`; refused while the journal is open
    (its WAL file is there) or when the backup is damaged. The journal it replaces is kept
    beside it as .replaced."""
    src, dest = Path(src), Path(dest)
    wal = dest.with_name(dest.name + '-wal')
    if wal.exists() and wal.stat().st_size:
        raise RuntimeError('the journal %s is open (%s is there): stop `edgectl journal run` and the monitors '
                           'writing it first' % (dest, wal.name))
    db = sqlite3.connect('file:%s?mode=ro' % src, uri=True)
    try:
        info = check(db)
    finally:
        db.close()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + '.restoring')
    tmp.write_bytes(src.read_bytes())
    if dest.exists():
        dest.replace(dest.with_name(dest.name + '.replaced'))
    for side in ('-wal', '-shm'):
        p = dest.with_name(dest.name + side)
        if p.exists():
            p.unlink()
    tmp.replace(dest)
    return info


class Backups:
    """Backups taken by the headless journal every `every_s` into a folder, the newest
    `keep` kept (journal-YYYYmmdd-HHMMSS.sqlite3)."""

    def __init__(self, src, folder, every_s, keep):
        self.src, self.folder, self.every_s, self.keep = Path(src), Path(folder), every_s, keep
        self.last = 0.0

    def due(self, now=None):
        return (now or time.time()) - self.last >= self.every_s

    def take(self, now=None):
        now = now or time.time()
        self.last = now
        name = 'journal-%s.sqlite3' % time.strftime('%Y%m%d-%H%M%S', time.localtime(now))
        info = backup(self.src, self.folder / name)
        old = sorted(self.folder.glob('journal-*.sqlite3'))[:-self.keep]
        for p in old:
            p.unlink()
        info['removed'] = [p.name for p in old]
        return info


def _cell(v):
    """A text a spreadsheet would run as a formula (=, +, -, @, tab, CR first: a board names
    its controller as it likes) gets a leading ' so it is shown, never run."""
    return "'" + v if isinstance(v, str) and v[:1] in ('=', '+', '-', '@', '\t', '\r') else v


def to_csv(rows):
    cols = ['received', 'device', 'seq', 'ts', 'ctrl', 'type', 'sev', 'active']
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(cols + ['fields'])
    for r in rows:
        extra = {k: v for k, v in r.items() if k not in cols}
        w.writerow([_cell(r.get(c)) for c in cols] + [json.dumps(extra) if extra else ''])
    return buf.getvalue()
