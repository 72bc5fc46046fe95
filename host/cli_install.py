"""The installer's verbs: `init` (a starter site file), `config` (validate, show, push over
MQTT or serial, pull, diff), `deploy` (firmware over the serial port) and `flash` (a blank
ESP32 to a board online)."""
import json
import sys

from .errors import EdgeError
from .cli_common import _site_path, _broker_for, _broker_of, _site_secrets


def cmd_init(a):
    from . import site as sitemod, starter
    path = starter.write(a.folder, a.name)
    s = sitemod.load_valid(path)
    kinds = ', '.join('%s (%s)' % (d, ' + '.join(c['type'] for c in dev['controllers']))
                      for d, dev in s.devices.items())
    print('wrote %s: site %s, %d boards: %s' % (path, s.name, len(s.devices), kinds))
    where = '' if a.folder in ('.', '') else 'cd %s && ' % a.folder
    print('next: %sedgectl config validate && edgectl sim --with-broker' % where)
    return 0


def cmd_config(a):
    from . import site as sitemod
    if a.action == 'validate':
        s = sitemod.load(_site_path(a))
        if a.json:
            print(json.dumps({'ok': not s.errors, 'problems': [p.__dict__ for p in s.problems]}, indent=1))
        else:
            for p in s.problems:
                print(str(p), file=sys.stderr)
            if not s.errors:
                print('%s: site %s, %d device(s), %d warning(s): valid' % (
                    _site_path(a), s.name, len(s.devices), len(s.warnings)))
        return 2 if s.errors else 0
    if a.action == 'show':
        s = sitemod.load_valid(_site_path(a))
        devs = [a.device] if a.device else sorted(s.devices)
        out = {d: sitemod.device_config(s, d) for d in devs}
        print(json.dumps(out[a.device] if a.device else out, indent=1))
        return 0
    if a.action == 'push':
        return _config_push(a)
    if a.action == 'pull':
        cfg, _ = _config_pull(a)
        print(json.dumps(cfg, indent=1, sort_keys=True))
        return 0
    if a.action == 'diff':
        return _config_diff(a)
    raise EdgeError('unknown config action %r' % a.action, 2)


def _config_args(a, usage):
    if len(a.args) == 2:
        a.site_file, device = a.args
    elif len(a.args) == 1:
        device = a.args[0]
    else:
        raise EdgeError('config %s takes %s' % (a.action, usage), 2)
    return device


