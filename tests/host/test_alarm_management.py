"""Alarm management (issue 21) in the control room's model: priorities from
controllers.json overridden by the site file and the device; views sorting and colouring
by them; escalation of unacknowledged alarms (marked, journaled, hooks told, bell
repeated); chattering alarms folded; notification hooks run as real commands and POSTed to
a real HTTP server on 127.0.0.1, retried, failures journaled and shown, never holding up
the intake."""
import http.server
import io
import json
import sys
import threading
import time

import pytest
from rich.console import Console

from edgectl.core import proto
from edgectl.core import site as sitemod
from edgectl.room.monitor import Monitor
from edgectl.room import alarms
from edgectl.room.alarms import Chatter, Hook, Notifier, Policy
from edgectl.room.roomview import RoomView
from edgectl.room.store import Store

T = proto.topics
SITE = """\
site: am
broker: {host: 127.0.0.1, port: 1883}
alarms:
  priority: {door.held_open: high, pump.low_water: low}
  escalate_s: {high: 30, low: 0}
  chatter: {max: 3, window_s: 60}
devices:
  lobby-1:
    board: esp32-devkitc
    alarms: {priority: {door.forced: critical}}
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
  gate-1:
    board: esp32-devkitc
    controllers:
      - {name: arm, type: barrier, pins: {beam: 34, up_limit: 35, down_limit: 32, motor_up: 25, motor_down: 26, eye_tx: 27}}
"""


def policy(text=SITE):
    s = sitemod.parse(text, 'site.yaml')
    sitemod.validate(s)
    assert not s.errors, s.errors
    return Policy.from_site(s)


class Feed:
    """A Monitor fed events by hand (no broker): seq per device, time given."""

    def __init__(self, pol=None, store=None, notifier=None, bell=None):
        self.mon = Monitor('am', console=Console(file=io.StringIO()), policy=pol, store=store, notifier=notifier,
                           bell=bell)
        self.shown = []
        self.mon.show = self.shown.append
        self.seq = {}

    def alarm(self, dev, ctrl, etype, active, when, **kw):
        self.seq[dev] = self.seq.get(dev, 0) + 1
        body = dict(seq=self.seq[dev], ts=1764288000000 + self.seq[dev], type=etype, sev='alarm', ctrl=ctrl,
                    active=active, **kw)
        return self.mon.handle(T.evt('am', dev, ctrl), json.dumps(body).encode(), when=when)


def test_priorities_come_from_controllers_json_then_the_site_then_the_device():
    d = Policy()
    assert d.priority('x', 'door.forced') == 'high'
    assert d.priority('x', 'door.fire_release') == 'critical'
    assert d.priority('x', 'barrier.fault') == 'high'
    assert d.priority('x', 'pump.low_water') == 'medium'
    assert d.priority('x', 'door.no_such') == proto.controllers()['alarms']['default_priority']
    p = policy()
    assert p.priority('gate-1', 'door.held_open') == 'high'         # the site's
    assert p.priority('gate-1', 'pump.low_water') == 'low'
    assert p.priority('lobby-1', 'door.forced') == 'critical'       # the device's
    assert p.priority('gate-1', 'door.forced') == 'high'            # another device: the default
    assert p.escalate_after('high') == 30 and p.escalate_after('low') is None
    assert p.escalate_after('critical') == proto.controllers()['alarms']['escalate_s']['critical']


def test_the_site_file_refuses_wrong_alarm_settings_with_their_line():
    bad = SITE.replace('pump.low_water: low', 'pump.low_watr: low').replace('{high: 30, low: 0}', '{high: -1}')
    bad = bad.replace('chatter: {max: 3, window_s: 60}', 'chatter: {max: 3, window_s: 60}\n  notify:\n'
                      '    - {cmd: [true], webhook: "http://x"}\n    - {webhook: "ftp://x/y"}\n    - {cmd: ""}')
    s = sitemod.parse(bad, 'site.yaml')
    sitemod.validate(s)
    msgs = [str(p) for p in s.errors]
    assert any(':4: alarms.priority.pump.low_watr: ' in m and "did you mean 'pump.low_water'" in m for m in msgs), msgs
    assert any(':5: alarms.escalate_s.high: ' in m and 'at least 0' in m for m in msgs), msgs
    assert any(':8: alarms.notify[0]' in m and 'one of the two' in m for m in msgs), msgs
    assert any(':9: alarms.notify[1].webhook' in m and 'http://' in m for m in msgs), msgs
    assert any(':10: alarms.notify[2].cmd' in m for m in msgs), msgs
    # the device's alarms key is the control room's: never in the board's config
    good = sitemod.parse(SITE, 'site.yaml')
    sitemod.validate(good)
    assert 'alarms' not in sitemod.device_config(good, 'lobby-1')


