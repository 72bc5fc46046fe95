"""The HTTP side of `edgectl web`: Python's ThreadingHTTPServer, the page's files, a JSON API
and server-sent events (GET /api/events) for live pushes.

Every request but the page itself and the login needs a session (the cookie). Every request
that changes something (POST) also needs the same origin (Origin, else Referer, naming this
server's Host), a JSON body of at most BODY_MAX bytes and, once logged in, the session's
CSRF token in X-CSRF-Token. Acknowledgements, shelvings, commands and the card desk's
changes are done as the session's operator: a name in the body is never read. An operator removed with `edgectl
operator remove` is logged out at their next action."""
import hmac
import json
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ...core.errors import EdgeError
from . import plan as planmod
from .auth import Sessions, Throttle, check_password
from .hub import ActionError

STATIC = Path(__file__).with_name('static')
FILES = {'/': ('index.html', 'text/html; charset=utf-8'), '/static/app.js': ('app.js', 'text/javascript; charset=utf-8'),
         '/static/app.css': ('app.css', 'text/css; charset=utf-8')}
COOKIE = 'edgectl_session'
LOOPBACK = ('127.0.0.1', '::1', '[::1]')
BODY_MAX = 16384
PAGES_MAX = 64              # open live pages (each holds a thread)
THREADS_MAX = 200           # requests handled at once; beyond it a connection is closed at once
KEEPALIVE_S = 15
JOURNAL_MAX = 5000          # rows per journal search (CSV: JOURNAL_CSV_MAX)
JOURNAL_CSV_MAX = 100000
CSP = ("default-src 'self'; img-src 'self' data: http: https:; script-src 'self'; style-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


class App:
    """What the handlers share: the hub, the sessions, the operators' logins."""

    def __init__(self, hub, logins, plan_file=None, desk=None):
        """logins(): {operator: stored hash}, read at each login and action (so a removed
        operator is out at once); desk: the card desk (host/room/web/desk.py), or None."""
        self.hub = hub
        self.desk = desk
        self.logins = logins
        self.plan_file = plan_file
        self.sessions = Sessions()
        self.throttle = Throttle()
        self.pages = threading.BoundedSemaphore(PAGES_MAX)
        self.hosts = None          # the Host names accepted (None: any); loopback only when bound to it
        self.scheme = 'http'       # https when served over TLS (cookies then Secure)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128      # a wall of pages reconnecting at once is not refused
    allow_reuse_address = True

    def __init__(self, addr, app):
        self.app = app
        self.slots = threading.BoundedSemaphore(THREADS_MAX)
        ThreadingHTTPServer.__init__(self, addr, Handler)

    def handle_error(self, request, client_address):
        import ssl
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):   # a client gone is not news
            ThreadingHTTPServer.handle_error(self, request, client_address)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)          # too many at once: closed, not queued
            return
        try:
            ThreadingHTTPServer.process_request(self, request, client_address)
        except Exception:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            socketserver.ThreadingMixIn.process_request_thread(self, request, client_address)
        finally:
            self.slots.release()


class Refused(Exception):
    def __init__(self, status, msg, headers=()):
        Exception.__init__(self, msg)
        self.status, self.headers = status, headers


