"""`edgectl zone`: arm and disarm the site's intrusion zones (controllers of type zone; one
zone name may stand on several boards: each of them is armed or disarmed). Arming takes one
command; disarming takes the operator's PIN, checked here against its hash in the site's
secrets, before the signed `disarm` goes out. `pin` sets an operator's PIN, `list` shows the
zones."""
import json
import sys
import time

from ..core.errors import EdgeError
from ..core.cliargs import _broker_for, _secret_typed, _site_arg, _site_path, _site_secrets
from . import pinguard


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
    if a.action == 'unlock':
        return _unlock(a, path)
    if a.action == 'pin':
        changed = pins.set_pin(path, a.name, _pin('new disarm PIN for %s' % a.name, confirm=True))
        print('PIN %s for %s (only its hash is kept)' % ('changed' if changed else 'set', a.name))
        return 0
    if a.name not in zones:
        raise EdgeError('no zone %r in %s (zones: %s)' % (a.name, path, ', '.join(sorted(zones)) or 'none'), 2)
    if not a.by:
        raise EdgeError('zone %s needs --by: who %ss it (recorded with the event)' % (a.action, a.action), 2)
    sec = _site_secrets(a)
    if a.action == 'disarm' and not _pin_ok(a, path, sec):
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


def _journal(a, rows):
    """Control-room events about PINs, [(type, active, detail)], into the site's journal
    (room_alarms, device control-room), as the monitor journals its own."""
    from .monitor import ROOM
    from .store import Store
    store = Store(a.db)
    try:
        for etype, active, detail in rows:
            store.room_alarm(ROOM, etype, active, detail)
    finally:
        store.close()


def _pin_ok(a, path, sec):
    """The disarm PIN, within the limit on wrong ones (pinguard.py): True when it matched;
    else the refusal is said (and a wrong PIN, a lockout journaled)."""
    from . import pinguard, pins
    guard = pinguard.Guard(path)
    left, what = guard.locked(a.name, a.by)
    if not left:            # (asked before the PIN is typed; asked again with it, under the lock)
        pin = _pin('disarm PIN for %s' % a.by)
        verdict, got = guard.attempt(a.name, a.by, lambda: pins.check(sec, a.by, pin))
        if verdict == 'right':
            return True
        if verdict == 'locked':
            left, what = got
    if left:
        print('refused: disarm PINs for %s are locked for %s more after %d wrong PINs (the site\'s administrator '
              'can end it: edgectl zone unlock %s); no PIN checked, nothing sent' % (
                  what, pinguard.span(left), guard.limit, what.split(' ')[-1]), file=sys.stderr)
        return False
    count, locks = got
    _journal(a, [('room.pin_wrong', True, {'zone': a.name, 'by': a.by, 'count': count, 'limit': guard.limit,
                                           'window_s': guard.window_s})] +
             [('room.pin_lockout', True, {'zone': a.name, 'by': a.by, 'locked': what, 'for_s': secs,
                                          'until': time.time() + secs}) for what, secs in locks])
    print('refused: wrong PIN for %s (or no PIN set: edgectl zone pin %s); nothing sent%s' % (
        a.by, a.by, ''.join('; %d wrong PINs: %s locked for %s' % (guard.limit, what, pinguard.span(secs))
                            for what, secs in locks)), file=sys.stderr)
    return False


def _unlock(a, path):
    """The administrator ends a PIN lockout (zone or operator NAME): journaled."""
    from ..core import secrets
    from . import pinguard
    if secrets.load(path) is None:
        raise EdgeError('no secrets beside %s: nothing is locked' % path, 2)
    gone = pinguard.Guard(path).unlock(a.name)
    if not gone:
        print('nothing locked or counted for %s' % a.name)
        return 0
    _journal(a, [('room.pin_lockout', False, {'locked': what, 'by': a.by or 'administrator', 'unlocked': True})
                 for what in gone])
    print('unlocked: %s (wrong-PIN counts cleared)' % ', '.join(gone))
    return 0


def _args_zone(sub):
    s = sub.add_parser('zone', help='intrusion zones: arm, disarm (PIN), pin, list',
                       description='arm NAME --by WHO arms every board holding zone NAME (exit delay, then any '
                                   'opening raises zone.intrusion after the entry delay); disarm NAME --by WHO asks '
                                   'for WHO\'s PIN (or EDGE_OPERATOR_PIN), checks it against its hash in the site\'s '
                                   'secrets and sends the signed disarm; pin OPERATOR sets an operator\'s PIN; list '
                                   'shows the zones. %d wrong PINs within %d min for one zone or one operator lock '
                                   'its disarms for %d min (journaled: room.pin_wrong, room.pin_lockout; the counts '
                                   'live in <site>.pinguard.json beside the site file); unlock NAME (zone or '
                                   'operator) ends a lockout: the site\'s administrator. Exit 0 done, 1 refused (a '
                                   'wrong PIN, a lockout, a board refusing or silent).' % (
                                       pinguard.LIMIT, pinguard.WINDOW_S // 60, pinguard.LOCKOUT_S // 60))
    s.add_argument('action', choices=['arm', 'disarm', 'pin', 'unlock', 'list'])
    s.add_argument('name', nargs='?', help='the zone (arm, disarm), the operator (pin), a zone or operator (unlock)')
    _site_arg(s)
    s.add_argument('--by', help='who arms or disarms (disarm: whose PIN is asked)')
    s.add_argument('--timeout', type=float, default=5.0, help='seconds to wait for each board (default 5)')
    s.add_argument('--json', action='store_true', help='JSON output')
    s.add_argument('--db', help='the journal wrong PINs and lockouts go to (default .edgectl/journal.sqlite3)')
    s.set_defaults(fn=cmd_zone)


VERBS = {'zone': (_args_zone, cmd_zone)}