def test_alarms_carry_their_priority_and_the_views_sort_and_colour_by_it():
    f = Feed(policy())
    f.alarm('gate-1', 'arm', 'barrier.obstructed', True, 100.0)     # medium
    f.alarm('gate-1', 'arm', 'barrier.fault', True, 101.0, reason='eye_test')   # high
    f.alarm('lobby-1', 'front', 'door.forced', True, 102.0)        # critical on this device
    f.alarm('gate-1', 'arm', 'barrier.fire_open', True, 103.0)     # critical, newer
    order = [(k[2], e['priority']) for k, e, _ in f.mon.active_alarms()]
    assert order == [('barrier.fire_open', 'critical'), ('door.forced', 'critical'), ('barrier.fault', 'high'),
                     ('barrier.obstructed', 'medium')]
    line = f.mon.render(f.shown[2])                  # the line view: a badge in the priority's colour
    assert 'door.forced' in line and '[bold white on red]CRIT' in line
    assert '[yellow]MED ' in f.mon.render(f.shown[0])
    view = RoomView('am', None, 'ann', None, {}, None, policy=f.mon.policy)
    view.mon = f.mon
    rows, keys = view.frame(160, 50)
    assert keys[0][2] == 'barrier.fire_open'
    styles = {}
    for row in rows:
        text = ''.join(s[0] for s in row)
        for t in ('barrier.obstructed', 'barrier.fault', 'door.forced'):
            if t + ' ' in text:
                styles[t] = row[-1][1]
    assert styles == {'door.forced': alarms.STYLE['critical'], 'barrier.fault': alarms.STYLE['high'],
                      'barrier.obstructed': alarms.STYLE['medium']}


class Recorded:
    def __init__(self):
        self.notes = []
        self.failures = []

    def notify(self, what, key, ev, now=None):
        self.notes.append((what, key[2], ev.get('priority')))


def test_an_unacknowledged_alarm_is_escalated_after_its_prioritys_time(tmp_path):
    store = Store(tmp_path / 'j.sqlite3')
    rung = []
    rec = Recorded()
    f = Feed(policy(), store=store, notifier=rec, bell=lambda: rung.append(1))
    t0 = time.time()
    f.alarm('gate-1', 'arm', 'door.held_open', True, t0, open_s=31)   # high here: 30 s
    f.alarm('gate-1', 'arm', 'barrier.obstructed', True, t0)          # medium: 900 s
    f.alarm('gate-1', 'arm', 'barrier.fault', True, t0)               # high, but acknowledged in time
    f.mon.acknowledge(('gate-1', 'arm', 'barrier.fault'))
    f.mon.check_escalation(t0 + 29.5)
    assert not any(e.get('escalated') for e in f.mon.alarms.values())
    rung.clear()
    f.mon.check_escalation(t0 + 30.5)
    esc = {k[2] for k, e in f.mon.alarms.items() if e.get('escalated')}
    assert esc == {'door.held_open'}
    assert ('escalate', 'door.held_open', 'high') in rec.notes and len([n for n in rec.notes if n[0] == 'escalate']) == 1
    assert rung == [1]
    assert f.mon.active_alarms()[0][0][2] == 'door.held_open'        # first among the high ones
    f.mon.check_escalation(t0 + 31)                                   # once only, the bell not at every call
    assert rung == [1] and len([n for n in rec.notes if n[0] == 'escalate']) == 1
    f.mon.check_escalation(t0 + 30.5 + alarms.BELL_REPEAT_S)          # until acknowledged, it rings again
    assert rung == [1, 1]
    assert any(r['msg'].get('type') == 'room.escalated' for r in f.shown)
    assert store.flush()
    rows = [r for r in store.table('room_alarms') if r['type'] == 'room.escalated']
    assert len(rows) == 1 and json.loads(rows[0]['body'])['alarm'] == 'arm/door.held_open'
    f.mon.acknowledge(('gate-1', 'arm', 'door.held_open'))
    f.mon.check_escalation(t0 + 100)
    assert rung == [1, 1]
    store.close()


