"""Verbs of firmware updates over the network: `edgectl ota push`, `edgectl fleet status`."""
import json
import re
import sys
import time

from ..core.cliargs import _broker_for, _site_arg, _site_path, _site_secrets
from ..core.errors import EdgeError

TIMEOUT_S = 3600      # `ota push --timeout` without --window: the whole rollout's deadline


def add_ota(sub):
    s = sub.add_parser('ota', help='update boards\' firmware over the network (signed, staged, rolled back)',
                       description='push: build the firmware image (as `deploy --layout romfs` does) and update '
                                   'boards over MQTT: each board gets an offer signed with its own key, pulls the '
                                   'image chunk by chunk, checks its SHA-256, switches when idle (no arm moving, '
                                   'no door released by fire, no call, no alarm) and inside --window, and runs it on '
                                   'trial (healthy_s, trial_s); a board that fails the trial boots its previous '
                                   'image by itself. Canary boards first, then batches; the rollout stops at the '
                                   'first batch with a board that refused, rolled back or did not return, and at --timeout '
                                   '(the boards still waiting are named, no further batch is offered). Exit 0 '
                                   'when every board offered runs the new version, 1 otherwise, 2 usage.')
    osub = s.add_subparsers(dest='action', metavar='ACTION', required=True)
    p = osub.add_parser('push', help='update boards: canary first, then batches')
    _site_arg(p, positional=True)
    who = p.add_mutually_exclusive_group()
    who.add_argument('--devices', metavar='A,B', help='these boards, in this order')
    who.add_argument('--all', action='store_true', help="every device of the site (the default)")
    p.add_argument('--canary', type=int, default=1, metavar='N', help='boards updated alone first (default 1)')
    p.add_argument('--batch', type=int, default=10, metavar='N', help='boards updated at once after them (default 10)')
    p.add_argument('--window', metavar='HH:MM-HH:MM', help='boards switch only inside this window (local time)')
    p.add_argument('--timeout', type=float, metavar='S',
                   help='give up after S seconds in all, naming the boards still waiting (busy, outside the '
                        'window, not answering); no further batch is offered (default %d; with --window, until '
                        'the window next closes plus trial_s and a minute)' % TIMEOUT_S)
    p.add_argument('--vm', metavar='FILE.bin',
                   help='push this MicroPython VM (an ESP32 app image: the .bin of micropython.org/download or '
                        'a build with the firmware frozen in) into each board\'s other OTA partition instead of '
                        'the firmware image; ESP32 boards only (another board refuses it: image kind)')
    p.add_argument('--vm-version', metavar='VER',
                   help='the version the --vm offer carries, as the boards\' update records show it (fleet '
                        'status; default: this checkout\'s firmware version); a board takes only a version newer '
                        'than the firmware it runs')
    p.add_argument('--json', action='store_true', help='one JSON object at the end instead of the summary')
    p.set_defaults(fn=run_ota)


