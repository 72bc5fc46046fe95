"""The centre's journal on PostgreSQL: writers sharing the sites' stream on an MQTT shared
subscription (`edgectl journal run --centre ... --db postgresql://... --share`), one of
them killed with SIGKILL mid-stream and started again: every event of every site is in
the table exactly once."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from edgectl.qa.centrerig import CentreRig
from edgectl.room.pgstore import PgStore
from polling import until


@pytest.fixture(scope='module')
def rig(tmp_path_factory):
    with CentreRig(tmp_path_factory.mktemp('centre')) as r:
        assert r.wait_bridges(15), r.broker.last_error()
        yield r


def _writer(rig, url, n, tmp_path):
    log = open(tmp_path / ('writer%d.log' % n), 'ab')
    return subprocess.Popen([sys.executable, '-m', 'edgectl.cli', 'journal', 'run', '--centre', str(rig.centre_file),
                             '--db', url, '--share', 'journal', '--writer', str(n)],
                            stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path))


def _count(url):
    import psycopg
    with psycopg.connect(url) as db:
        return db.execute('SELECT COUNT(*), COUNT(DISTINCT (site, device, log, seq)) FROM events').fetchone()


_until = until


def test_shared_writers_one_killed_lose_and_duplicate_nothing(rig, postgres, tmp_path):
    url = postgres.create_db('centre_shared')
    PgStore(url).close()                         # the schema, made by the tool
    writers = {n: _writer(rig, url, n, tmp_path) for n in (1, 2)}
    try:
        assert _until(lambda: all(b'journal of every site' in (tmp_path / ('writer%d.log' % n)).read_bytes()
                                  for n in writers), 15), [(tmp_path / ('writer%d.log' % n)).read_text() for n in writers]
        sites = sorted(rig.sites)
        pubs = [threading.Thread(target=rig.publish_events, args=(s, 'gate-1', range(1, 401))) for s in sites]
        for t in pubs:
            t.start()
        assert _until(lambda: _count(url)[0] >= 300, 10)
        writers[1].send_signal(signal.SIGKILL)     # mid-stream, no goodbye: its session stays at the centre
        writers[1].wait()
        for t in pubs:
            t.join()
        writers[1] = _writer(rig, url, 1, tmp_path)   # back: its queued share comes to it
        total = 400 * len(sites)
        assert _until(lambda: _count(url)[0] >= total, 20), _count(url)
        time.sleep(0.5)
        rows, distinct = _count(url)
        assert rows == distinct == total
    finally:
        for p in writers.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in writers.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