class Handler(BaseHTTPRequestHandler):
    def version_string(self):
        return 'edgectl-web'
    timeout = 20                    # a client that stalls mid-request is dropped
    protocol_version = 'HTTP/1.1'

    def setup(self):
        BaseHTTPRequestHandler.setup(self)
        if hasattr(self.connection, 'do_handshake'):     # HTTPS: the handshake here, under the timeout
            self.connection.do_handshake()

    def log_message(self, fmt, *args):
        pass                        # the journal records the actions; no per-request log lines

    @property
    def app(self):
        return self.server.app

    # --- plumbing ----------------------------------------------------------------------------
    def _send(self, status, body=b'', ctype='application/json', headers=()):
        if isinstance(body, str):
            body = body.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        self.send_header('X-Content-Type-Options', 'nosniff')
        self.send_header('Referrer-Policy', 'no-referrer')
        self.send_header('X-Frame-Options', 'DENY')
        self.send_header('Content-Security-Policy', CSP)
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _json(self, obj, status=200, headers=()):
        self._send(status, json.dumps(obj), headers=headers)

    def _error(self, status, msg, headers=()):
        self._json({'error': msg}, status, headers)

    def _cookie(self):
        for part in self.headers.get('Cookie', '').split(';'):
            k, _, v = part.strip().partition('=')
            if k == COOKIE:
                return v
        return None

    def _session(self):
        token = self._cookie()
        s = self.app.sessions.get(token)
        if s is None:
            raise Refused(401, 'log in first')
        return token, s

    def _check_host(self):
        """Served on loopback, the page answers only to loopback names: a page of another
        site whose name was re-pointed at 127.0.0.1 (DNS rebinding) is refused."""
        hosts = self.app.hosts
        if hosts is not None:
            host = self.headers.get('Host') or ''
            name = host[:host.find(']') + 1] if host.startswith('[') else host.split(':')[0]
            if name not in hosts:
                raise Refused(403, 'refused: this server answers to %s only' % ', '.join(sorted(hosts)))

    def _same_origin(self):
        host = self.headers.get('Host')
        origin = self.headers.get('Origin')
        if origin is None:
            ref = self.headers.get('Referer')
            origin = '%s://%s' % (urlsplit(ref).scheme, urlsplit(ref).netloc) if ref else None
        if not host or origin != '%s://%s' % (self.app.scheme, host):
            raise Refused(403, 'refused: not from this page (same-origin check)')

    def _body(self):
        if self.headers.get('Transfer-Encoding'):
            raise Refused(411, 'a Content-Length is needed (no chunked bodies)')
        n = self.headers.get('Content-Length')
        if n is None or not n.isdigit():
            raise Refused(411, 'a Content-Length is needed')
        n = int(n)
        if n > BODY_MAX:
            self.close_connection = True
            raise Refused(413, 'request body over %d bytes' % BODY_MAX)
        if (self.headers.get('Content-Type') or '').split(';')[0].strip() != 'application/json':
            self.close_connection = True
            raise Refused(415, 'the body must be application/json')
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw.decode('utf-8'))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Refused(400, 'the body is not JSON')
        if type(body) is not dict:
            raise Refused(400, 'the body must be a JSON object')
        return body

    def _operator(self, token, s):
        """The session's operator, still a login of the site (else every session of theirs ends)."""
        try:
            ok = s['operator'] in self.app.logins()
        except EdgeError as e:
            raise Refused(500, 'cannot read the operators\' logins: %s' % e)
        if not ok:
            self.app.sessions.end_operator(s['operator'])
            raise Refused(401, 'operator %s has no login any more' % s['operator'])
        return s['operator']

    # --- methods -----------------------------------------------------------------------------
    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self._guarded(self._get)

    def do_POST(self):
        self._guarded(self._post)

    def _guarded(self, handle):
        """Run a request's handler: a refusal or an action's error is answered with its
        status; a bug must not kill the connection silently: said on stderr, 500, serving on."""
        try:
            handle()
        except Refused as e:
            self.close_connection = True     # a body may be unread: never taken for the next request
            self._error(e.status, str(e), e.headers)
        except ActionError as e:
            self._error(e.status, str(e))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:
            self.close_connection = True
            sys.stderr.write('edgectl web: %s %s failed: %r\n' % (self.command, self.path[:200], e))
            self._error(500, 'internal error')

    def _get(self):
        self._check_host()
        url = urlsplit(self.path)
        if url.path in FILES:
            name, ctype = FILES[url.path]
            return self._send(200, (STATIC / name).read_bytes(), ctype)
        if url.path == '/api/config':         # what the login page needs: the site's language
            site = self.app.hub.site
            return self._json({'lang': site.data.get('lang') if site is not None else None})
        if url.path == '/api/me':
            token, s = self._session()
            return self._json({'operator': s['operator'], 'csrf': s['csrf']})
        token, s = self._session()
        try:
            q = parse_qs(url.query, max_num_fields=20)
        except ValueError:
            raise Refused(400, 'too many query fields')
        if url.path == '/api/state':
            return self._json(dict(self.app.hub.state(), plan=self._plan()))
        if url.path == '/api/events':
            if self.command == 'HEAD':
                raise Refused(405, 'GET it')
            return self._events(token)
        if url.path == '/api/device':
            return self._json(self.app.hub.details(_one(q, 'id')))
        if url.path == '/api/journal':
            return self._journal(q)
        if url.path == '/api/actions':
            return self._actions(q)
        if url.path == '/plan':
            return self._plan_image()
        if url.path == '/api/plot':
            return self._plot(q)
        if url.path == '/api/cards':
            return self._json(self._desk().listing())
        if url.path == '/api/swipes':
            limit, _, _ = self._filters(q, JOURNAL_MAX, 200)
            return self._json(self._desk().swipes(limit))
        raise Refused(404, 'no such page')

    def _post(self):
        path = urlsplit(self.path).path
        self._check_host()
        self._same_origin()
        if path == '/api/login':
            return self._login(self._body())
        token, s = self._session()
        if not hmac.compare_digest(self.headers.get('X-CSRF-Token', '').encode('utf-8', 'replace'), s['csrf'].encode()):
            raise Refused(403, 'refused: no valid CSRF token')
        body = self._body()
        if path == '/api/logout':
            self.app.sessions.end(token)
            self.app.hub._journal(s['operator'], 'logout')
            return self._json({'ok': True}, headers=[('Set-Cookie', '%s=; HttpOnly; SameSite=Strict; Path=/; '
                                                                    'Max-Age=0' % COOKIE)])
        op = self._operator(token, s)
        hub = self.app.hub
        if path == '/api/ack':
            return self._json({'ok': True, 'ack': hub.acknowledge(op, _key(body))})
        if path == '/api/shelve':
            minutes = body.get('minutes')
            if isinstance(minutes, bool) or not isinstance(minutes, (int, float)):
                raise Refused(400, 'minutes must be a number')
            return self._json({'ok': True, 'shelved': hub.shelve(op, _key(body), minutes * 60, body.get('reason'))})
        if path == '/api/unshelve':
            return self._json({'ok': True, 'unshelved': hub.unshelve(op, _key(body))})
        if path == '/api/command':
            return self._json(dict(hub.command(op, _name(body, 'device'), _name(body, 'ctrl'), _name(body, 'op')),
                                   ok=True))
        if path.startswith('/api/cards/'):
            return self._card_action(op, path[len('/api/cards/'):], body)
        raise Refused(404, 'no such action')

    def do_PUT(self):
        self._error(405, 'GET or POST')

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT

    # --- the parts ---------------------------------------------------------------------------
    def _login(self, body):
        app = self.app
        name, pw = body.get('name'), body.get('password')
        if not isinstance(name, str) or not isinstance(pw, str) or not 0 < len(name) <= 64 or len(pw) > 1024:
            raise Refused(400, 'name and password, please')
        addr = self.client_address[0]
        wait = app.throttle.wait_s('name:' + name, 'addr:' + addr)
        if wait:
            raise Refused(429, 'too many failed logins: try again in %d s' % (wait + 1),
                          [('Retry-After', str(int(wait) + 1))])
        try:
            logins = app.logins()
        except EdgeError as e:
            raise Refused(500, 'cannot read the operators\' logins: %s' % e)
        stored = logins.get(name)
        if stored is None or not check_password(stored, pw):
            app.throttle.failed('name:' + name, 'addr:' + addr)
            app.hub.login(name if stored is not None else None, False, addr)
            raise Refused(401, 'wrong operator name or password')
        token, s = app.sessions.start(name, addr)
        app.hub.login(name, True, addr)
        self._json({'operator': name, 'csrf': s['csrf']},
                   headers=[('Set-Cookie', '%s=%s; HttpOnly; SameSite=Strict; Path=/%s' % (
                       COOKIE, token, '; Secure' if self.app.scheme == 'https' else ''))])

    def _desk(self):
        if self.app.desk is None:
            raise Refused(404, 'this web has no card desk')
        return self.app.desk

    def _card_action(self, op, action, body):
        """The card desk's actions, as the session's operator (a name in the body is not read)."""
        desk = self._desk()
        if action == 'issue':
            return self._json(dict(desk.issue(op, body), ok=True))
        if action in ('revoke', 'lost', 'restore'):
            return self._json(dict(desk.set_state(op, action, body), ok=True))
        if action == 'push':
            return self._json(dict(desk.push(op), ok=True))
        raise Refused(404, 'no such action')

    def _plan(self):
        if self.app.hub.site is None:
            return None
        return planmod.layout(self.app.hub.site)

    def _plan_image(self):
        f = self.app.plan_file
        if f is None or f.suffix.lower() not in planmod.TYPES or not f.is_file():
            raise Refused(404, 'no plan image')
        if f.stat().st_size > planmod.IMAGE_MAX:
            raise Refused(413, 'the plan image is over %d MB' % (planmod.IMAGE_MAX >> 20))
        # an SVG can hold scripts: served sandboxed, it runs none even when opened on its own
        self._send(200, f.read_bytes(), planmod.TYPES[f.suffix.lower()], [('Content-Security-Policy', 'sandbox')])

    def _plot(self, q):
        from . import plots
        store = self.app.hub.store
        if store is None:
            raise Refused(404, 'this web runs without a journal (--no-journal)')
        try:
            days = int(_one(q, 'days') or 14)
        except ValueError:
            raise Refused(400, 'days must be a whole number')
        name = _one(q, 'name')
        if name not in plots.TITLES or not 1 <= days <= plots.DAYS_MAX:
            raise Refused(400, 'a plot of %s over 1..%d days' % (', '.join(plots.TITLES), plots.DAYS_MAX))
        store.flush(5)
        svg = plots.render(name, *plots.figures(store.path, name, days))
        self._send(200, svg, 'image/svg+xml', [('Content-Security-Policy', 'sandbox')])

    def _filters(self, q, most, default=500):
        """(limit, since, until) of a search."""
        from ..verbs import _when
        try:
            limit = max(1, min(int(_one(q, 'limit') or default), most))
            return limit, _when(_one(q, 'since')), _when(_one(q, 'until'))
        except (ValueError, EdgeError) as e:
            raise Refused(400, str(e))

    def _actions(self, q):
        limit, since, until = self._filters(q, JOURNAL_MAX)
        return self._json(self.app.hub.actions(_one(q, 'operator'), since, until, limit))

    def _journal(self, q):
        csv = _one(q, 'format') == 'csv'
        limit, since, until = self._filters(q, *((JOURNAL_CSV_MAX, JOURNAL_CSV_MAX) if csv else (JOURNAL_MAX,)))
        sev = _one(q, 'sev')
        if sev not in (None, 'alarm', 'warn', 'info'):
            raise Refused(400, 'sev is alarm, warn or info')
        rows = self.app.hub.journal(_one(q, 'device'), _one(q, 'type'), sev, since, until, limit, newest=not csv)
        if csv:
            from ..store import to_csv
            name = 'journal-%s.csv' % time.strftime('%Y%m%d-%H%M%S')
            return self._send(200, to_csv(rows), 'text/csv; charset=utf-8',
                              [('Content-Disposition', 'attachment; filename="%s"' % name)])
        return self._json(rows)

    def _events(self, token):
        app = self.app
        if not app.pages.acquire(blocking=False):
            raise Refused(503, 'too many open pages')
        page = app.hub.open_page(token)
        try:
            self.send_response(200)
            self.send_header('Content-Type', 'text/event-stream')
            self.send_header('Cache-Control', 'no-store')
            self.send_header('X-Content-Type-Options', 'nosniff')
            self.end_headers()
            self.close_connection = True
            while token in app.sessions.by_token and not page.dropped:
                items = page.take(KEEPALIVE_S)
                chunks = ['event: %s\ndata: %s\n\n' % (kind, data) for kind, data in items] or [': keepalive\n\n']
                self.wfile.write(''.join(chunks).encode('utf-8'))
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            app.hub.close_page(page)
            app.pages.release()


def _one(q, name):
    v = q.get(name)
    return v[0] if v else None


def _name(body, k):
    v = body.get(k)
    if not isinstance(v, str) or not 0 < len(v) <= 64:
        raise Refused(400, '%s must be a name' % k)
    return v


def _key(body):
    """An alarm's key (device, ctrl, type) from the body."""
    return _name(body, 'device'), _name(body, 'ctrl'), _name(body, 'type')


def serve(app, bind, port, tls=None):
    """The server, listening (port 0: a free one; server_address says which); tls: (cert
    file, key file) to serve HTTPS (TLS 1.2 or newer; each handshake in its request's
    thread, under its timeout, so a client stalling in it holds no one else up)."""
    if bind in LOOPBACK:
        app.hosts = set(LOOPBACK) | {'localhost'}
    try:
        httpd = Server((bind, port), app)
    except OSError as e:
        raise EdgeError('cannot listen on %s:%d: %s' % (bind, port, e.strerror or e), 1)
    if tls:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(tls[0]), str(tls[1]))
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        app.scheme = 'https'
    return httpd
