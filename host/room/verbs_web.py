"""`edgectl web`: the control room in a browser, on the same MQTT intake and journal as
`edgectl monitor` (host/room/web/)."""
import sys
import time

from ..core.errors import EdgeError

HELP = 'the control room in a browser: site plan, alarms with sound, acknowledgement, shelving, calls, journal'


def add_arguments(sub):
    from ..core.cliargs import _site_arg
    s = sub.add_parser('web', help=HELP,
                       description='Serve the control room to browsers: the site plan with devices coloured by '
                                   'state, alarms popping up with a sound until acknowledged, shelving, gate calls '
                                   '(answer, release, hang up), barrier and door actions, the live event log and the '
                                   'journal (search, CSV), the card desk (issue, revoke, lost, restore, swipes: as '
                                   '`edgectl cards`, pushed to the boards signed with their keys). Shelvings are kept '
                                   'in the journal: every web and monitor on it sees them, a restart keeps them. Operators log in with their `edgectl operator` logins; '
                                   'every action is journaled under their name. Binds to loopback unless --bind says '
                                   'otherwise (plain HTTP: put it behind TLS to serve it beyond this machine).')
    _site_arg(s)
    s.add_argument('--port', type=int, default=8080, help='HTTP port (default 8080; 0: a free one)')
    s.add_argument('--bind', default='127.0.0.1', metavar='ADDR', help='address to listen on (default 127.0.0.1)')
    s.add_argument('--tls', action='store_true',
                   help='serve HTTPS with a certificate from the site CA (SITE.tls/, made if missing; browsers trust '
                        'site-ca.pem once) for --name')
    s.add_argument('--name', metavar='HOST', help='--tls: the name or address browsers use (default: --bind)')
    s.add_argument('--db', help='journal file (default .edgectl/journal.sqlite3)')
    s.add_argument('--no-journal', action='store_true', help='do not write the journal (no search, no CSV)')
    s.add_argument('--duration', type=float, help='stop after this many seconds')
    s.set_defaults(fn=run)
    return s


def run(a):
    from ..core import secrets, site as sitemod
    from ..core.cliargs import _broker_for, _site_file, _site_secrets, _site_tele
    from .store import Store
    from .web.hub import Hub, WebMonitor
    from .web.plan import plan_file
    from .web.server import App, serve
    site_name, ep = _broker_for(a)
    path = _site_file(a)
    site = sitemod.load_valid(path)
    if site.name != site_name:
        raise EdgeError('the running simulator is site %s, the site file %s is %s' % (site_name, path, site.name), 2)
    sec = _site_secrets(a)
    if not secrets.operators(sec):
        raise EdgeError('no operator logins on this site: `edgectl broker --site %s --secure`, then '
                        '`edgectl operator add NAME`' % path, 2)

    def logins():
        return {n: o['passwd'] for n, o in ((secrets.load(path) or {}).get('operators') or {}).items()}
    store = None if a.no_journal else Store(a.db)
    mon = WebMonitor(site_name, operator='web', store=store, tele_s=_site_tele(a), secrets=sec)
    hub = Hub(site, mon, store)
    from .web.desk import CardDesk
    desk = CardDesk(path, site, store, ep, sec)        # pushes signed with each board's key, as `cards push`
    httpd = serve(App(hub, logins, plan_file(site), desk), a.bind, a.port,
                  _certificate(a, path, site) if a.tls else None)
    mon.attach(ep)
    hub.start()
    import threading
    t = threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.2}, daemon=True)
    t.start()
    bound = httpd.server_address
    print('edgectl web: site %s on %s:%d; open %s://%s:%d/ (Ctrl-C stops)' % (
        site_name, ep.host, ep.port, 'https' if a.tls else 'http', a.name or bound[0], bound[1]), flush=True)
    try:
        end = time.monotonic() + a.duration if a.duration else None
        while end is None or time.monotonic() < end:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.shutdown()
        httpd.server_close()
        hub.stop()
        mon.detach()
        if store is not None:
            store.close()
    sys.stdout.flush()
    return 0


def _certificate(a, path, site):
    """(cert, key) for HTTPS: web.pem / web.key in the site's TLS folder, for --name, signed
    by the site CA (made when there is none)."""
    from ..core import tls
    name = a.name or a.bind
    if name in ('0.0.0.0', '::'):
        raise EdgeError('--tls on all addresses needs --name: the host name or address browsers use', 2)
    folder = tls.folder_for(path, site.name)
    ca, ca_key = tls.make_ca(folder, site.name)
    crt, key = folder / 'web.pem', folder / 'web.key'
    if not _valid_for(crt, name):
        crt, key = tls.make_server(folder, ca, ca_key, name, 'web')
    return crt, key


def _valid_for(crt, name):
    """True when the certificate at crt exists, names `name` and is not about to expire."""
    import datetime
    from cryptography import x509
    if not crt.exists():
        return False
    cert = x509.load_pem_x509_certificate(crt.read_bytes())
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    listed = [str(v) for v in names.get_values_for_type(x509.DNSName)] + \
        [str(v) for v in names.get_values_for_type(x509.IPAddress)]
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=30)
    return name in listed and cert.not_valid_after_utc > soon


VERBS = {'web': (add_arguments, run)}
