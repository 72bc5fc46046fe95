"""`edgectl`: a table of verbs, each a small handler. Errors print `edgectl: ...` and exit
non-zero (1 refused/failed, 2 usage or input); no tracebacks for user mistakes."""
import argparse
import os
import sys

from . import __version__
from .cli_common import _site_arg
from .cli_install import cmd_config, cmd_deploy, cmd_flash, cmd_init
from .cli_qa import cmd_bench, cmd_hil
from .cli_room import cmd_cmd, cmd_fire, cmd_journal, cmd_monitor, cmd_operator
from .cli_sim import cmd_broker, cmd_demo, cmd_io, cmd_sim
from .errors import EdgeError

EPILOG = '''examples:
  edgectl demo                              the whole product on this machine, no hardware
  edgectl init mysite                       a commented starter site file: mysite/site.yaml
  edgectl config validate site.yaml         check a site file (errors name file:line)
  edgectl broker --site site.yaml           run mosquitto for the site (another shell)
  edgectl sim site.yaml                     run the site's devices as simulated boards
  edgectl io lobby-1 front.contact=1        set a signal of a simulated board
  edgectl cmd lobby-1 front unlock s=10     send a command and wait for its ack
  edgectl monitor                           watch devices, events and alarms
  edgectl hil --rig sim,pty                 the HIL suite on simulated rigs
  edgectl flash site.yaml --port /dev/ttyUSB0 --device gate-1 --wifi SSID   install a board
  edgectl deploy --port /dev/ttyUSB0        update the firmware (only changed files)
  edgectl config push site.yaml gate-1 --via serial --port /dev/ttyUSB0
  edgectl bench alarm-latency --json        measure a figure
'''


