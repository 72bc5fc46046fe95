"""Push a device's config to a running board as the retained `cfg` message and wait for
the board's verdict (system.config_applied or system.config_rejected).

A config push is a safety command: the message is {"rev", "cfg": the flat config as JSON
text, "ctr", "sig"}, signed with the device's command key like `unlock` (protocols/signing.py,
for the pseudo controller `_cfg`); a board with a key refuses it unsigned, forged or replayed.
Over the serial cable (physical access, which could reflash the board anyway) no signature
is needed; the board checks ranges and inversions either way."""
import json
import time

from ..core.errors import EdgeError
from ..core.proto import topics


SIGNED_AS = '_cfg'       # firmware/config_push.py: the same name


def message(cfg, key=None):
    """The `cfg` message for a flat config: signed when `key` (the device's command key)."""
    body = {'rev': cfg['rev'], 'cfg': json.dumps(cfg, sort_keys=True, separators=(',', ':'))}
    if key is None:
        return body
    from ..core.commands import signed
    return signed(body, cfg['device'], SIGNED_AS, key)


BOARD_MSG_MIN = 2048     # the smallest message a board takes (firmware/link.py _MSG_MIN: an ESP32 without PSRAM)


def push_mqtt(ep, site, cfg, timeout, progress=None, key=None):
    """Publish the config (signed with `key`) and wait for the board's verdict event."""
    dev = cfg['device']
    rev = cfg['rev']
    size = len(json.dumps(message(cfg, key))) + len(topics.cfg(site, dev)) + 8    # + the packet's header
    if size > BOARD_MSG_MIN:
        raise EdgeError('the config of %s is %d bytes as a message; a board takes at most %d in one message: '
                        'use fewer schedule windows or exception dates, or push it over the cable '
                        '(config push --via serial)' % (dev, size, BOARD_MSG_MIN), 2)
    col = ep.collector([topics.evt(site, dev, 'system'), topics.status(site, dev)], 'config_push')
    try:
        m = col.mark()
        col.client.publish(topics.cfg(site, dev), json.dumps(message(cfg, key)), qos=1,
                           retain=True).wait_for_publish(5)
        t0 = time.monotonic()
        verdict = None
        while verdict is None:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise EdgeError('no verdict from %s on config rev %s within %.0f s (online? see `edgectl monitor`)' % (
                    dev, rev, timeout))
            verdict = col.wait(lambda t, p: isinstance(p, dict) and p.get('rev') == rev and p.get('type') in (
                'system.config_applied', 'system.config_rejected'), min(left, 1.0), m)
            if progress and verdict is None:
                progress(time.monotonic() - t0)
        return verdict[2]
    finally:
        col.close()


STAGED = 'config.push'


def push_serial(target, cfg, reboot=True, net=None, secret=None, ca_der=None):
    """Write the device's flat config over the serial line; the board checks it and builds
    every controller dry before it replaces config.json. Returns the board's verdict
    ({'ok', 'rev', 'err', 'kept'}); a refused config leaves the old one in place.
    `target`: an open SerialBoard (the installer's session) or a port."""
    from .serialboard import session
    with session(target) as b:
        if not b.sizes('lib').get('config.mpy') and not b.sizes('.').get('config.py'):
            raise EdgeError('no edgectl firmware on the board on %s: run `edgectl deploy --port %s` first' % (
                b.port, b.port), 1)
        if net is not None:
            b.write('net.json', json.dumps(net).encode())
        if secret is not None:       # MQTT login and command key: over the cable only, never MQTT
            b.write('secrets.json', json.dumps(secret).encode())
        if ca_der is not None:       # the site CA the board checks the broker against (TLS)
            b.write('ca.der', ca_der)
        b.write(STAGED, json.dumps(cfg).encode())
        verdict = b.eval_json('import json, config\nprint(json.dumps(config.install(%r)))' % STAGED)
        if reboot:
            b.restart()
    return verdict


def pull_serial(port):
    """The config the board on `port` boots with (its config.json), or None."""
    from .serialboard import SerialBoard
    with SerialBoard(port) as b:
        cfg = b.read_json('config.json')
        b.restart()
    return cfg


def pull_mqtt(ep, site, device, timeout=5.0):
    """The config a running board runs, from its `config` system command."""
    from ..core.commands import send
    ack = send(ep, site, device, 'system', 'config', timeout=timeout)
    if not ack.get('ok'):
        raise EdgeError('%s refused: %s' % (device, ack.get('err')), 1)
    from ..core.specgen import with_defaults
    return with_defaults(ack.get('state'))   # the board keeps it lean: its defaults filled in again


def diff(running, wanted, running_name='board', wanted_name='site file'):
    """Unified diff of two flat configs (keys sorted), '' when they are the same."""
    import difflib
    a = json.dumps(running, indent=1, sort_keys=True).splitlines()
    b = json.dumps(wanted, indent=1, sort_keys=True).splitlines()
    return '\n'.join(difflib.unified_diff(a, b, running_name, wanted_name, lineterm=''))
