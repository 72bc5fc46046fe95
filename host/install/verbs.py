"""The installer's verbs: `init` (a starter site file), `config` (validate, show, push over
MQTT or serial, pull, diff), `deploy` (firmware over the serial port) and `flash` (a blank
ESP32 to a board online)."""
import argparse
import json
import sys

from ..core.errors import EdgeError
from ..core.cliargs import _site_arg, _site_path, _broker_for, _broker_of, _site_secrets


def cmd_init(a):
    from ..core import site as sitemod
    from . import starter
    path = starter.write(a.folder, a.name)
    s = sitemod.load_valid(path)
    kinds = ', '.join('%s (%s)' % (d, ' + '.join(c['type'] for c in dev['controllers']))
                      for d, dev in s.devices.items())
    print('wrote %s: site %s, %d boards: %s' % (path, s.name, len(s.devices), kinds))
    where = '' if a.folder in ('.', '') else 'cd %s && ' % a.folder
    print('next: %sedgectl config validate && edgectl sim --with-broker' % where)
    return 0


def cmd_config(a):
    from ..core import site as sitemod
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
    from ..core import secrets, site as sitemod
    from .configpush import push_mqtt
    device = _config_args(a, '[SITE.yaml] DEVICE')
    if a.via == 'serial':
        return _config_push_serial(a, device)
    site, ep = _broker_for(a)       # where this tool talks (the room's listener)
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
    verdict = push_mqtt(ep, site, cfg, timeout, None if a.json else tick, key=key)
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
    from ..core import site as sitemod
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
        site, ep = _broker_for(a)
        cfg = pull_mqtt(ep, site, device, timeout=a.timeout)
    return cfg, device


def _config_diff(a):
    from ..core import site as sitemod
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
    from ..core import secrets, site as sitemod
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


def _args_init(sub):
    s = sub.add_parser('init', help='write a commented starter site file (one board of each kind)',
                       description='Write FOLDER/site.yaml (default: this folder): a commented site file with a '
                                   'door (lobby-1), a barrier and a call station (gate-1) and a pump (fountain-1), '
                                   'which validates and runs with `edgectl sim`. An existing site.yaml is never '
                                   'overwritten (exit 1).')
    s.add_argument('folder', nargs='?', default='.', metavar='FOLDER', help='where to write site.yaml (created if needed)')
    s.add_argument('--name', help='the site name (default my-site; lower-case letters, digits, -)')
    s.set_defaults(fn=cmd_init)


def _args_config(sub):
    s = sub.add_parser('config', help="check a site file, show a device's flat config",
                       description='validate: check the site file against the schema, board profiles and controller '
                                   'definitions; every problem names file:line and the fix. '
                                   'show: print the flat config a device receives (defaults filled in).')
    csub = s.add_subparsers(dest='action', metavar='ACTION', required=True)
    c = csub.add_parser('validate', help='check a site file (exit 2 when invalid)')
    _site_arg(c, positional=True)
    c.add_argument('--json', action='store_true', help='problems as JSON')
    c.set_defaults(fn=cmd_config)
    c = csub.add_parser('push', help='send a device its config (retained cfg over MQTT) and wait for the verdict',
                        usage='edgectl config push [SITE.yaml] DEVICE [--site FILE] [--via {mqtt,serial}] '
                              '[--port PORT] [--wifi SSID] [--no-reset] [--timeout S] [--json]',
                        description='Validate the site file, send DEVICE its flat config as the retained cfg message, '
                                    'and wait until the board applies it (exit 0) or refuses it (exit 1). The board '
                                    'boots into the new config as a trial and keeps it once it has run healthy_s and '
                                    'reached the broker; otherwise it goes back to its last good config.')
    c.add_argument('args', nargs='+', metavar='SITE.yaml DEVICE', help='the site file (default ./site.yaml), the device')
    _site_arg(c)
    c.add_argument('--via', choices=['mqtt', 'serial'], default='mqtt',
                   help='mqtt: the retained cfg message (board online); serial: over the USB serial line (--port), '
                        'checked on the board and written at once (installation)')
    c.add_argument('--port', help='the board\'s serial port (--via serial)')
    c.add_argument('--wifi', metavar='SSID', help='also write Wi-Fi settings (--via serial; password from '
                                                  'EDGE_WIFI_PASSWORD or asked; never stored in the site file)')
    c.add_argument('--no-reset', action='store_true', help='do not reboot the board afterwards (--via serial)')
    c.add_argument('--timeout', type=float, help='seconds to wait for the verdict (default healthy_s + 60)')
    c.add_argument('--json', action='store_true', help='print the verdict event as JSON')
    c.set_defaults(fn=cmd_config)
    c = csub.add_parser('pull', help='print the config a board runs (over MQTT, or --port over serial)',
                        usage='edgectl config pull [SITE.yaml] [DEVICE] [--site FILE] [--port PORT] [--timeout S]',
                        description='Read back the flat config a board runs: over MQTT from a running board '
                                    '(the system `config` command), or with --port from its config.json over serial.')
    c.add_argument('args', nargs='*', metavar='SITE.yaml DEVICE', help='the site file (default ./site.yaml), the device')
    _site_arg(c)
    c.add_argument('--port', help='read it over this serial port instead of MQTT')
    c.add_argument('--timeout', type=float, default=10.0, help='seconds to wait for the board (MQTT; default 10)')
    c.set_defaults(fn=cmd_config)
    c = csub.add_parser('diff', help='show how what a board runs differs from the site file (exit 1 if it does)',
                        usage='edgectl config diff [SITE.yaml] [DEVICE] [--site FILE] [--port PORT] [--ignore-broker] '
                              '[--timeout S] [--json]',
                        description='Pull the config a board runs (MQTT, or --port over serial) and print a unified '
                                    'diff against the flat config the site file gives it. Exit 0 when the same.')
    c.add_argument('args', nargs='*', metavar='SITE.yaml DEVICE', help='the site file (default ./site.yaml), the device')
    _site_arg(c)
    c.add_argument('--port', help='read it over this serial port instead of MQTT')
    c.add_argument('--ignore-broker', action='store_true', help='compare with the broker address the board has')
    c.add_argument('--timeout', type=float, default=10.0, help='seconds to wait for the board (MQTT; default 10)')
    c.add_argument('--json', action='store_true', help='the verdict and diff as JSON')
    c.set_defaults(fn=cmd_config)
    c = csub.add_parser('show', help="print the flat config a device receives")
    c.add_argument('device', nargs='?', help='one device only (default: all)')
    _site_arg(c)
    c.set_defaults(fn=cmd_config)


