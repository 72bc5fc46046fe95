"""`edgectl centre`: the monitoring centre's mosquitto (`centre broker CENTRE.yaml`) and a
site's bridge login there (`centre enrol CENTRE.yaml SITE.yaml`). See host/core/centre.py."""
from pathlib import Path

from .errors import EdgeError


def add_arguments(sub):
    s = sub.add_parser('centre', help='the monitoring centre: its mosquitto, sites\' bridge logins',
                       description='broker CENTRE.yaml: run the central mosquitto (TLS with the centre\'s own CA, '
                                   'made once in NAME.tls/ beside the centre file; the sites\' bridges on its port, '
                                   'the central control room on port + 1; each site\'s bridge reads and writes only '
                                   'its own site\'s topics). enrol CENTRE.yaml SITE.yaml: put the site\'s bridge login '
                                   'into the site\'s secrets file (carry that file and the centre\'s CA to the site; '
                                   'its site file names the centre: `centre: {host, port, ca}`).')
    s.add_argument('action', choices=['broker', 'enrol'])
    s.add_argument('centre_file', metavar='CENTRE.yaml')
    s.add_argument('site_file', nargs='?', metavar='SITE.yaml', help='enrol: the site to give a bridge login')
    s.add_argument('--dir', help='broker: config/log/persistence folder (default .edgectl/centre)')
    s.add_argument('--no-tls', action='store_true', help='broker: plain TCP (a test on one machine only)')
    s.set_defaults(fn=run)


def run(a):
    from . import centre
    c = centre.load(a.centre_file)
    if a.action == 'enrol':
        if not a.site_file:
            raise EdgeError('centre enrol needs the SITE.yaml to give a bridge login', 2)
        name = centre.enrol(a.centre_file, a.site_file)
        print('site %s: its bridge login at centre %s is in %s (0600); bring that file and %s to the site, and '
              'name the centre in its site file: centre: {host: ..., port: %d, ca: ...}' % (
                  name, c['name'], centre.sitesecrets.path_for(a.site_file),
                  c['path'].parent / ('%s.tls' % c['name']) / 'site-ca.pem', c['port']))
        return 0
    sec, added = centre.ensure_secrets(a.centre_file, c['sites'])
    if added:
        print('new bridge logins for %s in %s (0600): `edgectl centre enrol` hands each to its site' % (
            ', '.join(added), centre.secrets_path(a.centre_file)), flush=True)
    tls = None if a.no_tls else centre.tls_files(c)
    b = centre.CentreBroker(c, sec, workdir=Path(a.dir or '.edgectl/centre'), tls=tls)
    with b:
        print('central mosquitto %s on %s:%d (sites\' bridges: %s), %d (control room)%s; Ctrl-C stops it' % (
            c['name'], b.host, b.port, ', '.join(c['sites']), b.room_port, ', TLS (CA %s)' % tls[0] if tls else ''),
            flush=True)
        b.serve()
    return 0


VERBS = {'centre': (add_arguments, run)}
