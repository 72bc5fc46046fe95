"""Escalation end to end (issue 21): `edgectl monitor --plain --notify` with the site file's
alarm settings, real mosquitto and a simulated door. A forced door (high) nobody
acknowledges is escalated after the site's escalate_s: the line view says so with its
priority, the journal keeps room.escalated, and the command hook is told of the raise and
the escalation; a held-open door re-prioritised low by the device never escalates."""
import json
import sqlite3
import subprocess
import sys
import time

from edgectl.sim.simio import SimIO
from polling import until

SITE = """\
site: es
broker: {host: 127.0.0.1, port: %(port)d}
alarms:
  escalate_s: {high: 2, low: 0}
  notify:
    - {cmd: [%(py)s, "-c", "import os, sys; open(sys.argv[1], 'a').write(os.environ['EDGE_ALARM_EVENT'] + ' ' + os.environ['EDGE_ALARM_TYPE'] + ' ' + os.environ['EDGE_ALARM_PRIORITY'] + chr(10))", "%(out)s"], events: [raise, escalate]}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 20, held_open_s: 1, prealarm_s: 0}
    alarms: {priority: {door.held_open: low}}
"""


wait = until


def test_an_unacknowledged_alarm_escalates_on_the_site_with_its_hooks(make_board, broker, tmp_path):
    out = tmp_path / 'hook.txt'
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % {'port': broker.port, 'py': json.dumps(sys.executable), 'out': out})
    db = tmp_path / 'journal.sqlite3'
    mon = subprocess.Popen([sys.executable, '-m', 'edgectl.cli', 'monitor', '--plain', '--no-keys', '--notify',
                            '--site', str(site), '--db', str(db), '--duration', '30'],
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    io = None
    try:
        assert mon.stdout.readline().startswith('monitoring site es')
        b = make_board(site.read_text(), 'lobby-1', site_broker=True)
        io = SimIO(b.io_port)
        time.sleep(1.0)
        t0 = time.monotonic()
        io.set('front.contact', 1)              # forced (high: 2 s), then held open past 1 s (low: never)
        lines = wait(lambda: 'escalate door.forced high' in (out.read_text() if out.exists() else '') and
                     out.read_text().split('\n'), 15)
        took = time.monotonic() - t0
        assert lines, 'the hook was never told of the escalation'
        assert 'raise door.forced high' in lines and 'raise door.held_open low' in lines
        assert 2.0 <= took < 8.0, 'escalated %.1f s after the raise (escalate_s 2)' % took
        assert not any(x.startswith('escalate door.held_open') for x in lines)
        c = sqlite3.connect('file:%s?mode=ro' % db, uri=True, timeout=5)
        rows = wait(lambda: c.execute("SELECT body FROM room_alarms WHERE type='room.escalated'").fetchall(), 5)
        assert [json.loads(r[0])['alarm'] for r in rows] == ['front/door.forced']
        c.close()
    finally:
        mon.terminate()
        text, _ = mon.communicate(timeout=15)
        if io is not None:
            io.close()
    shown = [x for x in text.splitlines() if 'ESCAL' in x]
    assert len(shown) == 1 and 'HIGH' in shown[0] and 'door.forced' in shown[0], text
    assert any(' ALARM ' in x and 'LOW' in x and 'door.held_open' in x for x in text.splitlines()), text
