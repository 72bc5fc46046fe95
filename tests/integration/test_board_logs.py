"""Board logs (issue 21) with real mosquitto and a simulated board: lines published on
edge/v1/<site>/<device>/log at the site file's log_level, journaled by the monitor, read back
by `edgectl logs` (journal and --follow), the level changed by the system `log` command; a
crash's traceback reaches the journal as system.crash at the next boot."""
import json
import subprocess
import sys
import time

from edgectl.core import commands, proto
from edgectl.room.monitor import Monitor
from edgectl.sim.simio import SimIO
from edgectl.room.store import Store
from polling import until

T = proto.topics
SITE = """\
site: bl
broker: {host: 127.0.0.1, port: %d}
devices:
  lobby-1:
    board: esp32-devkitc
    log_level: 4
    safe_boots: 1
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 20}
"""


def wait(pred, timeout):
    return until(pred, timeout, 0.05)


def test_board_log_lines_are_journaled_followed_and_their_level_changed(make_board, broker, tmp_path):
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % broker.port)
    store = Store(tmp_path / 'journal.sqlite3')
    mon = Monitor('bl', store=store)
    mon.show = lambda rec: None
    mon.attach(broker.endpoint())
    b = make_board(site.read_text(), 'lobby-1', site_broker=True)
    io = SimIO(b.io_port)
    follow = subprocess.Popen([sys.executable, '-m', 'edgectl.cli', 'logs', 'lobby-1', '--follow', '--json',
                               '--site', str(site), '--db', str(tmp_path / 'none.sqlite3'), '--duration', '20'],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert mon.wait_for(lambda r: r['kind'] == 'status' and r['msg'].get('online'), 15)
        time.sleep(1.0)                         # `logs --follow` subscribed meanwhile
        io.set('front.contact', 1)              # forced: at log_level 4 every event is a debug line
        line = mon.wait_for(lambda r: r['kind'] == 'log' and 'door.forced' in r['msg']['msg'], 10)
        assert line and line['msg']['lvl'] == 4 and line['device'] == 'lobby-1'
        assert not any(r['kind'] == 'log' and not r.get('hidden') for r in mon.records)   # not in the event log
        ack = commands.send(broker.endpoint(), 'bl', 'lobby-1', 'system', 'log', {'level': 1}, timeout=5)
        assert ack['ok'] and ack['state'] == {'log_level': 1}
        bad = commands.send(broker.endpoint(), 'bl', 'lobby-1', 'system', 'log', {'level': 9}, timeout=5)
        assert not bad['ok'] and 'level=0..4' in bad['err']
        n = sum(1 for r in mon.records if r['kind'] == 'log')
        io.set('front.contact', 0)
        assert mon.wait_event('lobby-1', 'door.forced', 10, active=False)
        time.sleep(0.5)
        assert sum(1 for r in mon.records if r['kind'] == 'log') == n, 'debug lines after level 1'
        assert store.flush()
        rows = store.board_logs('lobby-1')
        assert any('door.forced' in r['msg'] and r['lvl'] == 4 for r in rows)
        r = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'logs', 'lobby-1', '--db', str(store.path),
                            '--level', 'debug'], capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert r.returncode == 0 and 'DEBUG evt front door.forced' in r.stdout, r.stdout + r.stderr
        r = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'logs', 'lobby-1', '--db', str(store.path),
                            '--level', 'warn'], capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert r.returncode == 0 and 'door.forced' not in r.stdout
        follow.terminate()
        out, err = follow.communicate(timeout=10)
        live = [json.loads(x) for x in out.splitlines()]
        assert any('door.forced' in x['msg'] and x['device'] == 'lobby-1' for x in live), out + err
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.communicate()
        io.close()
        mon.detach()
        store.close()


def test_a_crash_traceback_reaches_the_journal_at_the_next_boot(make_board, broker, tmp_path):
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % broker.port)
    store = Store(tmp_path / 'journal.sqlite3')
    mon = Monitor('bl', store=store)
    mon.show = lambda rec: None
    mon.attach(broker.endpoint())
    b = make_board(site.read_text(), 'lobby-1', site_broker=True)
    try:
        assert mon.wait_event('lobby-1', 'system.boot', 15)
        io = SimIO(b.io_port)
        io.request('fault crash_boot')          # every boot from now on dies wiring its inputs
        io.close()
        m = len(mon.records)
        assert commands.send(broker.endpoint(), 'bl', 'lobby-1', 'system', 'reboot', {}, timeout=5)['ok']
        crash = mon.wait_event('lobby-1', 'system.crash', 30, start=m)   # the boot after: safe mode, online
        assert crash, b.log_tail()
        assert crash['msg']['where'] == 'boot' and 'injected fault' in crash['msg']['tb'], crash
        assert store.flush()
        rows = store.query(device='lobby-1', etype='system.crash')
        assert rows and 'HalError' in rows[0]['tb']
    finally:
        mon.detach()
        store.close()
