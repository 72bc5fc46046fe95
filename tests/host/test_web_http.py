"""`edgectl web` at the HTTP level, fed by hand (no broker): operators' logins checked against
mosquitto's hashes, sessions, acknowledgement as the session's operator, CSRF and the same-
origin check, login throttling, shelving, commands the page may send, the site plan, the live
pushes and the journal search."""
import base64
import hashlib
import http.client
import json
import time

import pytest

from edgectl.core import site as sitemod
from edgectl.room.shelving import Shelf, ShelfError
from edgectl.room.web import auth, plan
from webkit import PASSWORDS, T, Web, hashed, site_text
from polling import until

KEY = {'device': 'lobby-1', 'ctrl': 'front', 'type': 'door.forced'}


@pytest.fixture
def web(tmp_path):
    w = Web(tmp_path)
    w.feed('lobby-1', None, {'online': True}, kind='status')
    yield w
    w.close()


def wait(pred, timeout=3.0):
    return until(pred, timeout, 0.02)


def alarm_of(c, key=KEY):
    for a in c.get('/api/state')[2]['alarms']:
        if a['key'] == [key['device'], key['ctrl'], key['type']]:
            return a
    return None


def test_passwords_are_checked_against_mosquittos_hashes():
    assert auth.check_password(hashed('ann'), PASSWORDS['ann'])           # $7$ as mosquitto_passwd writes it
    assert hashed('ann').startswith('$7$')
    assert not auth.check_password(hashed('ann'), PASSWORDS['ann'] + 'x')
    assert not auth.check_password(hashed('ann'), '')
    salt = b'0123456789ab'
    six = '$6$%s$%s' % (base64.b64encode(salt).decode(), base64.b64encode(hashlib.sha512(b'pw-six' + salt).digest()).decode())
    assert auth.check_password(six, 'pw-six') and not auth.check_password(six, 'pw-seven')
    for bad in ('', 'plain', '$7$x$y$z', '$7$0$AAAA$AAAA', '$9$a$b', None):
        assert not auth.check_password(bad, 'pw')


def test_login_gives_an_httponly_strict_session_and_logout_ends_it(web):
    c = web.client()
    assert c.get('/api/state')[0] == 401 and c.get('/api/events')[0] == 401 and c.get('/plan')[0] == 401
    assert c.login('ann', 'not-her-password')[0] == 401
    assert c.login('mallory', 'whatever-it-is')[0] == 401
    status, hdrs, out = c.login('ann')
    assert status == 200 and out['operator'] == 'ann'
    cookie = hdrs['set-cookie']
    assert 'HttpOnly' in cookie and 'SameSite=Strict' in cookie and c.csrf not in cookie
    assert c.get('/api/me')[2] == {'operator': 'ann', 'csrf': c.csrf}
    assert c.get('/api/state')[0] == 200
    assert c.post('/api/logout')[0] == 200
    assert c.get('/api/state')[0] == 401
    web.store.flush()
    acts = [(r['operator'], r['action']) for r in web.store.table('actions')]
    assert acts == [('ann', 'login_refused'), (None, 'login_refused'), ('ann', 'login'), ('ann', 'logout')]


def test_the_acknowledgement_is_the_sessions_operator_and_every_page_sees_it(web):
    ann, bob = web.client(), web.client()
    ann.login('ann')
    bob.login('bob')
    web.alarm()
    assert wait(lambda: alarm_of(bob)) and alarm_of(bob)['acked'] is None
    status, _, out = ann.post('/api/ack', dict(KEY, by='mallory', operator='mallory'))
    assert status == 200 and out['ack']['by'] == 'ann'
    assert alarm_of(bob)['acked']['by'] == 'ann'
    assert web.mon.acked[('lobby-1', 'front', 'door.forced')]['by'] == 'ann'
    assert bob.post('/api/ack', KEY)[0] == 409, 'acknowledged once'
    assert ann.post('/api/ack', dict(KEY, type='door.held_open'))[0] == 409, 'no such alarm'
    web.store.flush()
    assert [r['by'] for r in web.store.table('alarm_acks')] == ['ann']
    assert [(r['operator'], r['type']) for r in web.store.table('actions') if r['action'] == 'ack'] == \
        [('ann', 'door.forced')]
    state = {d['id']: d['state'] for d in ann.get('/api/state')[2]['devices']}
    assert state == {'lobby-1': 'acknowledged', 'gate-1': 'unknown'}


