"""What the verbs share: the site file argument, the broker to talk to (the running
simulator's or the site's, with the control room's login and the site CA when the site
has them), the site's secrets and telemetry periods."""
import os
import sys

from .errors import EdgeError


def _site_arg(p, positional=False):
    if positional:
        p.add_argument('site_file', nargs='?', metavar='SITE.yaml', help='the site file (default ./site.yaml)')
    p.add_argument('--site', dest='site_opt', metavar='FILE', help='the site file (default ./site.yaml)')


def _site_path(a):
    return getattr(a, 'site_file', None) or a.site_opt or 'site.yaml'


def _broker_for(a):
    """(site, Endpoint): the broker to talk to, the running simulator's (same folder) or the
    site file's. With a secrets file beside the site file, clients log in as the control
    room on its own listener; with a TLS broker they trust the site CA."""
    try:
        sec = _site_secrets(a)
    except EdgeError:
        sec = None
    from .mqttc import Endpoint
    site, host, port, bk = _broker_of(a)
    auth = None
    if sec:        # a secured broker: the control room's tools have their own listener
        from .broker import room_port
        port = room_port(bk)
        auth = (sec['room']['user'], sec['room']['password'])
    ca = None
    from . import site as sitemod, tls
    if os.path.exists(_site_path(a)):
        s = sitemod.load_valid(_site_path(a))
        if s.data['broker'].get('tls'):
            ca = tls.ca_for(_site_path(a), s.name)
            if ca is None:
                raise EdgeError('the site broker speaks TLS but there is no site CA beside %s: '
                                'run `edgectl broker --tls` there' % _site_path(a), 2)
    return site, Endpoint(host, port, auth, ca)


def _broker_of(a):
    from . import site as sitemod
    from . import simstate
    try:
        rt = simstate.runtime()
        if not (a.site_opt or getattr(a, 'site_file', None)):
            return rt['site'], rt['broker']['host'], rt['broker']['port'], rt['broker']
    except EdgeError:
        rt = None
    s = sitemod.load_valid(_site_path(a))
    bk = rt['broker'] if rt and rt['site'] == s.name else s.data['broker']
    return s.name, bk['host'], bk['port'], bk


def _site_file(a):
    """The site file a verb talks about: SITE.yaml or --site, else the running simulator's
    (same folder), else ./site.yaml."""
    from . import simstate
    path = a.site_opt or getattr(a, 'site_file', None)
    if not path:
        try:
            path = simstate.runtime()['site_file']
        except EdgeError:
            path = 'site.yaml'
    return path


def _site_secrets(a):
    """The site's secrets file (beside the site file), or None."""
    from . import secrets
    return secrets.load(_site_file(a))


def _site_or_none(a):
    """The valid site file a verb talks about, or None when there is none."""
    from . import site as sitemod
    path = _site_file(a)
    return sitemod.load_valid(path) if os.path.exists(path) else None


def _progress(label):
    """A progress callback (i, n): one line rewritten in place on a terminal (the caller
    ends it); in a log (not a terminal) a line at each tenth, so logs get lines, not one
    line of carriage returns."""
    if sys.stderr.isatty():
        return lambda i, n: print('\r%s: %d/%d' % (label, i, n), end='', file=sys.stderr, flush=True)
    shown = set()

    def line(i, n):
        step = (10 * i) // max(n, 1)
        if step not in shown:
            shown.add(step)
            print('%s: %d/%d' % (label, i, n), file=sys.stderr, flush=True)
    return line


def _site_tele(a):
    """device -> tele_s from the site file, when there is one (silent-board alarms)."""
    from . import site as sitemod
    try:
        s = sitemod.load_valid(_site_path(a))
    except EdgeError:
        return {}
    return {d: sitemod.device_config(s, d)['tele_s'] for d in s.devices}


def _operator_password(prompt, confirm=False):
    """An operator's password: EDGE_OPERATOR_PASSWORD, or typed on the terminal (twice when
    it is being set)."""
    return _secret_typed('EDGE_OPERATOR_PASSWORD', prompt, confirm, 'passwords')


def _secret_typed(var, prompt, confirm, what):
    """A secret from the environment variable `var`, or typed on the terminal without echo
    (twice when it is being set); never from a pipe."""
    value = os.environ.get(var)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise EdgeError('%s: set %s or run on a terminal to type it' % (prompt, var), 2)
    import getpass
    value = getpass.getpass(prompt + ': ')
    if confirm and getpass.getpass('again: ') != value:
        raise EdgeError('the two %s differ; nothing changed' % what, 2)
    return value


def _operator_login(a, sec, ep):
    """On a site whose secrets (`sec`) list operators, the monitor logs in as the operator
    named by --operator, with their own password: `ep` as that operator."""
    from . import secrets
    ops = secrets.operators(sec)
    if not ops:
        return ep                    # the site's one control-room login
    if a.operator not in ops:
        raise EdgeError('no control-room login for operator %r on this site (have: %s): '
                        '`edgectl operator add %s`' % (a.operator, ', '.join(ops), a.operator), 2)
    return ep.as_user((a.operator, _operator_password('password for operator %s' % a.operator)))