def _args_deploy(sub):
    s = sub.add_parser('deploy', help='put the firmware on a board over its serial port (only what changed)',
                       description='Compile firmware/ with mpy-cross for the board\'s architecture (read from the '
                                   'board: xtensawin on an ESP32), compare with the manifest on the board and send '
                                   'only the files that differ (staged as .new, then renamed into place in one step, '
                                   'so a deploy cut off half-way leaves the old firmware bootable), then reset the '
                                   'board. A running firmware is interrupted first (outputs go safe). Works the same '
                                   'on a simulated board: `edgectl sim SITE --serial` prints its pty.')
    s.add_argument('--port', required=True, help='serial port: /dev/ttyUSB0, /dev/ttyACM0, or a simulated board\'s pty')
    s.add_argument('--baud', type=int, default=115200, help='serial speed (default 115200)')
    s.add_argument('--no-reset', action='store_true', help='leave the board at its REPL afterwards')
    s.add_argument('--layout', choices=['auto', 'lib', 'romfs'], default='auto',
                   help='romfs: the firmware as one image in the ROM partition (runs from flash, heap stays '
                        'free; written with `mpremote romfs deploy`); lib: .mpy files in lib/ (loaded into the '
                        'heap); auto (default): romfs when the board has a ROM partition')
    s.add_argument('--json', action='store_true', help='print the report as JSON')
    s.set_defaults(fn=cmd_deploy)


def _args_flash(sub):
    s = sub.add_parser('flash', help='blank ESP32 to a configured board online: MicroPython, firmware, config',
                       description='Detect the chip (esptool), check it is the site\'s board, erase and write '
                                   'MicroPython (--firmware FILE.bin, or the newest image cached in '
                                   '~/.cache/edgectl/firmware or by `mpflash download`), deploy the firmware, write '
                                   'the device\'s config and network settings over serial, wait for the board online '
                                   'on the broker and print its self-test. Exit 1 if it raised an alarm at boot.')
    s.add_argument('site_file', nargs='?', metavar='SITE.yaml', help='the site file (default ./site.yaml)')
    s.add_argument('--site', dest='site_opt', metavar='FILE', help=argparse.SUPPRESS)
    s.add_argument('--port', required=True, help='serial port of the board')
    s.add_argument('--device', required=True, help='the device id in the site file this board becomes')
    s.add_argument('--firmware', metavar='FILE.bin', help='MicroPython image to write')
    s.add_argument('--wifi', metavar='SSID', help='Wi-Fi network (password: EDGE_WIFI_PASSWORD or asked)')
    s.add_argument('--keep-fs', action='store_true', help='do not erase the flash first (keeps files, seq, outbox)')
    s.add_argument('--no-image', action='store_true', help='MicroPython is already on the board: skip esptool')
    s.add_argument('--timeout', type=float, default=60, help='seconds to wait for the board online (default 60)')
    s.add_argument('--json', action='store_true', help='print the report as JSON')
    s.set_defaults(fn=cmd_flash)


# each verb: (its arguments, its handler)
VERBS = {
    'init': (_args_init, cmd_init),
    'config': (_args_config, cmd_config),
    'deploy': (_args_deploy, cmd_deploy),
    'flash': (_args_flash, cmd_flash),
}