def test_a_state_change_needs_the_session_the_csrf_token_and_the_same_origin(web):
    c = web.client()
    c.login('ann')
    web.alarm()
    refused = [
        c.post('/api/ack', KEY, csrf=False),                               # no token
        c.post('/api/ack', KEY, headers={'X-CSRF-Token': 'forged'}),       # a wrong one
        c.post('/api/ack', KEY, origin='http://evil.example'),             # another site
        c.post('/api/ack', KEY, origin=False),                             # no Origin, no Referer
        c.post('/api/ack', KEY, origin=False, headers={'Referer': 'http://evil.example/x'}),
        c.post('/api/ack', KEY, origin='null'),
    ]
    assert [r[0] for r in refused] == [403] * 6, refused
    assert c.post('/api/ack', KEY, cookie=False)[0] == 401, 'no session'
    assert c.post('/api/login', {'name': 'ann', 'password': PASSWORDS['ann']}, origin='http://evil.example')[0] == 403
    assert alarm_of(c)['acked'] is None, 'nothing refused changed anything'
    ok = c.post('/api/ack', KEY, origin=False, headers={'Referer': c.origin + '/'})
    assert ok[0] == 200 and ok[2]['ack']['by'] == 'ann'


def test_failed_logins_are_throttled_per_name_and_address(web):
    c = web.client()
    for _ in range(auth.FAILS_MAX):
        assert c.login('ann', 'wrong-password-guess')[0] == 401
    status, hdrs, out = c.login('ann')
    assert status == 429 and int(hdrs['retry-after']) > 0, out
    assert c.login('bob')[0] == 429, 'the address is throttled too'
    t = auth.Throttle(clock=lambda: now[0], limit=2, window_s=10)
    now = [0.0]
    t.failed('a')
    t.failed('a')
    assert t.wait_s('a') == 10 and t.wait_s('b') == 0
    now[0] = 10.5
    assert t.wait_s('a') == 0


def test_a_removed_operator_is_logged_out_at_the_next_action(web):
    c = web.client()
    c.login('bob')
    web.alarm()
    del web.operators['bob']
    assert c.post('/api/ack', KEY)[0] == 401
    assert c.get('/api/state')[0] == 401, 'every session of theirs ended'
    assert c.login('bob')[0] == 401


def test_sessions_expire_when_idle():
    now = [0.0]
    s = auth.Sessions(clock=lambda: now[0])
    token, _ = s.start('ann', '127.0.0.1')
    now[0] = auth.SESSION_IDLE_S - 1
    assert s.get(token)['operator'] == 'ann'
    now[0] += auth.SESSION_IDLE_S + 1
    assert s.get(token) is None and s.get('guess') is None and s.get(None) is None


def test_shelving_leaves_the_list_returns_when_time_is_up_or_the_alarm_comes_again(tmp_path):
    now = [1000.0]
    acts = []

    class Journal:
        def action(self, *a):
            acts.append(a)
    shelf = Shelf(Journal(), clock=lambda: now[0])
    key = ('lobby-1', 'front', 'door.forced')
    alarms = {key: {'_since': 5.0, 'log': 1, 'seq': 40}}
    for seconds, reason in ((10, 'x'), (shelf_max() + 1, 'x'), (600, ''), (600, ' '), (True, 'x'), ('600', 'x')):
        with pytest.raises(ShelfError):
            shelf.shelve(key, alarms[key], 'ann', seconds, reason)
    with pytest.raises(ShelfError):
        shelf.shelve(key, None, 'ann', 600, 'no such alarm')
    shelf.shelve(key, alarms[key], 'ann', 600, 'door contact being replaced')
    now[0] += 599
    assert shelf.review(alarms) == [] and shelf.get(key)
    now[0] += 1
    assert shelf.review(alarms) == [key] and shelf.get(key) is None            # time up
    shelf.shelve(key, alarms[key], 'ann', 600, 'again')
    alarms[key] = {'_since': 7.0, 'log': 1, 'seq': 41}                         # cleared and raised again
    assert shelf.review(alarms) == [key]
    shelf.shelve(key, alarms[key], 'bob', 600, 'third')
    assert shelf.review({}) == [key]                                           # cleared
    assert [(a[0], a[1], a[5].get('why')) for a in acts] == [
        ('ann', 'shelve', None), (None, 'unshelve', 'expired'), ('ann', 'shelve', None), (None, 'unshelve', 'cleared'),
        ('bob', 'shelve', None), (None, 'unshelve', 'cleared')]


