"""Send a command to a device controller and wait for its ack (`edgectl cmd`)."""
import json
import threading
import time
import uuid

from .errors import EdgeError
from .proto import topics


SYSTEM = 'system'      # every board's own controller: status, reboot, config


def check_target(site, device, ctrl):
    """EdgeError (exit 2) at once when the site file has no such device or the device no
    such controller, instead of waiting for an ack that cannot come."""
    from .site import _suggest
    if device not in site.devices:
        raise EdgeError('no device %r in %s%s (devices: %s)' % (
            device, site.path, _suggest(device, site.devices), ', '.join(sorted(site.devices))), 2)
    ctrls = [c['name'] for c in site.devices[device]['controllers']] + [SYSTEM]
    if ctrl not in ctrls:
        raise EdgeError('%s has no controller %r%s (controllers: %s)' % (
            device, ctrl, _suggest(ctrl, ctrls), ', '.join(ctrls)), 2)


def parse_args(pairs):
    """k=v words -> dict; values become int, float, true/false/null where they parse."""
    out = {}
    for p in pairs:
        if '=' not in p or p.startswith('='):
            raise EdgeError('argument %r must be key=value (e.g. s=10)' % p, 2)
        k, v = p.split('=', 1)
        if k in ('id', 'op'):
            raise EdgeError("'%s' is set by edgectl cmd itself" % k, 2)
        out[k] = _value(v)
    return out


def _value(v):
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return {'true': True, 'false': False, 'null': None}.get(v, v)


def signed(body, device, ctrl, key):
    """The command with a rising counter (this host's clock in ms) and its HMAC-SHA256."""
    from .proto import signing
    body = dict(body, ctr=int(time.time() * 1000))
    body['sig'] = signing.sign(key, device, ctrl, body)
    return body


def send(ep, site, device, ctrl, op, args=None, timeout=5.0, cid=None, key=None):
    """Publish the command (signed when `key` is given) through the broker at `ep` (an
    mqttc.Endpoint); return the ack dict. EdgeError on timeout."""
    cid = cid or 'c-%s' % uuid.uuid4().hex[:10]
    got = {}
    done = threading.Event()
    ack_topic = topics.ack(site, device, ctrl)

    def on_message(client, userdata, msg):
        try:
            ack = json.loads(msg.payload)
        except ValueError:
            return
        if isinstance(ack, dict) and ack.get('id') == cid:
            got['ack'] = ack
            done.set()

    c = ep.connect('cmd', on_message=on_message, subscribe=[ack_topic])
    try:
        body = {'id': cid, 'op': op}
        body.update(args or {})
        if key is not None:
            body = signed(body, device, ctrl, key)
        c.publish(topics.cmd(site, device, ctrl), json.dumps(body), qos=1)
        if not done.wait(timeout):
            raise EdgeError('no ack from %s/%s within %.1f s (is the device online?)' % (device, ctrl, timeout))
        return got['ack']
    finally:
        from . import mqttc
        mqttc.close(c)
