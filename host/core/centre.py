"""Many sites, one monitoring centre: each site's mosquitto bridges to a central mosquitto.

A site keeps working alone (its boards, broker and control room are all on site); the
bridge only carries copies. Up to the centre go the site's events, status, acks, state
snapshots and telemetry; down from it come commands for the site's boards; the site's fire
state and alarm acknowledgements (`_site/...`) go both ways (mosquitto's bridge protocol
keeps them from looping). Everything is QoS 1 on a persistent bridge session
(cleansession false) and the site broker persists its queue, so a WAN outage, or a site
broker restarted during one, loses nothing: the backlog goes up when the link returns.

The centre's mosquitto has two listeners, like a secured site's: `port` for the sites'
bridges (each logs in as bridge.<site>, its client id is its login, so no site can take
over another's session) and `room_port` (default port + 1) for the central control room's
tools. The bridges' ACL lets a site's bridge write and read only under edge/v1/<site>/:
a site cannot read, forge or command another site.

The centre file (centre.yaml):

    centre: hq
    broker: {host: 0.0.0.0, port: 8883}       # room_port: default port + 1
    sites: [north, south]

and its secrets (centre.secrets.json beside it, 0600): each site's bridge password and the
central control room's login. A site's file names the centre (`centre: {host, port, ca}`,
ca relative to the site file) and its secrets file holds the bridge login (`edgectl centre
enrol`), or the environment does (EDGE_CENTRE_USER, EDGE_CENTRE_PASSWORD)."""
import json
import os
import secrets as _random
from pathlib import Path

from . import secrets as sitesecrets
from .broker import Broker, hash_password
from .errors import EdgeError
from .proto import topics

ROOM_USER = sitesecrets.ROOM_USER
BRIDGE_STATE = 'bridge'        # edge/v1/<site>/_site/bridge: "1" while the site's bridge is up, "0" once down
# what a site sends up, and what comes down to it (topic patterns under edge/v1/<site>/)
UP = ('+/evt/+', '+/status', '+/ack/+', '+/state/+', '+/tele')
DOWN = ('+/cmd/+',)
BOTH = ('%s/fire/#' % topics.SITE, '%s/fire_reset/#' % topics.SITE, '%s/alarm_ack/#' % topics.SITE)


def bridge_user(site):
    return 'bridge.%s' % site


def bridge_topic(site):
    """Where the site's bridge state is published (retained, "1"/"0"), at the site and the centre."""
    return topics.base(site, topics.SITE) + BRIDGE_STATE


# --- the centre file and its secrets ------------------------------------------------------
def load(path):
    """The centre file as {'name', 'host', 'port', 'room_port', 'sites'}; EdgeError (2) when wrong."""
    import yaml
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except OSError as e:
        raise EdgeError('cannot read the centre file %s: %s' % (path, e.strerror), 2)
    except yaml.YAMLError as e:
        raise EdgeError('the centre file %s is not YAML: %s' % (path, str(e).splitlines()[0]), 2)
    if not isinstance(data, dict) or set(data) - {'centre', 'broker', 'sites'}:
        raise EdgeError('%s: a centre file is a mapping of centre, broker {host, port} and sites [names]' % path, 2)
    name, bk, sites = data.get('centre'), data.get('broker') or {}, data.get('sites')
    if topics.bad_name(name):
        raise EdgeError('%s: centre: %s' % (path, topics.NAME_RULE), 2)
    if not isinstance(sites, list) or not sites or len(set(map(str, sites))) != len(sites):
        raise EdgeError('%s: sites: a list of the site names bridged here, each once' % path, 2)
    for s in sites:
        if topics.bad_name(s):
            raise EdgeError('%s: site %r: %s' % (path, s, topics.NAME_RULE), 2)
    port = bk.get('port') if isinstance(bk, dict) else None
    if type(port) is not int or not 0 < port < 65535:
        raise EdgeError('%s: broker.port: the port the sites\' bridges connect to (1..65534)' % path, 2)
    room = bk.get('room_port') or port + 1
    return {'name': name, 'host': str(bk.get('host') or '127.0.0.1'), 'port': port, 'room_port': room,
            'sites': list(sites), 'path': p}


def secrets_path(centre_path):
    return sitesecrets.path_for(centre_path)