def shelf_max():
    from edgectl.room import shelving
    return shelving.MAX_S


def test_a_shelved_alarm_leaves_the_active_list_silently_and_both_ends_are_journaled(web):
    c = web.client()
    c.login('ann')
    web.alarm()
    assert c.post('/api/shelve', dict(KEY, minutes=0.5, reason='x'))[0] == 400
    assert c.post('/api/shelve', dict(KEY, minutes=30))[0] == 400, 'a reason is needed'
    assert c.post('/api/shelve', dict(KEY, minutes='30', reason='x'))[0] == 400
    status, _, out = c.post('/api/shelve', dict(KEY, minutes=30, reason='contractor at the door', by='mallory'))
    assert status == 200 and out['shelved']['by'] == 'ann'
    a = alarm_of(c)
    assert a['shelved']['reason'] == 'contractor at the door'
    assert {d['id']: d['state'] for d in c.get('/api/state')[2]['devices']}['lobby-1'] == 'normal'
    web.alarm(active=False)                              # it clears: the shelving ends at once
    assert wait(lambda: not web.hub.shelf.items)
    web.alarm()                                          # and the next raise is a new alarm
    assert wait(lambda: alarm_of(c)) and alarm_of(c)['shelved'] is None
    c.post('/api/shelve', dict(KEY, minutes=30, reason='again'))
    assert c.post('/api/unshelve', KEY)[0] == 200
    assert c.post('/api/unshelve', KEY)[0] == 409
    web.store.flush()
    rows = [(r['operator'], r['action'], json.loads(r['detail']).get('why')) for r in web.store.table('actions')
            if 'shelve' in r['action']]
    assert rows == [('ann', 'shelve', None), (None, 'unshelve', 'cleared'), ('ann', 'shelve', None),
                    ('ann', 'unshelve', 'operator')]
    c.post('/api/shelve', dict(KEY, minutes=30, reason='till the end'))
    web.hub.stop()                                       # the web stops: the site's shelving stays
    web.store.flush()
    assert [r['action'] for r in web.store.table('actions') if 'shelve' in r['action']][-1] == 'shelve'
    assert web.store.shelves()[tuple(KEY.values())]['reason'] == 'till the end'


def test_only_the_actions_that_fit_are_sent(web):
    c = web.client()
    c.login('ann')
    assert c.post('/api/command', {'device': 'lobby-1', 'ctrl': 'rear', 'op': 'unlock'})[0] == 404
    assert c.post('/api/command', {'device': 'lobby-1', 'ctrl': 'front', 'op': 'reboot'})[0] == 400
    assert c.post('/api/command', {'device': 'gate-1', 'ctrl': 'callpoint', 'op': 'answer'})[0] == 409, 'no call'
    web.feed('gate-1', 'callpoint', {'type': 'intercom.call', 'call': 7})
    web.feed('gate-1', 'callpoint', {'type': 'intercom.answered', 'call': 7, 'by': 'bob'})
    status, _, out = c.post('/api/command', {'device': 'gate-1', 'ctrl': 'callpoint', 'op': 'unlock'})
    assert status == 409 and 'answer the call first' in out['error'], 'only who answered releases the gate'
    assert c.post('/api/command', {'device': 'lobby-1', 'ctrl': 'front', 'op': 'unlock'})[0] == 503, 'no broker here'
    assert c.post('/api/command', {'device': ['x'], 'ctrl': 'front', 'op': 'unlock'})[0] == 400