def test_a_chattering_alarm_is_folded_into_one_entry_and_room_chattering_raised():
    rec = Recorded()
    f = Feed(policy(), notifier=rec)          # chatter: more than 3 raises within 60 s
    key = ('lobby-1', 'front', 'door.held_open')
    t = 1000.0
    for i in range(10):
        f.alarm('lobby-1', 'front', 'door.held_open', True, t + 2 * i)
        f.alarm('lobby-1', 'front', 'door.held_open', False, t + 2 * i + 1)
    assert key in f.mon.alarms                                  # one entry, still listed while it chatters
    assert f.mon.alarms[key]['count'] == 10 and f.mon.alarms[key]['chattering']
    ch = f.mon.alarms[('lobby-1', 'room', 'room.chattering')]
    assert ch['alarm'] == 'front/door.held_open' and ch['count'] == 10
    assert [n[0] for n in rec.notes if n[1] == 'door.held_open'] == ['raise', 'clear'] * 3   # the flood: not told
    shown = [r for r in f.shown if r['msg'].get('type') == 'door.held_open' and not r.get('hidden')]
    assert len(shown) == 7                                      # 3 raises + 3 clears + the one that folded
    f.mon.check_chatter(t + 19 + 30)                            # not yet quiet for a window
    assert key in f.mon.alarms
    f.mon.check_chatter(t + 19 + 61)
    assert key not in f.mon.alarms and ('lobby-1', 'room', 'room.chattering') not in f.mon.alarms
    assert rec.notes[-1][:2] == ('clear', 'room.chattering')


def test_chatter_counts_raises_within_the_window_only():
    c = Chatter(3, 60)
    k = ('d', 'c', 't')
    assert [c.raised(k, t) for t in (0, 30, 61, 62)] == [None, None, None, None]   # 0 fell out of the window
    assert c.raised(k, 63) == 4 and c.raised(k, 200) == 5 and c.chattering(k)
    assert c.quiet(259) == [] and c.quiet(261) == [k] and not c.chattering(k)


