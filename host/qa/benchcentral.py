"""`edgectl bench central`: a monitoring centre's intake measured on this machine. Sites'
mosquittos bridged over TLS to a central one (host/qa/centrerig.py), raw-socket publishers
at each site (as `bench ingest`), the centre's journal as `edgectl journal run --centre
--db postgresql://... --share` processes (1, 2, 4 writers) into a throw-away PostgreSQL;
mosquitto_sub at the centre for the receive-only ceiling. Then the outage run: one site's
WAN link cut for `cut_s` while its events go on, and a writer killed with SIGKILL mid-run
and started again: lost, duplicates and the cut site's backlog time are counted."""
import multiprocessing
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..core.proto import topics
from ..room.pgserver import PgServer
from .bench import _publisher
from .centrerig import CentreRig


def _count(url):
    import psycopg
    with psycopg.connect(url) as db:
        return db.execute('SELECT COUNT(*), COUNT(DISTINCT (site, device, log, seq)) FROM events').fetchone()


def _writer(rig, url, n, group, folder):
    log = open(Path(folder) / ('%s-%d.log' % (group, n)), 'ab')
    p = subprocess.Popen([sys.executable, '-m', 'edgectl.cli', 'journal', 'run', '--centre', str(rig.centre_file),
                          '--db', url, '--share', group, '--writer', str(n)],
                         stdout=log, stderr=subprocess.STDOUT, cwd=str(folder))
    log.close()
    return p


def _ready(folder, group, n, timeout=20):
    end = time.monotonic() + timeout
    logs = [Path(folder) / ('%s-%d.log' % (group, i)) for i in range(1, n + 1)]
    while time.monotonic() < end:
        if all(p.exists() and b'journal of every site' in p.read_bytes() for p in logs):
            return True
        time.sleep(0.1)
    return False


def _stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class _Stream:
    """One publishing process per site, each `per` events over `devices` devices of its site."""

    def __init__(self, rig, per, devices, first=0):
        ctx = multiprocessing.get_context('spawn')
        self.go = ctx.Event()
        self.procs = [ctx.Process(target=_publisher, args=('127.0.0.1', rig.sites[s].port, first + k, per, devices,
                                                           self.go, s))
                      for k, s in enumerate(sorted(rig.sites))]
        for p in self.procs:
            p.start()
        time.sleep(1.0)            # all connected

    def start(self):
        self.t0 = time.time()
        self.go.set()
        return self

    def join(self, timeout=300):
        for p in self.procs:
            p.join(timeout)


def _until(pred, timeout, every=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(every)
    return pred()


def central(events=60000, devices=200, writers=(1, 2, 4), cut_s=30, progress=None):
    """events: in each run, over all sites (3 sites x `devices` devices)."""
    out = {'name': 'central', 'sites': 3, 'devices_per_site': devices, 'events': None, 'runs': []}
    with tempfile.TemporaryDirectory(prefix='edgectl-bench-central-') as work, PgServer() as pg, \
            CentreRig(Path(work) / 'rig', inflight=1000) as rig:
        if not rig.wait_bridges(20):
            raise RuntimeError('the bridges did not come up: %s' % rig.broker.last_error())
        nsites = len(rig.sites)
        per = events // nsites
        total = per * nsites
        out['events'] = total
        for i, n in enumerate(writers):
            url = pg.create_db('central_%d' % n)
            from ..room.pgstore import PgStore
            PgStore(url).close()
            group = 'w%d' % n
            procs = [_writer(rig, url, k, group, work) for k in range(1, n + 1)]
            try:
                if not _ready(work, group, n):
                    raise RuntimeError('the journal writers did not start (logs in %s)' % work)
                s = _Stream(rig, per, devices, first=100 * (i + 1)).start()
                done = _until(lambda: _count(url)[0] >= total, 300, 0.05)
                t = time.time() - s.t0
                s.join()
                rows, distinct = _count(url)
                out['runs'].append({'writers': n, 'committed_per_s': round(rows / t), 'rows': rows,
                                    'lost': total - distinct, 'duplicates_in_table': rows - distinct,
                                    'complete': bool(done)})
            finally:
                _stop(procs)
            if progress:
                progress(i + 1, len(writers) + 2)
        # the receive-only ceiling: mosquitto_sub at the centre's room listener
        exe = shutil.which('mosquitto_sub')
        if exe:
            p = subprocess.Popen([exe, '-h', '127.0.0.1', '-p', str(rig.broker.room_port), '--cafile', str(rig.ca),
                                  '-u', rig.room[0], '-P', rig.room[1], '-i', topics.CLIENT_PREFIX + 'bench-sub',
                                  '-q', '1', '-t', 'edge/v1/+/+/evt/+', '-C', str(total)], stdout=subprocess.DEVNULL)
            time.sleep(0.5)
            s = _Stream(rig, per, devices, first=900).start()
            try:
                p.wait(300)
                out['mosquitto_sub_per_s'] = round(total / (time.time() - s.t0))
            except subprocess.TimeoutExpired:
                p.kill()
            s.join()
        if progress:
            progress(len(writers) + 1, len(writers) + 2)
        out['outage'] = _outage(rig, pg, work, per, devices, cut_s)
        if progress:
            progress(len(writers) + 2, len(writers) + 2)
    return out


def _outage(rig, pg, work, per, devices, cut_s):
    """2 writers; one site's link cut for cut_s while the stream runs; writer 1 killed
    (SIGKILL) mid-run and started again."""
    url = pg.create_db('central_outage')
    from ..room.pgstore import PgStore
    PgStore(url).close()
    group = 'outage'
    procs = {k: _writer(rig, url, k, group, work) for k in (1, 2)}
    cut = sorted(rig.sites)[0]
    try:
        if not _ready(work, group, 2):
            raise RuntimeError('the journal writers did not start (logs in %s)' % work)
        total = per * len(rig.sites)
        s = _Stream(rig, per, devices, first=500)
        rig.links[cut].cut()
        s.start()
        time.sleep(min(2.0, cut_s / 3))
        procs[1].send_signal(signal.SIGKILL)          # mid-run, no goodbye
        procs[1].wait()
        procs[1] = _writer(rig, url, 1, group, work)
        s.join()
        time.sleep(max(0.0, cut_s - (time.time() - s.t0)))

        def cut_site_rows():
            import psycopg
            with psycopg.connect(url) as db:
                return db.execute('SELECT COUNT(*) FROM events WHERE site = %s', (cut,)).fetchone()[0]
        before = cut_site_rows()
        back = time.time()
        rig.links[cut].restore()
        done = _until(lambda: cut_site_rows() >= per, 120, 0.05)
        backlog_s = time.time() - back
        _until(lambda: _count(url)[0] >= total, 60, 0.05)
        rows, distinct = _count(url)
        return {'cut_site': cut, 'cut_s': cut_s, 'writer_killed': 'SIGKILL, restarted', 'events': total,
                'cut_site_rows_before_return': before, 'backlog_delivered_s': round(backlog_s, 2) if done else None,
                'lost': total - distinct, 'duplicates_in_table': rows - distinct}
    finally:
        _stop(list(procs.values()))