def build_parser():
    p = argparse.ArgumentParser(prog='edgectl', description='Flash, configure, simulate, test and watch edgectl boards.',
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--version', action='version', version='edgectl ' + __version__)
    sub = p.add_subparsers(dest='verb', metavar='VERB')

    s = sub.add_parser('demo', help='the whole product on this machine: broker, simulated site, scripted walk, monitor',
                       description='Start mosquitto on a free port, run the demo site (a door on lobby-1; a barrier '
                                   'with its arm plant and a gate call station on gate-1) as simulated boards, walk '
                                   'through REX exit, a held-open door, a forced door, a fire release and its reset, '
                                   'a refused command, a car through the barrier, an anti-crush reversal and a gate '
                                   'call answered and released, and show what the control room sees. Exit 0 when '
                                   'every expected event arrived.')
    s.add_argument('--site', dest='site_opt', metavar='FILE', help='another site file to run instead of the embedded one')
    s.add_argument('--keep', action='store_true', help='keep the work folder (board logs, broker log)')
    s.set_defaults(fn=cmd_demo)

    s = sub.add_parser('init', help='write a commented starter site file (one board of each kind)',
                       description='Write FOLDER/site.yaml (default: this folder): a commented site file with a '
                                   'door (lobby-1), a barrier and a call station (gate-1) and a pump (fountain-1), '
                                   'which validates and runs with `edgectl sim`. An existing site.yaml is never '
                                   'overwritten (exit 1).')
    s.add_argument('folder', nargs='?', default='.', metavar='FOLDER', help='where to write site.yaml (created if needed)')
    s.add_argument('--name', help='the site name (default my-site; lower-case letters, digits, -)')
    s.set_defaults(fn=cmd_init)

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

    s = sub.add_parser('broker', help="run a local mosquitto for the site (loopback)",
                       description="Run mosquitto on the site file's broker port, loopback only, with a generated "
                                   "config in .edgectl/broker/. Needs the Debian/Ubuntu package 'mosquitto'.")
    _site_arg(s, positional=True)
    s.add_argument('--port', type=int, help="override the site file's port")
    s.add_argument('--dir', help='config/log folder (default .edgectl/broker)')
    s.add_argument('--tls', action='store_true',
                   help='TLS only: a site CA (created once, beside the site file in SITE.tls/) and a broker '
                        'certificate for the site\'s broker host; clients verify both (CA and name)')
    s.add_argument('--secure', action='store_true',
                   help='create the site secrets file if needed (a unique MQTT password and command key per '
                        'device, 0600, git-ignored) and run with no anonymous access and a per-device ACL '
                        '(also the default whenever SITE.secrets.json exists)')
    s.set_defaults(fn=cmd_broker)

    s = sub.add_parser('sim', help="run the site's devices as simulated boards",
                       description='Run each device of the site as the firmware on the MicroPython unix port, with '
                                   'its board profile\'s heap, its own filesystem under .edgectl/sim/DEVICE and '
                                   'virtual wires (see `edgectl io`). Boards whose process ends are restarted.')
    _site_arg(s, positional=True)
    s.add_argument('--with-broker', action='store_true', help="also start mosquitto on the site's broker port")
    s.add_argument('--fresh', action='store_true', help="wipe the boards' filesystems first (seq, boot count, wires)")
    s.add_argument('--serial', action='store_true',
                   help='give each board a serial console on a pty (MicroPython raw REPL): '
                        '`mpremote connect PTY fs ls`, `edgectl deploy --port PTY` work as on a real board')
    s.add_argument('--blank', action='store_true',
                   help='boards with only MicroPython on them, as after `edgectl flash` wrote the image '
                        '(implies --serial): install them with `edgectl deploy` and `config push --via serial`')
    s.add_argument('--duration', type=float, help='stop after this many seconds')
    s.set_defaults(fn=cmd_sim)

    s = sub.add_parser('io', help="read or set a simulated board's signal",
                       description='With `edgectl sim` running in this folder: `edgectl io DEVICE` lists signals, '
                                   '`edgectl io DEVICE CTRL.SIGNAL` reads one, `CTRL.SIGNAL=1` sets an input.')
    s.add_argument('device')
    s.add_argument('signal', nargs='?', metavar='CTRL.SIGNAL[=VALUE]')
    s.add_argument('--clock', nargs='?', const='', metavar='ISO-TIME',
                   help="read the board's wall clock, or set it (e.g. 2026-11-28T17:59:59, UTC by default)")
    s.add_argument('--json', action='store_true')
    s.set_defaults(fn=cmd_io)

    s = sub.add_parser('cmd', help='send a command and wait for its ack',
                       description='Publish {"id", "op", k: v...} to cmd/CTRL of DEVICE and wait for the ack. '
                                   'Exit 0 when accepted, 1 when refused or no ack arrives in time.')
    s.add_argument('device')
    s.add_argument('ctrl')
    s.add_argument('op')
    s.add_argument('args', nargs='*', metavar='k=v')
    _site_arg(s)
    s.add_argument('--timeout', type=float, default=5.0, help='seconds to wait for the ack (default 5)')
    s.add_argument('--json', action='store_true', help='print the ack as JSON')
    s.set_defaults(fn=cmd_cmd)

    s = sub.add_parser('monitor', help='the control room: devices, events, alarms',
                       description='Subscribe to the whole site and print devices online/offline and every event, '
                                   'alarms highlighted; duplicates are dropped and gaps reported by (device, seq). '
                                   'Gate calls ring here: keys a (answer the oldest ringing call), u (release '
                                   'the gate of the call you answered), h (hang up), c (list open calls), q (quit).')
    _site_arg(s)
    s.add_argument('--json', action='store_true', help='one JSON object per message')
    s.add_argument('--state', action='store_true', help='also show state snapshots')
    s.add_argument('--duration', type=float, help='stop after this many seconds')
    s.add_argument('--operator', default=os.environ.get('USER') or 'control-room', metavar='LOGIN',
                   help='your operator login (default $USER): on a site with operators (`edgectl operator add`) the '
                        'monitor logs in as LOGIN with its password; it also names you on answered calls and '
                        'acknowledgements')
    s.add_argument('--no-keys', action='store_true', help='do not read keys from the terminal')
    s.add_argument('--plain', action='store_true', help='one line per event (logs, scripts) instead of the full screen')
    s.add_argument('--db', help='journal file (default .edgectl/journal.sqlite3)')
    s.add_argument('--no-journal', action='store_true', help='do not write the journal')
    s.add_argument('--sound', metavar='CMD', help='also run this on every new alarm (e.g. "paplay alarm.wav")')
    s.set_defaults(fn=cmd_monitor)

    s = sub.add_parser('journal', help='the control room journal (SQLite): run headless, query, prune, back up',
                       description='run: subscribe to the site with a persistent session and journal every event, '
                                   'command, acknowledgement and control-room alarm (as a service: nothing is lost '
                                   'while it restarts). query: filter by device, type (wildcards *), severity and '
                                   'time (-2h, ISO, epoch). prune: drop old rows; alarms are kept longer. backup: a '
                                   'checked copy taken while the journal runs (--to FILE). restore FILE: put a backup '
                                   'in place (the journal must be closed; the old one is kept as .replaced). run '
                                   'takes backups itself with --backup-dir and rolls old rows over with --roll-over. '
                                   'quarantine: the messages set aside instead of journaled (malformed), and why.')
    s.add_argument('action', choices=['run', 'query', 'prune', 'backup', 'restore', 'quarantine'])
    s.add_argument('file', nargs='?', metavar='FILE', help='restore: the backup to put in place')
    _site_arg(s)
    s.add_argument('--db', help='journal file (default .edgectl/journal.sqlite3)')
    s.add_argument('--device')
    s.add_argument('--type', help='event type, * wildcards (door.*)')
    s.add_argument('--sev', choices=['alarm', 'warn', 'info'])
    s.add_argument('--since', help='from this time: --since=-2h, --since=-7d, 2026-11-28T18:00, epoch seconds')
    s.add_argument('--until', help='before this time')
    s.add_argument('--limit', type=int)
    s.add_argument('--json', action='store_true', help='rows as JSON')
    s.add_argument('--csv', action='store_true', help='rows as CSV')
    s.add_argument('--days', type=float, default=90, help='prune: keep events this many days (default 90)')
    s.add_argument('--alarm-days', type=float, default=365, help='prune: keep alarms this many days (default 365)')
    s.add_argument('--duration', type=float, help='run: stop after this many seconds')
    s.add_argument('--to', help='backup: the copy to write (default .edgectl/backups/journal-DATE-TIME.sqlite3)')
    s.add_argument('--backup-dir', help='run: take a backup into this folder every --backup-hours')
    s.add_argument('--backup-hours', type=float, default=24, help='run: hours between backups (default 24)')
    s.add_argument('--keep', type=int, default=7, help='run: backups kept, newest first (default 7)')
    s.add_argument('--roll-over', action='store_true', help='run: prune every hour with --days and --alarm-days')
    s.set_defaults(fn=cmd_journal)

    s = sub.add_parser('operator', help="operators' own control-room logins: add, remove, list",
                       description='With a secure site (`edgectl broker --secure`), each operator can have a '
                                   'login of their own: `edgectl monitor --operator NAME` then logs in as NAME '
                                   '(password from EDGE_OPERATOR_PASSWORD or asked) and the broker knows who is '
                                   'connected. Only the salted hash is stored; a running `edgectl broker` reloads. '
                                   'Without operators the monitor uses the site\'s control-room login.')
    s.add_argument('action', choices=['add', 'remove', 'list'])
    s.add_argument('name', nargs='?', metavar='NAME')
    _site_arg(s)
    s.add_argument('--dir', help="the broker's folder (default .edgectl/broker)")
    s.set_defaults(fn=cmd_operator)

    from .room.verbs_web import VERBS as WEB_VERBS
    for add_arguments, _ in WEB_VERBS.values():
        add_arguments(sub)

    s = sub.add_parser('hil', help='run the hardware-in-the-loop suite on a simulated or real rig',
                       description='Run hil_tests/ against the boards of the HIL site: with --rig sim (virtual '
                                   'wires), pty (the rig firmware on the MicroPython unix port over a pty) or '
                                   'serial:PORT (a real rig board wired per boards/rig-esp32-devkitc.json; the '
                                   'wiring is checked before the run). Prints every case with its measured '
                                   'timings, writes JUnit XML and per-DUT, rig and MQTT logs.')
    s.add_argument('--rig', default='sim', help='sim, pty, serial:PORT or a comma list (default sim)')
    s.add_argument('--dut-port', help='serial port of a real DUT (console log)')
    s.add_argument('--site', dest='site_opt', metavar='FILE', help='HIL site file (default hil_tests/site.yaml)')
    s.add_argument('--log-dir', default='reports/hil', help='logs, junit.xml, hil-results.json (default reports/hil)')
    s.add_argument('-k', help='only cases matching this pytest expression')
    s.add_argument('--json', action='store_true', help='print the results as JSON')
    s.add_argument('-v', '--verbose', action='store_true', help="show pytest's own output")
    s.set_defaults(fn=cmd_hil)

    s = sub.add_parser('fire', help='site-wide fire linkage: status, set, reset (acknowledged)',
                       description='The retained site fire state: set by any board\'s fire input or here; every door '
                                   'releases its lock and every barrier opens and stays open until a reset here. '
                                   'reset asks you to type RESET (or --yes) and waits for each board to apply it.')
    s.add_argument('action', choices=['status', 'set', 'reset'])
    _site_arg(s)
    s.add_argument('--by', help='your name (set/reset): kept with the state')
    s.add_argument('--yes', action='store_true', help='acknowledge the reset without the prompt')
    s.add_argument('--timeout', type=float, default=10, help='seconds to wait for the boards (default 10)')
    s.add_argument('--json', action='store_true', help='JSON output')
    s.set_defaults(fn=cmd_fire)

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

    s = sub.add_parser('bench', help='run a benchmark and print its figures',
                       description='Benchmarks: alarm-latency (a door forced open to the alarm committed in the '
                                   'journal and drawn by the control room view, p50/p99 over 200), held-open-latency '
                                   '(door contact past held_open_s to the alarm at an MQTT subscriber), ingest (QoS 1 '
                                   'events/s the journal commits from N publishers, beside mosquitto_sub), boot-heap (heap in use after boot and running, per layout, by subsystem and controller type), '
                                   'outage (events raised during a broker outage, time to deliver them, lost), '
                                   'reaction (barrier beam -> motor stop and reverse, idle and under a command flood), '
                                   'cutoff (pump low water -> pump off), '
                                   'deploy (full and no-change deploy to a simulated board: seconds, bytes).')
    s.add_argument('name')
    s.add_argument('--json', action='store_true', help='one JSON object')
    s.add_argument('-n', type=int, default=None,
                   help='samples: alarm-latency 200, held-open-latency 20; trials: reaction, cutoff 200')
    s.add_argument('--outage-s', type=float, default=30, help='broker outage length (outage)')
    s.add_argument('--boards', type=int, default=3, help='simulated boards under load (outage)')
    s.add_argument('--events', type=int, default=50000, help='events in the stream (ingest)')
    s.add_argument('--publishers', type=int, default=4, help='publishing processes (ingest)')
    s.add_argument('--inflight', type=int, default=20, help="broker's max_inflight_messages (ingest)")
    s.add_argument('--site', help='site file (boot-heap; default: a four-controller board and a gate board)')
    s.add_argument('--device', help='one device of --site (boot-heap; default: every device)')
    s.add_argument('--layout', choices=('romfs', 'lib'), help='one firmware layout (boot-heap; default: both)')
    s.add_argument('--save-costs', action='store_true',
                   help='boot-heap: measure every combination of controller types and write protocols/heap_costs.json '
                        '(what the config check predicts a board\'s heap from)')
    s.set_defaults(fn=cmd_bench)
    return p


def _terminated(signum, frame):
    raise KeyboardInterrupt      # a service manager's stop cleans up as Ctrl-C does


TIME_FLAGS = ('--since', '--until')


def _glue_times(argv):
    """`--since -24h` as `--since=-24h`: argparse takes a word starting with '-' for a flag."""
    out = []
    i = 0
    while i < len(argv):
        if argv[i] in TIME_FLAGS and i + 1 < len(argv) and argv[i + 1][:1] == '-' and argv[i + 1][1:2].isdigit():
            out.append('%s=%s' % (argv[i], argv[i + 1]))
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv=None):
    import signal
    signal.signal(signal.SIGTERM, _terminated)   # else `sim` and `broker` left their boards and mosquitto running
    p = build_parser()
    a = p.parse_args(_glue_times(sys.argv[1:] if argv is None else list(argv)))
    if not getattr(a, 'fn', None):
        p.print_help()
        return 2
    try:
        rc = a.fn(a)
        sys.stdout.flush()             # a closed pipe shows here, not as noise at exit
        return rc
    except EdgeError as e:
        print('edgectl: %s' % e, file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`edgectl journal query | head -1`): that is not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == '__main__':
    sys.exit(main())