# --- the hooks, for real --------------------------------------------------------------------
class Hooked(http.server.BaseHTTPRequestHandler):
    """POSTs kept; the first `fail` answer 500; `hang` holds the answer that many seconds."""
    got, fail, hang = [], 0, 0.0

    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        if type(self).hang:
            time.sleep(type(self).hang)
        cls = type(self)
        if cls.fail > 0:
            cls.fail -= 1
            self.send_response(500)
            self.end_headers()
            return
        cls.got.append((self.headers['Content-Type'], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


@pytest.fixture
def server():
    class H(Hooked):
        got, fail, hang = [], 0, 0.0
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv, H
    srv.shutdown()
    srv.server_close()


def test_a_webhook_that_fails_then_recovers_gets_every_notification_in_order(server, tmp_path):
    srv, H = server
    H.fail = 2                          # the first two tries fail: retried after backoff
    url = 'http://127.0.0.1:%d/hook?x=1' % srv.server_address[1]
    n = Notifier([Hook({'webhook': url, 'retries': 3, 'backoff_s': 0.05, 'priorities': ['critical', 'high']})], 'am')
    store = Store(tmp_path / 'j.sqlite3')
    f = Feed(policy(), store=store, notifier=n)
    f.alarm('lobby-1', 'front', 'door.forced', True, 1000.0)        # critical here
    f.alarm('gate-1', 'arm', 'barrier.obstructed', True, 1000.0)    # medium: not for this hook
    f.alarm('lobby-1', 'front', 'door.forced', False, 1001.0)
    assert n.wait_idle(10)
    assert [(b['event'], b['type'], b['priority']) for _, b in H.got] == [
        ('raise', 'door.forced', 'critical'), ('clear', 'door.forced', 'critical')]
    assert H.got[0][0] == 'application/json' and H.got[0][1]['site'] == 'am' and H.got[0][1]['device'] == 'lobby-1'
    f.mon.check_notifier()
    assert ('control-room', 'room', 'room.notify_failed') not in f.mon.alarms     # recovered: nothing failed
    n.close()
    store.close()


def test_a_failing_webhook_is_journaled_shown_and_raises_room_notify_failed(server, tmp_path):
    srv, H = server
    H.fail = 100
    url = 'http://127.0.0.1:%d/' % srv.server_address[1]
    n = Notifier([Hook({'webhook': url, 'retries': 1, 'backoff_s': 0.01})], 'am')
    store = Store(tmp_path / 'j.sqlite3')
    f = Feed(policy(), store=store, notifier=n)
    f.alarm('lobby-1', 'front', 'door.forced', True, 1000.0)
    assert n.wait_idle(10)
    f.mon.check_notifier()
    a = f.mon.alarms[('control-room', 'room', 'room.notify_failed')]
    assert 'HTTP 500' in a['why'] and 'after 2 tries' in a['why'] and a['hook'] == 'webhook http://127.0.0.1:%d' % (
        srv.server_address[1]) and a['alarm'] == 'lobby-1/front/door.forced'
    assert 'notification to webhook' in f.mon.console.file.getvalue()
    assert store.flush()
    assert any(r['type'] == 'room.notify_failed' for r in store.table('room_alarms'))
    n.close()
    store.close()


def test_a_command_hook_gets_the_alarm_in_its_environment_and_on_stdin_without_a_shell(tmp_path):
    out = tmp_path / 'got.json'
    prog = ('import json, os, sys; json.dump({"env": {k: v for k, v in os.environ.items() if k.startswith("EDGE_ALARM_")},'
            ' "stdin": json.load(sys.stdin), "argv": sys.argv[1:]}, open(%r, "w"))' % str(out))
    n = Notifier([Hook({'cmd': [sys.executable, '-c', prog, '$(touch %s)' % (tmp_path / 'pwned'), ';', '|']})], 'am')
    f = Feed(policy(), notifier=n)
    f.alarm('lobby-1', 'front', 'door.forced', True, 1000.0)
    assert n.wait_idle(10)
    got = json.loads(out.read_text())
    assert got['env']['EDGE_ALARM_EVENT'] == 'raise' and got['env']['EDGE_ALARM_TYPE'] == 'door.forced'
    assert got['env']['EDGE_ALARM_PRIORITY'] == 'critical' and got['env']['EDGE_ALARM_DEVICE'] == 'lobby-1'
    assert got['stdin']['type'] == 'door.forced' and got['stdin']['seq'] == 1
    assert got['argv'][1:] == [';', '|'] and not (tmp_path / 'pwned').exists()     # arguments, not a shell
    n.close()


def test_a_failing_command_says_its_exit_status_and_output(tmp_path):
    n = Notifier([Hook({'cmd': [sys.executable, '-c', 'import sys; print("no route"); sys.exit(3)']})], 'am')
    n.notify('raise', ('d', 'c', 'door.forced'), {'priority': 'high'})
    assert n.wait_idle(10)
    assert n.failures[0][0] == 'cmd python3' or n.failures[0][0].startswith('cmd python')
    assert n.failures[0][2] == 'exit status 3: no route'


def test_the_intake_is_never_held_up_by_a_hanging_webhook(server):
    srv, H = server
    H.hang = 3.0
    url = 'http://127.0.0.1:%d/' % srv.server_address[1]
    n = Notifier([Hook({'webhook': url, 'timeout_s': 0.3, 'retries': 0})], 'am')
    f = Feed(policy(), notifier=n)
    t0 = time.monotonic()
    for i in range(alarms.QUEUE_MAX + 50):          # more than the hook's queue holds
        f.alarm('d%d' % i, 'front', 'door.forced', True, 1000.0)
    took = time.monotonic() - t0
    assert took < 2.0, 'the intake took %.2f s behind a hanging webhook' % took
    assert len([k for k in f.mon.alarms if k[2] == 'door.forced']) == alarms.QUEUE_MAX + 50   # none lost
    assert n.dropped >= 49                          # the queue is bounded: the overflow is said, not kept
    assert any('queue is full' in why for _, _, why in n.failures)
    end = time.monotonic() + 5
    while not any('timed out' in why for _, _, why in n.failures) and time.monotonic() < end:
        time.sleep(0.05)
    assert any('timed out' in why for _, _, why in n.failures)
    n.close()