def _config_push(a):
    from . import secrets, site as sitemod
    from .configpush import push_mqtt
    device = _config_args(a, '[SITE.yaml] DEVICE')
    if a.via == 'serial':
        return _config_push_serial(a, device)
    site, host, port = _broker_for(a)       # where this tool talks (the room's listener)
    _, bhost, bport, _ = _broker_of(a)        # where the boards connect: what the board is given
    s = sitemod.load_valid(_site_path(a))
    cfg = sitemod.device_config(s, device, {'host': bhost, 'port': bport})
    timeout = a.timeout or cfg['healthy_s'] + 60
    print('pushing rev %s to %s via MQTT; the board tries it, and keeps it once it has run %d s '
          'and reached the broker' % (cfg['rev'], device, cfg['healthy_s']), file=sys.stderr, flush=True)
    tty = sys.stderr.isatty()

    def tick(t):           # one line rewritten on a terminal; a line every 10 s in a log
        if tty:
            print('\r  waiting for %s: %3.0f s' % (device, t), end='', file=sys.stderr, flush=True)
        elif int(t) // 10 not in shown:
            shown.add(int(t) // 10)
            print('  waiting for %s: %.0f s' % (device, t), file=sys.stderr, flush=True)
    shown = set()
    key = secrets.cmd_key(_site_secrets(a), device)     # signed like unlock when the site has keys
    verdict = push_mqtt(host, port, site, cfg, timeout, None if a.json else tick, key=key)
    if not a.json and tty:
        print(file=sys.stderr)
    if a.json:
        print(json.dumps(verdict))
    elif verdict['type'] == 'system.config_applied':
        print('%s runs config rev %s' % (device, cfg['rev']))
    else:
        print('%s refused rev %s and kept rev %s: %s' % (device, cfg['rev'], verdict.get('kept'), verdict.get('err')),
              file=sys.stderr)
    return 0 if verdict['type'] == 'system.config_applied' else 1


def _config_push_serial(a, device):
    from . import site as sitemod
    from .configpush import push_serial
    from .installer import board_files
    if not a.port:
        raise EdgeError('--via serial needs --port PORT (the board\'s USB serial port)', 2)
    s = sitemod.load_valid(_site_path(a))
    cfg = sitemod.device_config(s, device)
    net, secret, ca_der = board_files(_site_path(a), s, cfg, a.wifi)
    verdict = push_serial(a.port, cfg, reboot=not a.no_reset, net=net, secret=secret, ca_der=ca_der)
    if a.json:
        print(json.dumps(verdict))
    elif verdict.get('ok'):
        print('%s on %s: config rev %s written (was %s)%s' % (device, a.port, cfg['rev'], verdict.get('replaced'),
                                                            '; the board reboots into it' if not a.no_reset else ''))
    else:
        print('%s on %s refused rev %s and kept rev %s: %s' % (device, a.port, cfg['rev'], verdict.get('kept'),
                                                               verdict.get('err')), file=sys.stderr)
    return 0 if verdict.get('ok') else 1


def _config_pull(a):
    from .configpush import pull_mqtt, pull_serial
    device = _config_args(a, '[SITE.yaml] DEVICE') if a.args else None
    if a.port:
        cfg = pull_serial(a.port)
        if cfg is None:
            raise EdgeError('the board on %s has no config.json: push one with `edgectl config push ... --via serial`'
                            % a.port, 1)
    else:
        if not device:
            raise EdgeError('config pull needs DEVICE (over MQTT) or --port PORT (serial)', 2)
        site, host, port = _broker_for(a)
        cfg = pull_mqtt(host, port, site, device, timeout=a.timeout)
    return cfg, device


def _config_diff(a):
    from . import site as sitemod
    from .configpush import diff
    running, device = _config_pull(a)
    device = device or running.get('device')
    s = sitemod.load_valid(_site_path(a))
    wanted = sitemod.device_config(s, device, running.get('broker') if a.ignore_broker else None)
    d = diff(running, wanted, '%s (board)' % device, '%s (site file)' % _site_path(a))
    if a.json:
        print(json.dumps({'device': device, 'same': not d, 'running_rev': running.get('rev'),
                          'site_rev': wanted.get('rev'), 'diff': d}))
    elif d:
        print(d)
    else:
        print('%s runs what the site file says (rev %s)' % (device, wanted.get('rev')))
    return 1 if d else 0


def cmd_deploy(a):
    from .deploy import deploy
    show = not a.json and sys.stderr.isatty()
    say = (lambda m: None) if a.json else (lambda m: print(m, file=sys.stderr, flush=True))
    rep = deploy(a.port, show=show, reset=not a.no_reset, baud=a.baud, say=say, layout=a.layout)
    if a.json:
        print(json.dumps(rep))
    else:
        print('deployed to %s: %d of %d files sent (%d bytes, %d on the wire) in %.2f s%s' % (
            a.port, rep['sent'], rep['files'], rep['payload_bytes'], rep['wire_bytes'], rep['seconds'],
            '; the board restarts' if not a.no_reset else ''))
    return 0


def cmd_flash(a):
    from . import secrets, site as sitemod
    from .installer import flash, print_self_test
    say = (lambda m: None) if a.json else (lambda m: print(m, file=sys.stderr, flush=True))
    s = sitemod.load_valid(_site_path(a))
    sitemod.device_config(s, a.device)          # an unknown device: refused before anything is written
    new = not secrets.path_for(_site_path(a)).exists()
    _, added = secrets.ensure(_site_path(a), sorted(s.devices))     # the board gets its own login and key
    if added:
        print('%s the site secrets %s (0600, git-ignored, never printed): a login and command key for %s; '
              'keep it: the boards are flashed with it' % ('created' if new else 'added to',
                                                            secrets.path_for(_site_path(a)), ', '.join(added)),
              file=sys.stderr, flush=True)
    report = flash(a.port, _site_path(a), a.device, firmware=a.firmware, write_image=not a.no_image,
                   erase=not a.keep_fs, wifi=a.wifi, show=not a.json and sys.stderr.isatty(),
                   timeout=a.timeout, say=say)
    if a.json:
        print(json.dumps(report))
    else:
        print_self_test(report)
    return 1 if report['alarms'] else 0
