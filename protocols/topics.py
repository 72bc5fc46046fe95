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


SITE = '_site'     # site-level topics live under this reserved device name


def site_fire(site):
    """Retained site fire state: {"active", "by", "ts"} (fire linkage, GB 50116-2013 4.10.3)."""
    return base(site, SITE) + 'fire'


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
