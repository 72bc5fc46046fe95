"""`edgectl zone`: arm and disarm the site's intrusion zones (controllers of type zone; one
zone name may stand on several boards: each of them is armed or disarmed). Arming takes one
command; disarming takes the operator's PIN, checked here against its hash in the site's
secrets, before the signed `disarm` goes out. `pin` sets an operator's PIN, `list` shows the
zones."""
import json
import sys

from ..core.errors import EdgeError
from ..core.cliargs import _broker_for, _secret_typed, _site_arg, _site_path, _site_secrets


def _zones(site):
    """{zone name: [device, ...]} from the site file."""
    out = {}
    for dev, d in sorted(site.devices.items()):
        for c in d['controllers']:
            if c['type'] == 'zone':
                out.setdefault(c['name'], []).append(dev)
    return out


def _pin(prompt, confirm=False):
    return _secret_typed('EDGE_OPERATOR_PIN', prompt, confirm, 'PINs')


def cmd_zone(a):
    from ..core import commands, secrets, site as sitemod
    from . import pins
    path = _site_path(a)
    site = sitemod.load_valid(path)
    zones = _zones(site)
    if a.action == 'list':
        if a.json:
            print(json.dumps(zones))
        for z, devs in sorted(zones.items()) if not a.json else ():
            print('%-20s %s' % (z, ', '.join(devs)))
        return 0
    if not a.name:
        raise EdgeError('zone %s needs NAME' % a.action, 2)
    if a.action == 'pin':
        changed = pins.set_pin(path, a.name, _pin('new disarm PIN for %s' % a.name, confirm=True))
        print('PIN %s for %s (only its hash is kept)' % ('changed' if changed else 'set', a.name))
        return 0
    if a.name not in zones:
        raise EdgeError('no zone %r in %s (zones: %s)' % (a.name, path, ', '.join(sorted(zones)) or 'none'), 2)
    if not a.by:
        raise EdgeError('zone %s needs --by: who %ss it (recorded with the event)' % (a.action, a.action), 2)
    sec = _site_secrets(a)
    if a.action == 'disarm' and not pins.check(sec, a.by, _pin('disarm PIN for %s' % a.by)):
        print('refused: wrong PIN for %s (or no PIN set: edgectl zone pin %s); nothing sent' % (a.by, a.by),
              file=sys.stderr)
        return 1
    _, ep = _broker_for(a)
    results = {}
    for dev in zones[a.name]:
        try:
            ack = commands.send(ep, site.name, dev, a.name, a.action, {'by': a.by}, timeout=a.timeout,
                                key=secrets.cmd_key(sec, dev))
        except EdgeError as e:
            ack = {'ok': False, 'err': str(e)}
        results[dev] = ack
    ok = all(r.get('ok') for r in results.values())
    if a.json:
        print(json.dumps({d: {'ok': bool(r.get('ok')), 'err': r.get('err')} for d, r in results.items()}))
    else:
        for d, r in results.items():
            print('%s/%s %s' % (d, a.name, 'ok' if r.get('ok') else 'refused: %s' % r.get('err')))
    return 0 if ok else 1


def _args_zone(sub):
    s = sub.add_parser('zone', help='intrusion zones: arm, disarm (PIN), pin, list',
                       description='arm NAME --by WHO arms every board holding zone NAME (exit delay, then any '
                                   'opening raises zone.intrusion after the entry delay); disarm NAME --by WHO asks '
                                   'for WHO\'s PIN (or EDGE_OPERATOR_PIN), checks it against its hash in the site\'s '
                                   'secrets and sends the signed disarm; pin OPERATOR sets an operator\'s PIN; list '
                                   'shows the zones. Exit 0 done, 1 refused (a wrong PIN, a board refusing or silent).')
    s.add_argument('action', choices=['arm', 'disarm', 'pin', 'list'])
    s.add_argument('name', nargs='?', help='the zone (arm, disarm) or the operator (pin)')
    _site_arg(s)
    s.add_argument('--by', help='who arms or disarms (disarm: whose PIN is asked)')
    s.add_argument('--timeout', type=float, default=5.0, help='seconds to wait for each board (default 5)')
    s.add_argument('--json', action='store_true', help='JSON output')
    s.set_defaults(fn=cmd_zone)


VERBS = {'zone': (_args_zone, cmd_zone)}
