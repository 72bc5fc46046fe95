"""Alarm management against abuse (issue 21): a door flapping open and shut floods the
control room while the site's webhook hangs, with real mosquitto, a simulated board and
`edgectl journal run` as the service runs it: every alarm is journaled, the flood is folded
(room.chattering), the command hook still runs, the hanging webhook is journaled as failed
and the intake never stalls. Malformed notification hooks in the site file are refused
with their line, and a hook that cannot run is said, never fatal."""
import http.server
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from edgectl.core import site as sitemod
from edgectl.room.alarms import Hook, Notifier
from edgectl.sim.simio import SimIO
from polling import until

SITE = """\
site: ab
broker: {host: 127.0.0.1, port: %(port)d}
alarms:
  chatter: {max: 3, window_s: 60}
  notify:
    - {webhook: "http://127.0.0.1:%(hook)d/alarm", timeout_s: 0.5, retries: 0, priorities: [critical, high]}
    - {cmd: [%(py)s, "-c", "import sys, os, json; open(sys.argv[1], 'a').write(json.load(sys.stdin)['type'] + ' ' + os.environ['EDGE_ALARM_EVENT'] + sys.argv[2] + chr(10))", "%(out)s", "$HOME"]}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 20}
"""


class Hang(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        time.sleep(5)            # never answers within the hook's timeout

    def log_message(self, *a):
        pass


def rows(db, sql):
    try:
        c = sqlite3.connect('file:%s?mode=ro' % db, uri=True, timeout=5)
        try:
            return c.execute(sql).fetchall()
        finally:
            c.close()
    except sqlite3.OperationalError:
        return []


wait = until


def test_a_flood_with_a_hanging_webhook_loses_no_alarm_and_is_folded(make_board, broker, tmp_path, abuse):
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Hang)
    srv.daemon_threads = True
    srv.block_on_close = False
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    out = tmp_path / 'hook.txt'
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % {'port': broker.port, 'hook': srv.server_address[1], 'py': json.dumps(sys.executable),
                            'out': out})
    db = tmp_path / 'journal.sqlite3'
    j = subprocess.Popen([sys.executable, '-m', 'edgectl.cli', 'journal', 'run', '--site', str(site), '--db', str(db)],
                         cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    io = None
    try:
        assert j.stdout.readline().startswith('journal of site ab'), 'the journal did not start'
        b = make_board(site.read_text(), 'lobby-1', site_broker=True)
        io = SimIO(b.io_port)
        assert wait(lambda: rows(db, "SELECT 1 FROM events WHERE type='system.boot'"), 15), 'the journal never got the board'
        n = 8
        for _ in range(n):                      # forced open and shut again, as fast as the debounce lets it
            io.set('front.contact', 1)
            time.sleep(0.08)
            io.set('front.contact', 0)
            time.sleep(0.08)
        abuse.input(refused=True, n=2 * n)      # the flood: folded, not rung 16 times
        raised = wait(lambda: len(rows(db, "SELECT 1 FROM events WHERE type='door.forced' AND active=1")) >= n and
                      rows(db, "SELECT body FROM room_alarms WHERE type='room.chattering' AND active=1"), 15)
        got = len(rows(db, "SELECT 1 FROM events WHERE type='door.forced' AND active=1"))
        if got < n:
            abuse.alarms_lost(n - got)
        assert got == n and len(rows(db, "SELECT 1 FROM events WHERE type='door.forced' AND active=0")) == n
        assert raised, 'room.chattering was not journaled'
        assert json.loads(raised[0][0])['alarm'] == 'front/door.forced'
        # the command hook ran for the first raises and clears and for room.chattering, not for the whole flood
        lines = wait(lambda: 'room.chattering raise$HOME' in (out.read_text() if out.exists() else '') and
                     out.read_text().split('\n'), 10)
        assert lines, 'the command hook never ran'
        # $HOME reached it as it was written: arguments are never given to a shell
        assert lines.count('door.forced raise$HOME') == 3 and lines.count('door.forced clear$HOME') == 3, lines
        # the hanging webhook: its failures journaled as room.notify_failed (door.forced is high)
        failed = wait(lambda: rows(db, "SELECT body FROM room_alarms WHERE type='room.notify_failed'"), 10)
        assert failed and 'timed out' in json.loads(failed[0][0])['why']
        # and the intake kept up: a new alarm is journaled at once while the webhook still hangs
        t0 = time.monotonic()
        io.set('front.contact', 1)
        assert wait(lambda: len(rows(db, "SELECT 1 FROM events WHERE type='door.forced' AND active=1")) > n, 5)
        assert time.monotonic() - t0 < 3.0
    finally:
        j.send_signal(signal.SIGTERM)
        try:
            j.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            j.kill()
            j.communicate()
        if io is not None:
            io.close()
        srv.shutdown()
        srv.server_close()
    assert j.returncode == 0 or j.returncode == 130 or j.returncode == -signal.SIGTERM


BAD_HOOKS = [
    '{cmd: "rm -rf /tmp/x", webhook: "http://h/"}',     # both
    '{events: [raise]}',                                  # neither
    '{webhook: "file:///etc/shadow"}',                    # not http(s): would read a local file
    '{webhook: "gopher://h/"}',
    '{webhook: "http:///no-host"}',
    '{webhook: "http://h:70000/"}',
    '{webhook: "http://h/a b"}',
    '{cmd: "echo \'open quote"}',
    '{cmd: []}',
    '{cmd: [42]}',
    '{cmd: [true], events: [explode]}',
    '{cmd: [true], priorities: [urgent]}',
    '{cmd: [true], timeout_s: 100000}',
    '{cmd: [true], retries: -1}',
    '{cmd: [true], shell: true}',
    '"sh -c reboot"',
    '{webhook: "http://h/", timeout_s: .nan}',
]


def test_malformed_hooks_in_the_site_file_are_refused_with_their_line(abuse):
    base = ('site: ab\nbroker: {host: 127.0.0.1, port: 1883}\nalarms:\n  notify:\n    - %s\n'
            'devices:\n  lobby-1:\n    board: esp32-devkitc\n    controllers:\n'
            '      - {name: front, type: door, pins: {contact: 4, lock: 25}}\n')
    for hook in BAD_HOOKS:
        s = sitemod.parse(base % hook, 'site.yaml')
        sitemod.validate(s)
        errs = [str(p) for p in s.errors]
        abuse.input(refused=bool(errs))
        assert errs and all(e.startswith('site.yaml:5: alarms.notify[0]') for e in errs), (hook, errs)
    s = sitemod.parse(base.replace('    - %s\n', ''.join('    - {cmd: [true]}\n' for _ in range(17))), 'site.yaml')
    sitemod.validate(s)
    abuse.input(refused=bool(s.errors))
    assert s.errors and 'alarms.notify' in str(s.errors[0]), 'more than 16 hooks were taken'


def test_a_hook_command_gets_no_edgectl_secrets_and_its_flood_of_output_is_cut(tmp_path, abuse, monkeypatch):
    monkeypatch.setenv('EDGE_OPERATOR_PASSWORD', 'hunter2-hunter2')
    out = tmp_path / 'env.json'
    n = Notifier([Hook({'cmd': [sys.executable, '-c', 'import json, os, sys; json.dump(dict(os.environ), '
                                'open(sys.argv[1], "w")); sys.stdout.write("x" * 50000000); sys.exit(1)', str(out)],
                        'timeout_s': 20})], 'ab')
    n.notify('raise', ('d', 'c', 'door.forced'), {'priority': 'high'})
    abuse.input(refused=True, n=2)
    assert n.wait_idle(30)
    env = json.loads(out.read_text())
    assert 'EDGE_OPERATOR_PASSWORD' not in env and env['EDGE_ALARM_TYPE'] == 'door.forced'
    why = n.failures[0][2]
    assert why.startswith('exit status 1: xxx') and len(why) < 400, why[:100]
    n.close()


def test_a_hook_that_cannot_run_is_said_and_the_next_one_still_goes(tmp_path, abuse):
    out = tmp_path / 'ok.txt'
    n = Notifier([Hook({'cmd': [str(tmp_path / 'no-such-program')]}),
                  Hook({'cmd': [sys.executable, '-c', 'import time; time.sleep(5)'], 'timeout_s': 0.3}),
                  Hook({'cmd': [sys.executable, '-c', 'import sys; open(sys.argv[1], "w").write("ok")', str(out)]})],
                 'ab')
    t0 = time.monotonic()
    assert n.notify('raise', ('d', 'c', 'door.forced'), {'priority': 'high'}) == 3
    assert time.monotonic() - t0 < 0.2
    abuse.input(refused=True, n=2)
    assert n.wait_idle(10)
    whys = sorted(why for _, _, why in n.failures)
    assert len(whys) == 2 and 'No such file' in whys[0] and 'did not finish within 0.3s' in whys[1], whys
    assert out.read_text() == 'ok'
    n.close()


# --- board logs ------------------------------------------------------------------------------
LOG_SITE = """\
site: lg
broker: {host: 127.0.0.1, port: %d}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
  lobby-2:
    board: esp32-devkitc
    controllers:
      - {name: rear, type: door, pins: {contact: 4, lock: 25}}
"""
BAD_LINES = [
    b'not json', b'[]', b'{}', b'{"lvl": 0, "ts": 1, "msg": "x"}', b'{"lvl": 9, "ts": 1, "msg": "x"}',
    b'{"lvl": 1, "ts": -1, "msg": "x"}', b'{"lvl": 1, "ts": 1, "msg": 42}', b'{"lvl": 1, "ts": 1, "msg": "x", '
    b'"dropped": -5}', json.dumps({'lvl': 1, 'ts': 1, 'msg': 'x' * 5000}).encode(),
]


def test_a_board_writes_only_its_own_log_topic_and_bad_lines_are_set_aside(tmp_path, abuse):
    from edgectl.core import proto, secrets
    from edgectl.core.broker import Broker, free_port
    from edgectl.room import fire
    from edgectl.room.monitor import Monitor
    from edgectl.room.store import Store
    T = proto.topics
    port = free_port(pair=True)
    site = tmp_path / 'site.yaml'
    site.write_text(LOG_SITE % port)
    s = sitemod.load_valid(site)
    sec, _ = secrets.ensure(site, sorted(s.devices))
    br = Broker(port=port, workdir=tmp_path / 'broker', site='lg', secrets=sec, raisers=fire.raisers(s)).start()
    store = Store(tmp_path / 'j.sqlite3')
    mon = Monitor('lg', store=store)
    mon.show = lambda rec: None
    try:
        mon.attach(br.endpoint((sec['room']['user'], sec['room']['password']), room=True), publish=False)
        thief = br.endpoint(('lobby-1', sec['devices']['lobby-1']['mqtt_password'])).connect('thief')
        time.sleep(0.3)
        line = json.dumps({'lvl': 1, 'ts': 1, 'msg': 'forged for lobby-2'})
        thief.publish(T.log('lg', 'lobby-2'), line, qos=1).wait_for_publish(5)     # another board's log
        abuse.input(refused=True)
        for raw in BAD_LINES:
            thief.publish(T.log('lg', 'lobby-1'), raw, qos=1).wait_for_publish(5)
        abuse.input(refused=True, n=len(BAD_LINES))
        thief.publish(T.log('lg', 'lobby-1'), json.dumps({'lvl': 2, 'ts': 1, 'msg': 'its own'}), qos=1).wait_for_publish(5)
        assert mon.wait_for(lambda r: r['kind'] == 'log' and r['msg']['msg'] == 'its own', 10)
        assert store.flush()
        assert [r['msg'] for r in store.board_logs('lobby-1')] == ['its own']
        assert store.board_logs('lobby-2') == [], 'a board wrote under another board\'s log topic'
        assert len(store.set_aside('lobby-1')) == len(BAD_LINES)
        assert mon.alarms[('lobby-1', 'room', 'room.malformed')]['count'] == len(BAD_LINES)
        thief.loop_stop()
    finally:
        mon.detach()
        store.close()
        br.stop()