def test_pages_get_the_snapshot_and_the_live_log_pushed(web):
    c = web.client()
    c.login('ann')
    conn = http.client.HTTPConnection('127.0.0.1', web.port, timeout=5)
    conn.request('GET', '/api/events', headers={'Cookie': 'edgectl_session=%s' % c.cookie})
    r = conn.getresponse()
    assert r.status == 200 and r.getheader('Content-Type') == 'text/event-stream'

    def next_event():
        kind = None
        while True:
            line = r.fp.readline().decode()
            if line.startswith('event: '):
                kind = line[7:].strip()
            elif line.startswith('data: '):
                return kind, json.loads(line[6:])
    kind, first = next_event()
    assert kind == 'state' and first['alarms'] == []
    t0 = time.monotonic()
    web.alarm()
    got = {}
    # (a state push of its own may come first: the shelvings are read from the journal)
    while not ('log' in got and got.get('state', {}).get('alarms')) and time.monotonic() - t0 < 5:
        kind, data = next_event()
        got[kind] = data
    assert time.monotonic() - t0 < 1.0
    assert got['state']['alarms'][0]['key'] == ['lobby-1', 'front', 'door.forced']
    assert got['log']['msg']['type'] == 'door.forced'
    c.post('/api/logout')
    conn.close()


def test_the_page_its_files_and_the_plan_image(tmp_path):
    (tmp_path / 'plan.svg').write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1200 800">'
                                       '<script>alert(1)</script></svg>')
    w = Web(tmp_path, site_text(plan='plan.svg', pos=(300, 200)))
    try:
        c = w.client()
        for path in ('/', '/static/app.js', '/static/app.css'):
            status, hdrs, body = c.get(path)
            assert status == 200 and "script-src 'self'" in hdrs['content-security-policy'] and body
        assert c.get('/static/../server.py')[0] == 401 and c.get('/static/server.py')[0] == 401
        c.login('ann')
        assert c.get('/static/hub.py')[0] == 404
        status, hdrs, body = c.get('/plan')
        assert status == 200 and hdrs['content-type'] == 'image/svg+xml' and hdrs['content-security-policy'] == 'sandbox'
        p = c.get('/api/state')[2]['plan']
        assert p['image'] and (p['image_w'], p['image_h']) == (1200, 800) and p['h'] > 800
        assert p['devices']['lobby-1'] == {'x': 300, 'y': 200, 'placed': True}
        assert not p['devices']['gate-1']['placed'] and p['devices']['gate-1']['y'] > 800, 'laid out below the plan'
    finally:
        w.close()


def test_plan_layout_without_an_image_and_png_sizes(tmp_path):
    s = sitemod.parse(site_text(pos=(10, 10)), str(tmp_path / 'site.yaml'))
    lay = plan.layout(s)
    assert not lay['image'] and not any(d['placed'] for d in lay['devices'].values())
    xy = {(d['x'], d['y']) for d in lay['devices'].values()}
    assert len(xy) == 2 and all(0 < x < lay['w'] and 0 < y < lay['h'] for x, y in xy)
    png = tmp_path / 'p.png'
    png.write_bytes(b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + (640).to_bytes(4, 'big') + (480).to_bytes(4, 'big') + b'\x08\x06')
    assert plan.image_size(png) == (640, 480)
    (tmp_path / 'w.svg').write_text('<svg width="300" height="150"></svg>')
    assert plan.image_size(tmp_path / 'w.svg') == (300, 150)
    assert plan.image_size(tmp_path / 'none.svg') is None


def test_site_file_plan_pos_and_camera_are_checked(tmp_path):
    def problems(text):
        f = tmp_path / 'site.yaml'
        f.write_text(text)
        return [str(p) for p in sitemod.validate(sitemod.load(str(f))).errors]
    assert problems(site_text(pos=(1, 2))) == []
    assert any('no plan image missing.svg' in p for p in problems(site_text(plan='missing.svg')))
    assert problems(site_text(plan='plan.gif'))
    assert problems(site_text(pos=(1, 2)).replace('pos: [1, 2]', 'pos: [1, 2, 3]'))
    assert problems(site_text(pos=(1, 2)).replace('pos: [1, 2]', 'pos: [-1, 2]'))
    assert problems(site_text().replace('http://cams.example/lobby.jpg', 'javascript:alert(1)'))
    assert problems(site_text(pos=(1, 2))) == []
    from edgectl.core.site import device_config
    cfg = device_config(sitemod.load_valid(str(tmp_path / 'site.yaml')), 'lobby-1')
    assert 'pos' not in cfg and 'camera' not in cfg, 'the board gets neither'