def run_ota(a):
    from ..core import secrets, site as sitemod
    from . import ota
    if a.canary < 0 or a.batch < 1:
        raise EdgeError('--canary must be 0 or more and --batch 1 or more', 2)
    if a.timeout is not None and not a.timeout > 0:
        raise EdgeError('--timeout %g: seconds, more than 0' % a.timeout, 2)
    if a.vm_version is not None and not a.vm:
        raise EdgeError('--vm-version goes with --vm FILE.bin', 2)
    if a.vm_version is not None and not re.fullmatch(r'\d{1,4}(\.\d{1,4}){0,3}', a.vm_version):
        raise EdgeError('--vm-version %r: like 1.2.3' % a.vm_version, 2)
    window = ota.utc_window(a.window) if a.window else None
    s = sitemod.load_valid(_site_path(a))
    if a.devices:
        devices = [d.strip() for d in a.devices.split(',') if d.strip()]
        unknown = [d for d in devices if d not in s.devices]
        if unknown:
            raise EdgeError('no device %s in %s (devices: %s)' % (', '.join(unknown), s.path,
                                                                    ', '.join(sorted(s.devices))), 2)
    else:
        devices = sorted(s.devices)
    sec = _site_secrets(a)
    keys = {d: secrets.cmd_key(sec, d) for d in devices}
    if [d for d in devices if keys[d] is None]:
        raise EdgeError('firmware updates are signed with each board\'s key, and %s has none: run `edgectl broker '
                        '--secure --site %s` and give the boards their secrets (edgectl flash)' % (
                            ', '.join(d for d in devices if keys[d] is None), _site_path(a)), 2)
    site, ep = _broker_for(a)
    if a.vm:
        imgs, ver = {'vm': ota.vm_image(a.vm)}, a.vm_version or ota.fw_version()
        what = 'MicroPython VM %s, %d bytes' % (a.vm, len(imgs['vm']))
    else:
        imgs, ver = ota.images()
        what = 'ROMFS image %d bytes, lib bundle %d bytes' % (len(imgs['romfs']), len(imgs['lib']))
    trial = {d: sitemod.device_config(s, d)['trial_s'] for d in devices}
    timeout = a.timeout or ota.default_timeout(TIMEOUT_S, window, max(trial.values() or [0]))
    print('firmware %s: %s; %d boards, canary %d, batches of %d%s; giving up after %s' % (
        ver, what, len(devices), a.canary, a.batch,
        ', switching only %s local (%s UTC)' % (a.window, window) if window else '', _span(timeout)),
        file=sys.stderr, flush=True)
    server = ota.Server(ep, site, imgs, ver, keys, window, kind='vm' if a.vm else 'romfs')
    t0 = time.monotonic()
    try:
        done, bad = ota.rollout(server, devices, trial, a.canary, a.batch,
                                ota.Printer(sys.stderr if a.json else sys.stdout), timeout=timeout)
    finally:
        server.close()
    updated = [t.device for t in done if t.state == 'applied']
    left = [d for d in devices if d not in [t.device for t in done]]
    late = [t for t in bad if t.state == 'timed out']
    if left and not bad and time.monotonic() - t0 >= timeout:
        print('timed out after %s s (--timeout) as a batch ended; not offered: %s' % (
            ota._secs(timeout), ', '.join(left)), file=sys.stderr)
    if a.json:
        print(json.dumps({'version': ver, 'sizes': {k: len(v) for k, v in imgs.items()},
                          'boards': {t.device: {'result': t.state, 'why': t.why, 'image': t.kind, 'bytes': t.wire}
                                     for t in done},
                          'stopped_at': [t.device for t in bad], 'not_offered': left, 'timeout_s': timeout,
                          'timed_out': [t.device for t in late]}))
    else:
        if late:
            print(ota.verdict(late, left, timeout), file=sys.stderr)
        for t in bad:
            if t not in late:
                print('rollout stopped at %s: %s%s' % (t.device, t.state, (': ' + t.why) if t.why else ''),
                      file=sys.stderr)
        if left and not late:
            print('not offered: %s' % ', '.join(left), file=sys.stderr)
        print('%d of %d boards updated to %s' % (len(updated), len(devices), ver))
    ok = not bad and not left and all(t.state in ('applied', 'current') for t in done)
    return 0 if ok else 1


def _span(s):
    return '%d s' % s if s < 120 else '%dh%02dm' % (s // 3600, s % 3600 // 60)


def add_fleet(sub):
    s = sub.add_parser('fleet', help="every board's firmware, config rev, heap, uptime, last update",
                       description="status: each board's firmware version, config rev, heap free, uptime and the "
                                   "outcome of its last firmware update, from its retained status and its answer to "
                                   "`system status`.")
    fsub = s.add_subparsers(dest='action', metavar='ACTION', required=True)
    p = fsub.add_parser('status', help='one line per board')
    _site_arg(p, positional=True)
    p.add_argument('--json', action='store_true', help='one JSON object: device -> fields')
    p.add_argument('--timeout', type=float, default=3.0, help='seconds to wait for the boards\' answers (default 3)')
    p.set_defaults(fn=run_fleet)


def run_fleet(a):
    from ..core import site as sitemod
    from . import ota
    s = sitemod.load_valid(_site_path(a))
    site, ep = _broker_for(a)
    st = ota.fleet(ep, site, sorted(s.devices), a.timeout)
    if a.json:
        print(json.dumps(st, sort_keys=True))
    else:
        print('\n'.join(ota.fleet_rows(st)))
    return 0


VERBS = {'ota': (add_ota, run_ota), 'fleet': (add_fleet, run_fleet)}
