"""`edgectl`: a table of verbs, each a small handler. Errors print `edgectl: ...` and exit
non-zero (1 refused/failed, 2 usage or input); no tracebacks for user mistakes."""
import argparse
import os
import sys

from . import __version__
from .install import verbs as install_verbs
from .install import verbs_ota
from .qa import verbs as qa_verbs
from .room import verbs as room_verbs
from .room import verbs_cards as cards_verbs, verbs_logs, verbs_report, verbs_web, verbs_zone
from .sim import verbs as sim_verbs
from .core.errors import EdgeError
from .core import verbs_centre

# the wings' verb tables, in the order `edgectl --help` lists them
VERB_TABLES = (sim_verbs.VERBS, install_verbs.VERBS, verbs_ota.VERBS, room_verbs.VERBS, verbs_logs.VERBS,
               verbs_report.VERBS, verbs_zone.VERBS, cards_verbs.VERBS, verbs_web.VERBS, qa_verbs.VERBS,
               verbs_centre.VERBS)

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

    for verbs in VERB_TABLES:
        for add_arguments, _run in verbs.values():
            add_arguments(sub)
    return p


def _terminated(signum, frame):
    raise KeyboardInterrupt      # a service manager's stop cleans up as Ctrl-C does


TIME_FLAGS = ('--since', '--until', '--from', '--to')


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