def test_journal_search_and_csv(web):
    c = web.client()
    c.login('ann')
    web.alarm()
    web.feed('gate-1', 'barrier', {'type': 'barrier.opened'})
    rows = c.get('/api/journal?device=lobby-1&since=-1h')[2]
    assert [r['type'] for r in rows] == ['door.forced']
    assert [r['type'] for r in c.get('/api/journal?type=barrier.*')[2]] == ['barrier.opened']
    assert c.get('/api/journal?sev=alarm')[2][0]['device'] == 'lobby-1'
    assert c.get('/api/journal?sev=bad')[0] == 400 and c.get('/api/journal?since=yesterday')[0] == 400
    assert c.get('/api/journal?limit=x')[0] == 400
    status, hdrs, body = c.get('/api/journal?format=csv&device=gate-1')
    assert status == 200 and 'attachment' in hdrs['content-disposition']
    lines = body.decode().splitlines()
    assert lines[0].startswith('received,device') and len(lines) == 2 and 'barrier.opened' in lines[1]


def test_the_verb_refuses_a_site_without_operators_and_serves_one_with_them(broker, tmp_path):
    import subprocess
    import sys
    import urllib.request
    from edgectl.core import secrets
    site = tmp_path / 'site.yaml'
    site.write_text(site_text(broker.port))
    cmd = [sys.executable, '-m', 'edgectl.cli', 'web', '--site', str(site), '--port', '0', '--db', str(tmp_path / 'j.db')]
    r = subprocess.run(cmd + ['--duration', '1'], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert r.returncode == 2 and 'no operator logins on this site' in r.stderr, r.stderr
    secrets.ensure(str(site), ['lobby-1', 'gate-1'])
    secrets.set_operator(str(site), 'ann', hashed('ann'))
    p = subprocess.Popen(cmd + ['--duration', '8'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        line = p.stdout.readline()
        assert 'open http://127.0.0.1:' in line, line + p.stderr.read()
        url = line.split('open ')[1].split()[0]
        page = urllib.request.urlopen(url, timeout=5)
        assert page.status == 200 and b'edgectl control room' in page.read()
        req = urllib.request.Request(url + 'api/login', data=json.dumps({'name': 'ann', 'password': PASSWORDS['ann']}).encode(),
                                     headers={'Content-Type': 'application/json', 'Origin': url.rstrip('/')})
        assert json.loads(urllib.request.urlopen(req, timeout=5).read())['operator'] == 'ann'
    finally:
        p.terminate()
        assert p.wait(15) in (0, -15)


def test_an_acknowledgement_left_from_an_earlier_raise_does_not_silence_a_new_one(web):
    """A retained acknowledgement outlives its alarm when no view saw the alarm clear (all
    were closed): the next raise of that alarm is a new one, unacknowledged, and sounds."""
    c = web.client()
    c.login('ann')
    key = ('lobby-1', 'front', 'door.forced')
    topic = web.mon.ack_prefix + '/'.join(key)
    web.mon.handle_batch([(topic, json.dumps({'by': 'old', 'at': 1, 'seq': 3, 'log': 9}).encode(), True)])
    rang = []
    web.mon.bell = lambda: rang.append(1)
    web.alarm(log=10)                                  # seq 1 of another log: a new raise
    a = alarm_of(c)
    assert a['acked'] is None and rang and key not in web.mon.acked
    assert c.post('/api/ack', KEY)[0] == 200
    assert web.mon.acked[key]['seq'] == a['seq'] and web.mon.acked[key]['log'] == 10
    web.mon.handle_batch([(topic, json.dumps(web.mon.acked[key]).encode(), True)])    # its own, back from the broker
    web.alarm(log=10)                                  # a repeat while active changes nothing
    assert alarm_of(c)['acked']['by'] == 'ann'


def test_plots_count_from_the_journal(tmp_path):
    from edgectl.room.store import Store
    from edgectl.room.web import plots
    day0 = time.mktime((2026, 11, 20, 0, 0, 0, 0, 0, -1))       # local midnight
    now = day0 + 2 * 86400 + 12 * 3600                         # noon of the third day
    st = Store(tmp_path / 'j.sqlite3')
    seq = [0]

    def ev(dev, ctrl, etype, at, sev='info', active=None, log=1):
        seq[0] += 1
        e = {'seq': seq[0], 'ts': 1, 'log': log, 'type': etype, 'sev': sev, 'ctrl': ctrl}
        if active is not None:
            e['active'] = active
        st.event(dev, e, at)
        return seq[0]
    s1 = ev('lobby-1', 'front', 'door.forced', day0 + 3600, 'alarm', True)
    ev('lobby-1', 'front', 'door.forced', day0 + 3700, 'alarm', False)        # its clearing is not a raise
    s2 = ev('lobby-1', 'front', 'door.held_open', day0 + 86400 + 60, 'alarm', True)
    ev('gate-1', 'barrier', 'barrier.fault', day0 + 86400 + 120, 'alarm', True)
    ev('gate-1', 'barrier', 'barrier.opened', day0 + 86400 + 200)
    ev('gate-1', 'barrier', 'barrier.opened', day0 + 2 * 86400 + 200)
    ev('gate-1', 'barrier', 'barrier.obstructed', day0 + 2 * 86400 + 300, 'warn', True)
    ev('pool-1', 'pump', 'pump.started', day0 + 86400 - 1800)                 # 30 min before midnight ...
    ev('pool-1', 'pump', 'pump.stopped', day0 + 86400 + 3600)                 # ... to 1 am
    ev('pool-1', 'pump', 'pump.started', day0 + 2 * 86400 + 11 * 3600)       # still running at noon
    ev('old-1', 'front', 'door.forced', day0 - 30 * 86400, 'alarm', True)     # outside the window
    st.alarm_ack('lobby-1', 'front', 'door.forced', s1, 'ann', day0 + 3600 + 5)
    st.alarm_ack('lobby-1', 'front', 'door.held_open', s2, 'bob', day0 + 86400 + 60 + 400)
    st.close()
    path = tmp_path / 'j.sqlite3'
    days, per_day = plots.figures(path, 'alarms-per-day', 3, now)
    assert days == ['2026-11-19', '2026-11-20', '2026-11-21', '2026-11-22'] and per_day == {'alarms': [0, 1, 2, 0]}
    assert plots.figures(path, 'alarms-per-device', 3, now) == (['lobby-1', 'gate-1'], {'alarms': [2, 1]})
    labels, acks = plots.figures(path, 'time-to-ack', 3, now)
    assert acks['acknowledged alarms'] == [1, 0, 0, 0, 1, 0] and labels[0] == '< 10 s'
    assert plots.figures(path, 'barrier-cycles', 3, now)[1] == {'cycles': [0, 0, 1, 1], 'obstructions': [0, 0, 0, 1]}
    assert plots.figures(path, 'pump-hours', 3, now)[1] == {'hours': [0, 0.5, 1.0, 1.0]}
    svg = plots.render('alarms-per-day', days, per_day)
    assert svg.startswith('<svg') and 'Alarms raised per day' in svg


def test_the_page_draws_plots_as_sandboxed_svg(web):
    c = web.client()
    c.login('ann')
    web.alarm()
    status, hdrs, body = c.get('/api/plot?name=alarms-per-device&days=7')
    assert status == 200 and hdrs['content-type'] == 'image/svg+xml' and hdrs['content-security-policy'] == 'sandbox'
    assert b'lobby-1' in body
    for bad in ('name=nope', 'name=alarms-per-day&days=0', 'name=alarms-per-day&days=9999', 'name=alarms-per-day&days=x'):
        assert c.get('/api/plot?' + bad)[0] == 400, bad
    assert c.get('/api/plot?name=alarms-per-day', cookie=False)[0] == 401


def test_a_page_gets_runs_of_snapshots_folded_and_is_dropped_when_it_cannot_keep_up():
    from edgectl.room.web import hub
    p = hub.Page('t')
    for i in range(3):
        p.push('state', 's%d' % i)
    p.push('log', 'l0')
    p.push('state', 's3')
    p.push('state', 's4')
    assert p.take(0) == [('state', 's2'), ('log', 'l0'), ('state', 's4')], 'only the newest of a run of snapshots'
    for i in range(hub.QUEUE_MAX + 1):
        p.push('log', i)
    assert p.dropped and len(p.take(0)) == hub.QUEUE_MAX


def test_commands_from_the_page_are_signed_with_the_devices_key(web):
    from edgectl.core.proto import signing
    key = bytes(range(32))
    web.mon.secrets = {'devices': {'lobby-1': {'cmd_key': key.hex(), 'mqtt_password': 'x'}}}
    sent = []

    class Client:
        def publish(self, topic, payload, qos=0, retain=False):
            sent.append((topic, json.loads(payload)))
    web.mon.client = Client()
    c = web.client()
    c.login('ann')
    status, _, out = c.post('/api/command', {'device': 'lobby-1', 'ctrl': 'front', 'op': 'unlock', 'sig': 'forged'})
    assert status == 200
    (topic, body), = sent
    assert topic.endswith('/lobby-1/cmd/front') and body['op'] == 'unlock' and body['id'] == out['id']
    assert body['sig'] == signing.sign(key, 'lobby-1', 'front', {k: v for k, v in body.items() if k != 'sig'})
    web.mon.client = None


def test_the_login_page_learns_the_sites_language(tmp_path):
    w = Web(tmp_path, site_text().replace('site: web', 'site: web\nlang: zh'))
    try:
        assert w.client().get('/api/config')[2] == {'lang': 'zh'}, 'public: the login page needs it'
    finally:
        w.close()
    s = sitemod.parse(site_text().replace('site: web', 'site: web\nlang: fr'), str(tmp_path / 'site.yaml'))
    assert sitemod.validate(s).errors


def test_operator_actions_are_listed_newest_first_and_the_search_keeps_the_latest(web):
    c = web.client()
    c.login('ann')
    for i in range(5):
        web.alarm(active=bool(i % 2 == 0))
    c.post('/api/ack', KEY)
    acts = c.get('/api/actions?since=-1h')[2]
    assert [a['action'] for a in acts] == ['ack', 'login'] and acts[0]['operator'] == 'ann'
    assert c.get('/api/actions?operator=bob')[2] == []
    rows = c.get('/api/journal?limit=2')[2]
    assert [r['seq'] for r in rows] == [5, 4], 'newest first: a limit keeps the latest'
    lines = c.get('/api/journal?format=csv')[2].decode().splitlines()
    assert len(lines) == 6 and lines[1].split(',')[2] == '1', 'the export: all of it, in order'


def test_a_failure_while_pushing_does_not_stop_the_pushes(web, capsys):
    page = web.hub.open_page('t')
    page.take(0)
    real, calls = web.hub._snapshot, []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError('a bug')
        return real()
    web.hub._snapshot = flaky
    web.alarm()
    assert wait(lambda: any(k == 'state' and 'door.forced' in d for k, d in page.take(0.1)), 5)
    assert 'pushing failed' in capsys.readouterr().err
    web.hub.close_page(page)


def test_https_with_a_certificate_from_the_site_ca(tmp_path):
    """--tls: HTTPS with a certificate for the name browsers use, signed by the site CA; the
    session cookie is Secure and the same-origin check wants https."""
    import argparse
    import ssl
    import threading
    from edgectl.room.verbs_web import _certificate
    from edgectl.room.web.server import App, serve
    w = Web(tmp_path)
    try:
        a = argparse.Namespace(name=None, bind='127.0.0.1')
        crt, key = _certificate(a, str(w.site_file), w.site)
        assert _certificate(a, str(w.site_file), w.site) == (crt, key) and crt.name == 'web.pem'
        ca = crt.parent / 'site-ca.pem'
        app = App(w.hub, lambda: dict(w.operators))
        httpd = serve(app, '127.0.0.1', 0, (crt, key))
        threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()
        port = httpd.server_address[1]
        stalled = socket_to(port)                   # a client that never says hello holds no one up
        ctx = ssl.create_default_context(cafile=str(ca))
        conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=5)
        body = json.dumps({'name': 'ann', 'password': PASSWORDS['ann']})
        conn.request('POST', '/api/login', body, {'Content-Type': 'application/json', 'Origin': 'http://127.0.0.1:%d' % port})
        r = conn.getresponse()
        assert r.status == 403, 'an http origin is another origin'
        r.read()
        conn = http.client.HTTPSConnection('127.0.0.1', port, context=ctx, timeout=5)
        conn.request('POST', '/api/login', body, {'Content-Type': 'application/json', 'Origin': 'https://127.0.0.1:%d' % port})
        r = conn.getresponse()
        assert r.status == 200 and '; Secure' in r.getheader('Set-Cookie'), r.read()
        with pytest.raises(ssl.SSLError):           # without the site CA the certificate is not trusted
            c = http.client.HTTPSConnection('127.0.0.1', port, context=ssl.create_default_context(), timeout=5)
            c.request('GET', '/')
        stalled.close()
        httpd.shutdown()
        httpd.server_close()
    finally:
        w.close()


def socket_to(port):
    import socket
    return socket.create_connection(('127.0.0.1', port), timeout=5)


def test_an_acknowledgement_made_in_a_monitor_reaches_the_page_at_once(web):
    c = web.client()
    c.login('ann')
    web.alarm()
    a = alarm_of(c)
    page = web.hub.open_page('t')
    page.take(0)
    topic = web.mon.ack_prefix + 'lobby-1/front/door.forced'
    t0 = time.monotonic()
    web.mon.handle_batch([(topic, json.dumps({'by': 'bob', 'at': 1, 'seq': a['seq'], 'log': None}).encode(), True)])
    pushed = wait(lambda: [d for k, d in page.take(0.05) if k == 'state' and '"by": "bob"' in d], 2)
    assert pushed and time.monotonic() - t0 < 0.5
    assert alarm_of(c)['acked']['by'] == 'bob'
    web.hub.close_page(page)


def test_what_the_model_says_reaches_the_live_log(web):
    """A gap in a board's events, a new event log: said by the model, pushed to the pages."""
    page = web.hub.open_page('t')
    page.take(0)
    web.mon.say('[yellow]lobby-1  gap: events 3..4 have not arrived[/]')
    got = wait(lambda: [m for m in (json.loads(d) for k, d in page.take(0.05) if k == 'log') if m['kind'] == 'note'], 2)
    assert got and got[0]['msg']['text'] == 'lobby-1  gap: events 3..4 have not arrived'
    web.hub.close_page(page)


def test_a_devices_last_events_come_from_the_journal_however_busy_the_others_are(tmp_path):
    w = Web(tmp_path)
    try:
        w.feed('lobby-1', 'front', {'type': 'door.opened'})
        batch = [(T.evt('web', 'gate-1', 'barrier'), json.dumps({'seq': i, 'ts': 1, 'type': 'barrier.opened', 'sev': 'info',
                                                                  'ctrl': 'barrier'}).encode(), False)
                 for i in range(1, 6001)]
        w.mon.handle_batch(batch)            # a busy neighbour: thousands of events since
        c = w.client()
        c.login('ann')
        events = c.get('/api/device?id=lobby-1')[2]['events']
        assert [e['msg']['type'] for e in events] == ['door.opened']
        assert len(c.get('/api/device?id=gate-1')[2]['events']) == 20
    finally:
        w.close()


def test_a_monitor_detaches_at_once(broker):
    """Stopping a view (the web, a monitor) does not wait for paho's network loop to time
    out: the other order (loop_stop, then disconnect) took 0.7 s each time."""
    from edgectl.room.monitor import Monitor
    m = Monitor('web').attach(broker.endpoint())
    time.sleep(0.2)
    t0 = time.monotonic()
    m.detach()
    assert time.monotonic() - t0 < 0.3


def test_a_shelved_alarm_is_not_escalated(web):
    c = web.client()
    c.login('ann')
    web.alarm()
    web.alarm('gate-1', 'barrier', 'barrier.fault')
    assert c.post('/api/shelve', dict(KEY, minutes=60, reason='known: contractor'))[0] == 200
    with web.mon.lock:
        web.mon.check_escalation(time.time() + 7 * 86400)
    alarms = {tuple(a['key']): a for a in c.get('/api/state')[2]['alarms']}
    assert not alarms[('lobby-1', 'front', 'door.forced')]['escalated']
    assert alarms[('gate-1', 'barrier', 'barrier.fault')]['escalated'], 'the other one is'
    assert alarms[('gate-1', 'barrier', 'barrier.fault')]['priority'], 'priorities come with the alarms now'