def ensure_secrets(centre_path, sites):
    """Create or complete the centre's secrets: a unique bridge password per site, the
    central control room's login. Returns (secrets, sites added)."""
    s = sitesecrets.load(centre_path) or {'sites': {}, 'room': {'user': ROOM_USER,
                                                                'password': _random.token_urlsafe(18)}}
    added = [n for n in sites if n not in s['sites']]
    for n in added:
        s['sites'][n] = {'password': _random.token_urlsafe(18)}
    if added or not secrets_path(centre_path).exists():
        sitesecrets._save(secrets_path(centre_path), s)
    return s, added


def tls_files(centre, folder=None):
    """(ca.pem, broker.pem, broker.key) of the centre: its own CA, made once in
    <centre file's folder>/<name>.tls/, and a certificate for its host."""
    from . import tls
    folder = Path(folder) if folder else centre['path'].parent / ('%s.tls' % centre['name'])
    ca, key = tls.make_ca(folder, 'centre ' + centre['name'])
    host = centre['host'] if centre['host'] not in ('0.0.0.0', '::') else '127.0.0.1'
    crt, k = tls.make_server(folder, ca, key, host)
    return ca, crt, k


def enrol(centre_path, site_path):
    """Give a site its bridge login at the centre: written into the site's secrets file
    (created 0600 when missing). Returns the site's name."""
    from . import site as sitemod
    c = load(centre_path)
    s = sitemod.load_valid(site_path)
    if s.name not in c['sites']:
        raise EdgeError('site %s is not in %s\'s sites: add it there first' % (s.name, centre_path), 2)
    sec, _ = ensure_secrets(centre_path, c['sites'])
    p = sitesecrets.path_for(site_path)
    mine, _ = sitesecrets.ensure(site_path, sorted(s.devices))     # a site without secrets gets them whole
    mine['centre'] = {'user': bridge_user(s.name), 'password': sec['sites'][s.name]['password']}
    sitesecrets._save(p, mine)
    return s.name


# --- the site's side: its bridge ------------------------------------------------------------
def site_login(site_name, site_secrets):
    """(user, password) of the site's bridge at the centre: EDGE_CENTRE_USER/PASSWORD, else
    the site's secrets file (`edgectl centre enrol`)."""
    pw = os.environ.get('EDGE_CENTRE_PASSWORD')
    if pw:
        return os.environ.get('EDGE_CENTRE_USER') or bridge_user(site_name), pw
    c = (site_secrets or {}).get('centre')
    if not c:
        raise EdgeError('the site file names a centre but there is no bridge login: run `edgectl centre enrol '
                        'CENTRE.yaml SITE.yaml` at the centre and bring the secrets file, or set '
                        'EDGE_CENTRE_PASSWORD', 2)
    return c['user'], c['password']


def bridge_lines(site, centre, login, ca, retry_s=(1, 5)):
    """mosquitto's bridge section for a site broker: `centre` {host, port}, `login`
    (user, password) at the centre, `ca` the centre's CA (None: plain TCP, for tests
    only). Goes at the end of the config (a `connection` starts a section)."""
    base = topics.base(site, '')[:-1]        # edge/v1/<site>/
    lines = ['', '# bridge to the monitoring centre (edgectl centre): copies only; the site works without it',
             'connection centre-%s' % site,
             'address %s:%d' % (centre['host'], centre['port']),
             'bridge_protocol_version mqttv311',
             'try_private true',                    # the centre knows a bridge: no loops on `both` topics
             'remote_clientid %s%s' % (topics.CLIENT_PREFIX, bridge_user(site)),
             'local_clientid %sbridge-local.%s' % (topics.CLIENT_PREFIX, site),
             'remote_username %s' % login[0],
             'remote_password %s' % login[1],
             'cleansession false',                  # the centre keeps our session (and commands) across a cut
             'keepalive_interval 15',
             'restart_timeout %d %d' % tuple(retry_s),
             'start_type automatic',
             'notifications true',
             'notification_topic %s' % bridge_topic(site)]
    if ca:
        lines += ['bridge_cafile %s' % ca, 'bridge_tls_version tlsv1.2']
    lines += ['topic %s out 1 %s %s' % (t, base, base) for t in UP]
    lines += ['topic %s in 1 %s %s' % (t, base, base) for t in DOWN]
    lines += ['topic %s both 1 %s %s' % (t, base, base) for t in BOTH]
    return lines


