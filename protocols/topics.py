# Topic builders for the edgectl MQTT contract (CONTRACT.md section 3).
# MicroPython-compatible: the firmware and the host both import this one file.
VERSION = 'v1'
ROOT = 'edge'


def base(site, device):
    return '%s/%s/%s/%s/' % (ROOT, VERSION, site, device)


def status(site, device):
    return base(site, device) + 'status'


def evt(site, device, ctrl):
    return base(site, device) + 'evt/' + ctrl


def state(site, device, ctrl):
    return base(site, device) + 'state/' + ctrl


def tele(site, device):
    return base(site, device) + 'tele'


def cmd(site, device, ctrl):
    return base(site, device) + 'cmd/' + ctrl


def ack(site, device, ctrl):
    return base(site, device) + 'ack/' + ctrl


def cfg(site, device):
    return base(site, device) + 'cfg'


def log(site, device):
    """The board's log lines, QoS 0: {"lvl": 1..4, "ts", "msg"[, "dropped"]}."""
    return base(site, device) + 'log'


SITE = '_site'     # site-level topics live under this reserved device name

# Names of sites, devices and controllers become topic levels, MQTT logins and client ids:
# 1..32 of a-z, 0-9 and '-' (controllers also '_'), starting with a letter or digit, so no
# '/', '+', '#', control character or trailing newline, and never one of these.
RESERVED = ('control-room', 'system')
# Every client id starts with this (mosquitto's clientid_prefixes on a secured broker): no
# device name can, so no client can take over a board's session (see host/broker.py).
CLIENT_PREFIX = 'edge.'
NAME_MAX = 32
NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789-'
NAME_RULE = 'must be 1..32 of a-z, 0-9, - (controllers also _), first a letter or digit, not system or control-room'


def bad_name(name, extra=''):
    """Why `name` cannot name a site, device or controller (None when it can); `extra`: other
    characters allowed after the first (controllers: '_')."""
    if isinstance(name, str) and 0 < len(name) <= NAME_MAX and name not in RESERVED \
            and not name.strip(NAME_CHARS + extra) and name[0] not in '-_':
        return None
    return NAME_RULE


def site_fire(site):
    """The control room's record of the last fire reset, retained: {"active": false, "by", "ts",
    "ctr"} (for control rooms; boards go by their own signed reset, fire_reset)."""
    return base(site, SITE) + 'fire'


def fire_raise(site, who):
    """A fire raise, retained: {"active": true, "by", "ts", "after"} from a board with a fire
    input (only its own: the ACL) or the control room (who = ROOM). `after`: the newest reset
    the raiser knew; a raise counts until a reset newer than that (GB 50116-2013 4.10.3)."""
    return base(site, SITE) + 'fire/' + who


def fire_reset(site, device):
    """The control room's fire reset for one board, retained: {"active": false, "by", "ctr",
    "sig"} signed with that board's own key, so no other board's key can make it."""
    return base(site, SITE) + 'fire_reset/' + device


def alarm_ack(site, device, ctrl, etype):
    """Retained acknowledgement of one alarm by the control room: {"by", "ts", "seq"}."""
    return base(site, SITE) + 'alarm_ack/%s/%s/%s' % (device, ctrl, etype)


def site_filter(site):
    """Everything of one site, for a control room."""
    return '%s/%s/%s/#' % (ROOT, VERSION, site)


def parse(topic):
    """Split a topic into (site, device, kind, ctrl or None); None if not ours."""
    parts = topic.split('/')
    if len(parts) < 5 or parts[0] != ROOT or parts[1] != VERSION:
        return None
    site, device, kind = parts[2], parts[3], parts[4]
    ctrl = None
    if len(parts) == 6:
        ctrl = parts[5]
    elif len(parts) != 5:
        return None
    return site, device, kind, ctrl
