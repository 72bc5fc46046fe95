"""What the tests of `edgectl web` share: a web server over a site file with operators
(real password hashes from mosquitto_passwd), fed by hand or attached to a broker, and a
small HTTP client that keeps the session cookie and CSRF token."""
import http.client
import json
import threading
from pathlib import Path

from edgectl.core import proto
from edgectl.core import site as sitemod
from edgectl.core.broker import hash_password
from edgectl.room.web.desk import CardDesk
from edgectl.room.web.hub import Hub, WebMonitor
from edgectl.room.web.plan import plan_file
from edgectl.room.web.server import App, serve
from edgectl.room.store import Store

T = proto.topics
SITE = """\
site: web
broker: {host: 127.0.0.1, port: %(port)d}
%(plan)s
devices:
  lobby-1:
    board: esp32-devkitc
    %(pos)s
    camera: http://cams.example/lobby.jpg
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25%(reader)s}, debounce_ms: 20}
  gate-1:
    board: esp32-devkitc
    controllers:
      - {name: barrier, type: barrier, pins: {beam: 34, loop: 35, up_limit: 32, down_limit: 33, motor_up: 25, motor_down: 26, eye_tx: 27}}
      - {name: callpoint, type: intercom, pins: {call: 4, strike: 13, led: 14}}
"""
PASSWORDS = {'ann': 'ann-correct-horse', 'bob': 'bob-battery-staple'}
_HASHES = {}


def site_text(port=1883, plan=None, pos=None, reader=False):
    """reader: the front door has a card reader (access group 0)."""
    return SITE % {'port': port, 'plan': 'plan: %s' % plan if plan else '',
                   'pos': 'pos: [%s, %s]' % tuple(pos) if pos else '',
                   'reader': ', reader_d0: 16, reader_d1: 17' if reader else ''}


def hashed(name):
    if name not in _HASHES:
        _HASHES[name] = hash_password(name, PASSWORDS[name])
    return _HASHES[name]


class Web:
    """A web server on a free loopback port over `site_file`: hub, monitor, journal."""

    def __init__(self, folder, text=None, operators=('ann', 'bob'), broker=None, secrets=None, journal=None):
        """secrets: the site's (its boards' keys): the card desk pushes to the boards with them;
        journal: the journal file (default: in `folder`; two webs may share one)."""
        folder = Path(folder)
        self.site_file = folder / 'site.yaml'
        self.site_file.write_text(text or site_text(broker.port if broker else 1883))
        self.site = sitemod.load_valid(str(self.site_file))
        self.operators = {n: hashed(n) for n in operators}
        self.store = Store(journal or folder / 'journal.sqlite3')
        self.mon = WebMonitor('web', operator='web', store=self.store)
        self.hub = Hub(self.site, self.mon, self.store)
        self.desk = CardDesk(self.site_file, self.site, self.store, broker.endpoint() if broker else None, secrets)
        self.app = App(self.hub, lambda: dict(self.operators), plan_file(self.site), self.desk)
        self.httpd = serve(self.app, '127.0.0.1', 0)
        self.port = self.httpd.server_address[1]
        if broker is not None:
            self.mon.attach(broker.endpoint())
        self.hub.start()
        self.t = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)
        self.t.start()
        self.seq = 0

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self.port

    def feed(self, device, ctrl, msg, kind='evt'):
        """A message from a board, as the intake gets it."""
        if kind == 'evt':
            self.seq += 1
            msg = dict({'seq': self.seq, 'ts': 1000 + self.seq, 'ctrl': ctrl, 'sev': 'info'}, **msg)
            topic = T.evt('web', device, ctrl)
        elif kind == 'status':
            topic = T.status('web', device)
        else:
            topic = T.base('web', device) + '%s/%s' % (kind, ctrl)
        self.mon.handle_batch([(topic, json.dumps(msg).encode(), False)])

    def alarm(self, device='lobby-1', ctrl='front', etype='door.forced', active=True, **extra):
        self.feed(device, ctrl, dict(extra, type=etype, sev='alarm', active=active))

    def client(self):
        return Client(self.port)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.hub.stop()
        self.mon.detach()
        self.store.close()


class Client:
    """HTTP to the web server: keeps the session cookie and CSRF token like the page."""

    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.csrf = None

    @property
    def origin(self):
        return 'http://127.0.0.1:%d' % self.port

    def request(self, method, path, body=None, origin=True, csrf=True, cookie=True, headers=None, raw=None):
        """(status, headers dict, parsed JSON or bytes)."""
        c = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        h = {'Host': '127.0.0.1:%d' % self.port}
        if method == 'POST':
            h['Content-Type'] = 'application/json'
            if origin is True:
                h['Origin'] = self.origin
            elif origin:
                h['Origin'] = origin
            if csrf and self.csrf:
                h['X-CSRF-Token'] = self.csrf
        if cookie and self.cookie:
            h['Cookie'] = 'edgectl_session=%s' % self.cookie
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else
                                            (b'{}' if method == 'POST' else None))
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            out = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if hdrs.get('content-type', '').startswith('application/json'):
            out = json.loads(out)
        return r.status, hdrs, out

    def post(self, path, body=None, **kw):
        return self.request('POST', path, body, **kw)

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def login(self, name='ann', password=None):
        status, hdrs, out = self.post('/api/login', {'name': name, 'password': password or PASSWORDS[name]})
        if status == 200:
            self.cookie = hdrs['set-cookie'].split(';')[0].split('=', 1)[1]
            self.csrf = out['csrf']
        return status, hdrs, out
