"""The control room against real mosquitto and simulated boards: an alarm is shown on the
full-screen view and journaled in SQLite; an acknowledgement made there is seen by a
second monitor; a killed board raises the offline alarm; a silent board the silent one;
duplicate and out-of-order deliveries are journaled once, gaps recorded; the journal's
query, CSV and retention."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from edgectl.core import proto
from edgectl.room.monitor import Monitor
from edgectl.sim.simio import SimIO
from edgectl.room.store import Store

T = proto.topics
SITE = """\
site: cr
broker: {host: 127.0.0.1, port: %d}
devices:
  lobby-1:
    board: esp32-devkitc
    tele_s: 5
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 20}
"""


class Tmux:
    def __init__(self, name, cmd, cwd):
        self.name = name
        subprocess.run(['tmux', 'kill-session', '-t', name], capture_output=True)
        subprocess.run(['tmux', 'new-session', '-d', '-s', name, '-x', '160', '-y', '50', '-c', str(cwd), cmd],
                       check=True)

    def screen(self):
        return subprocess.run(['tmux', 'capture-pane', '-p', '-t', self.name], capture_output=True, text=True).stdout

    def wait(self, pred, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.screen()
            if pred(s):
                return s
            time.sleep(0.05)
        raise AssertionError('screen never matched; it shows:\n' + self.screen())

    def keys(self, *k):
        subprocess.run(['tmux', 'send-keys', '-t', self.name] + list(k), check=True)

    def close(self):
        subprocess.run(['tmux', 'kill-session', '-t', self.name], capture_output=True)


@pytest.mark.skipif(shutil.which('tmux') is None, reason='tmux drives the full-screen view (tools/install.sh installs it)')
def test_alarm_shown_journaled_acknowledged_everywhere_and_offline_alarm(make_board, broker, tmp_path):
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % broker.port)
    b = make_board(site.read_text(), 'lobby-1', site_broker=True)
    io = SimIO(b.io_port)
    db = tmp_path / 'journal.sqlite3'
    view = Tmux('edgectl-cr-test-%d' % os.getpid(), '%s -m edgectl.cli monitor --site %s --operator ann --db %s' % (
        sys.executable, site, db), tmp_path)
    other = Monitor('cr', operator='bob').attach(broker.endpoint())
    try:
        view.wait(lambda s: 'lobby-1' in s and 'online' in s)
        t0 = time.monotonic()
        io.set('front.contact', 1)                       # forced open
        view.wait(lambda s: 'door.forced' in s and 'NO' in s, 5)
        shown = time.monotonic() - t0
        assert shown < 2.0, 'alarm on screen %.2f s after the input' % shown
        view.keys('k')
        view.wait(lambda s: 'by ann' in s)
        key = ('lobby-1', 'front', 'door.forced')
        assert other.wait_for(lambda r: key in other.acked, 5) is not None or key in other.acked
        assert other.acked[key]['by'] == 'ann'
        late = Monitor('cr', operator='carol').attach(broker.endpoint())   # started later: retained
        try:
            end = time.monotonic() + 5
            while key not in late.acked and time.monotonic() < end:
                time.sleep(0.05)
            assert late.acked.get(key, {}).get('by') == 'ann'
        finally:
            late.detach()

        b.kill(restart=False)                            # power cut: the broker sends its will
        view.wait(lambda s: 'room.offline' in s and 'OFFLINE' in s, 10)
        assert ('lobby-1', 'room', 'room.offline') in other.alarms
        view.keys('q')
        time.sleep(1.0)
        store = Store(db)
        try:
            rows = store.query(device='lobby-1', etype='door.forced')
            assert len(rows) == 1 and rows[0]['active'] is True
            acks = store.table('alarm_acks')
            assert [(a['type'], a['by']) for a in acks] == [('door.forced', 'ann')]
            room = store.table('room_alarms')
            assert any(r['type'] == 'room.offline' and r['active'] == 1 for r in room)
        finally:
            store.close()
    finally:
        other.detach()
        view.close()
        io.close()


def ev(seq, etype='door.opened', sev='info', **kw):
    return json.dumps(dict(seq=seq, ts=1764288000000 + seq, type=etype, sev=sev, ctrl='front', **kw)).encode()


def test_duplicates_and_out_of_order_are_journaled_once_and_gaps_recorded(tmp_path):
    store = Store(tmp_path / 'j.sqlite3')
    mon = Monitor('cr', store=store)
    mon.show = lambda rec: None
    topic = T.evt('cr', 'lobby-1', 'front')
    for seq in (1, 2, 2, 5, 3, 1, 4, 5, 6):
        mon.handle(topic, ev(seq))
    assert store.flush()
    assert [r['seq'] for r in store.query()] == [1, 2, 5, 3, 4, 6]
    assert mon.duplicates == 3
    mon.handle(topic, ev(9))
    mon.check_gaps(time.time() + mon.journal.reorder_s)     # 3 and 4 came late, inside the reorder window
    assert store.flush()
    assert [(g['device'], g['first'], g['last']) for g in store.table('gaps')] == [('lobby-1', 7, 8)]
    store.close()


def test_a_silent_board_raises_an_alarm_after_three_telemetry_periods(tmp_path):
    mon = Monitor('cr', tele_s={'lobby-1': 5})
    mon.show = lambda rec: None
    mon.handle(T.status('cr', 'lobby-1'), b'{"online": true}', when=1000.0)
    mon.check_silence(now=1014.0)
    assert ('lobby-1', 'room', 'room.silent') not in mon.alarms
    mon.check_silence(now=1016.0)
    assert ('lobby-1', 'room', 'room.silent') in mon.alarms
    mon.handle(T.tele('cr', 'lobby-1'), b'{"uptime_s": 1}')
    assert ('lobby-1', 'room', 'room.silent') not in mon.alarms


def test_journal_query_filters_csv_and_retention(tmp_path):
    db = tmp_path / 'j.sqlite3'
    store = Store(db)
    now = time.time()
    store.event('a', json.loads(ev(1, 'door.forced', 'alarm', active=True)), now - 200 * 86400)
    store.event('a', json.loads(ev(2, 'door.opened')), now - 200 * 86400)
    store.event('b', json.loads(ev(1, 'pump.started')), now - 3600)
    store.event('b', json.loads(ev(2, 'pump.low_water', 'alarm', active=True)), now - 60)
    store.close()
    run = lambda *a: subprocess.run([sys.executable, '-m', 'edgectl.cli', 'journal'] + list(a) + ['--db', str(db)],
                                    capture_output=True, text=True, timeout=60, cwd=tmp_path)
    r = run('query', '--json', '--type', 'pump.*')
    assert r.returncode == 0 and [x['type'] for x in json.loads(r.stdout)] == ['pump.started', 'pump.low_water']
    r = run('query', '--json', '--sev', 'alarm', '--since=-2h')
    assert [x['type'] for x in json.loads(r.stdout)] == ['pump.low_water']
    r = run('query', '--csv', '--device', 'a')
    lines = r.stdout.strip().splitlines()
    assert lines[0].startswith('received,device,seq') and len(lines) == 3
    r = run('query', '--since', 'yesterday-ish')
    assert r.returncode == 2 and 'cannot read the time' in r.stderr
    r = run('prune', '--days', '90', '--alarm-days', '365', '--json')
    assert json.loads(r.stdout) == {'events': 1, 'alarms': 0}, 'the old alarm is kept longest'
    r = run('query', '--json', '--device', 'a')
    assert [x['type'] for x in json.loads(r.stdout)] == ['door.forced']


def test_headless_journal_loses_nothing_across_a_kill(make_board, broker, tmp_path):
    import signal
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % broker.port)
    b = make_board(site.read_text(), 'lobby-1', site_broker=True)
    io = SimIO(b.io_port)
    db = tmp_path / 'j.sqlite3'
    cmd = [sys.executable, '-m', 'edgectl.cli', 'journal', 'run', '--site', str(site), '--db', str(db)]

    def toggle(n):
        for _ in range(n):
            io.set('front.contact', 1)
            time.sleep(0.05)
            io.set('front.contact', 0)
            time.sleep(0.05)
    try:
        j = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(1.5)
        toggle(5)
        time.sleep(0.5)
        j.send_signal(signal.SIGKILL)                     # the service dies
        j.wait()
        toggle(5)                                         # events while it is down
        j = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(2.5)
        j.terminate()
        j.wait(10)
        store = Store(db)
        try:
            seqs = sorted(r['seq'] for r in store.query(device='lobby-1'))
        finally:
            store.close()
        top = max(seqs)
        assert seqs == list(range(seqs[0], top + 1)), 'gaps in the journal: %r' % seqs
        assert len(seqs) >= 40, 'about 20 open/close pairs expected, journaled %d' % len(seqs)
    finally:
        io.close()


def test_a_wiped_board_alarms_reach_the_control_room_although_its_seq_starts_again(make_board, broker, tmp_path):
    """A flash erase (or a replacement board under the same name) starts seq at 1 again;
    without the log id its new events, the alarms among them, were dropped as duplicates."""
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % broker.port)
    b = make_board(site.read_text(), 'lobby-1', site_broker=True)
    store = Store(tmp_path / 'j.sqlite3')
    mon = Monitor('cr', store=store).attach(broker.endpoint())
    io = SimIO(b.io_port)
    try:
        m = mon.mark()
        for _ in range(3):
            io.set('front.contact', 1)
            time.sleep(0.1)
            io.set('front.contact', 0)
            time.sleep(0.1)
        assert mon.wait_event('lobby-1', 'door.forced', 5, active=False, start=m)
        io.close()
        b.stop()
        for f in b.fs.glob('outbox.log*'):              # the flash was erased (the outbox's segments)
            f.unlink()
        b.start()
        io = SimIO(b.io_port)
        m = mon.mark()
        io.set('front.contact', 1)
        rec = mon.wait_event('lobby-1', 'door.forced', 5, active=True, start=m)
        assert rec, 'the wiped board\'s alarm never reached the control room'
        assert rec['msg']['seq'] < 10
        assert ('lobby-1', 'front', 'door.forced') in mon.alarms
        assert store.flush()
        logs = {r['log'] for r in store.query(device='lobby-1')}
        assert len(logs) == 2 and 0 not in logs
        rows = store.query(device='lobby-1', etype='door.forced')
        assert rows[-1]['seq'] == rec['msg']['seq'], [(r['log'], r['seq'], r['received'], r.get('active')) for r in rows]
    finally:
        io.close()
        mon.detach()
        store.close()