def site_bridge(site, site_path, site_secrets):
    """The bridge lines for a site whose file has `centre:`, else []."""
    c = site.data.get('centre')
    if not c:
        return []
    ca = c.get('ca')
    if ca:
        ca = (Path(site_path).parent / ca).resolve()
        if not ca.is_file():
            raise EdgeError('the site file\'s centre.ca %s is not there: copy the centre\'s CA certificate '
                            '(<centre>.tls/site-ca.pem at the centre) beside the site file' % ca, 2)
    return bridge_lines(site.name, c, site_login(site.name, site_secrets), ca,
                        (c.get('retry_s', 1), max(c.get('retry_s', 1), 5)))


# --- the centre's side ----------------------------------------------------------------------
def room_link(centre_path):
    """(name, mqttc.Endpoint) of the centre's control-room listener for the central tools
    (monitor, journal): its host and port, the room's login and the centre's CA."""
    from .mqttc import Endpoint
    c = load(centre_path)
    sec = sitesecrets.load(centre_path)
    ca = c['path'].parent / ('%s.tls' % c['name']) / 'site-ca.pem'
    host = c['host'] if c['host'] not in ('0.0.0.0', '::') else '127.0.0.1'
    return c['name'], Endpoint(host, c['room_port'], (sec['room']['user'], sec['room']['password']) if sec else None,
                               ca if ca.exists() else None)


def acl_text(sites, room_user=ROOM_USER):
    """mosquitto ACLs at the centre: (bridges', control room's). A site's bridge writes its
    site's board topics and reads its site's commands, and reads and writes its site's
    fire state and alarm acknowledgements; nothing of another site. The central control
    room reads every site (and the brokers' bridge states) and writes commands, fire
    states and acknowledgements, never a board's events or status."""
    head = ['# generated by edgectl from the centre file: do not edit', '']
    bridges = list(head)
    for s in sorted(sites):
        base = topics.base(s, '')[:-1]
        bridges += ['user %s' % bridge_user(s)]
        bridges += ['topic write %s%s' % (base, t) for t in UP]
        bridges += ['topic read %s%s' % (base, t) for t in DOWN]
        bridges += ['topic readwrite %s%s' % (base, t) for t in BOTH]
        bridges += ['topic write %s' % bridge_topic(s), '']
    room = head + ['user %s' % room_user, 'topic read %s/%s/#' % (topics.ROOT, topics.VERSION),
                   'topic read $SYS/broker/connection/#']
    room += ['topic write %s/%s/+/%s' % (topics.ROOT, topics.VERSION, t) for t in DOWN + BOTH]
    return '\n'.join(bridges) + '\n', '\n'.join(room) + '\n'


class CentreBroker(Broker):
    """The central mosquitto: the sites' bridges on `port`, the central control room on
    `room_port`, both with logins and ACLs from the centre's secrets; persistent (the
    bridges' and the journal's sessions outlive a restart)."""

    def __init__(self, centre, secrets, workdir=None, tls=None, port=None, room_port=None):
        Broker.__init__(self, port=port or centre['port'], host=centre['host'], workdir=workdir,
                        persistence=True, site=centre['name'], secrets=secrets, tls=tls,
                        room_port=room_port or centre['room_port'])
        self.sites = list(centre['sites'])
        self.max_inflight = 1000

    def write_auth(self):
        room = ['%s:%s' % (self.secrets['room']['user'], hash_password(self.secrets['room']['user'],
                                                                      self.secrets['room']['password']))]
        bridges = ['%s:%s' % (bridge_user(s), hash_password(bridge_user(s), self.secrets['sites'][s]['password']))
                   for s in sorted(self.sites) if s in self.secrets['sites']]
        for path, lines in ((self.passwd, room), (self.passwd_boards, bridges)):
            fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, 'w') as f:
                f.write('\n'.join(lines) + '\n')
        acl_bridges, acl_room = acl_text(self.sites, self.secrets['room']['user'])
        self.acl_boards.write_text(acl_bridges)
        self.acl.write_text(acl_room)


def summary(centre):
    return json.dumps({k: v for k, v in centre.items() if k != 'path'})
