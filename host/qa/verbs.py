"""The QA verbs: `hil` (the hardware-in-the-loop suite on a rig) and `bench`
(benchmarks printing figures)."""
import json
import sys
from pathlib import Path

from ..core.errors import EdgeError


def cmd_hil(a):
    import subprocess
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from .hil import check_setup
    from ..core.paths import ROOT
    check_setup(a.rig, a.site_opt or str(ROOT / 'hil_tests' / 'site.yaml'), a.dut_port)
    log_dir = Path(a.log_dir).resolve()
    log_dir.mkdir(parents=True, exist_ok=True)
    results = log_dir / 'hil-results.json'
    if results.exists():
        results.unlink()
    cmd = [sys.executable, '-m', 'pytest', str(ROOT / 'hil_tests'), '-q', '-p', 'no:cacheprovider',
           '--rig', a.rig, '--hil-log-dir', str(log_dir), '--junitxml', str(log_dir / 'junit.xml')]
    if a.site_opt:
        cmd += ['--hil-site', str(Path(a.site_opt).resolve())]
    if a.dut_port:
        cmd += ['--dut-port', a.dut_port]
    if a.k:
        cmd += ['-k', a.k]
    print('edgectl hil: rig %s, logs in %s' % (a.rig, log_dir), file=sys.stderr, flush=True)
    r = subprocess.run(cmd, cwd=ROOT, stdout=None if a.verbose else subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not results.exists():
        if r.stdout:
            print(r.stdout[-4000:], file=sys.stderr)
        raise EdgeError('the HIL suite did not run (exit %d); see above' % r.returncode)
    data = json.loads(results.read_text())
    if a.json:
        print(json.dumps(data))
    else:
        con = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
        t = Table(title='HIL: %d cases, rig %s' % (len(data['cases']), a.rig))
        for col in ('case', 'result', 'timing', 'measured', 'bounds'):
            t.add_column(col, justify='right' if col in ('measured', 'bounds') else 'left')
        for c in data['cases']:
            figs = [f for f in data['figures'] if f['case'] == c['case']] or [None]
            res = '[green]passed[/]' if c['outcome'] == 'passed' else '[bold red]%s[/]' % c['outcome']
            for i, f in enumerate(figs):
                t.add_row(escape(c['case']) if i == 0 else '', res if i == 0 else '',
                          escape(f['what']) if f else '', '%.1f ms' % f['ms'] if f else '',
                          '%g..%g ms' % (f['lo_ms'], f['hi_ms']) if f else '')
            if c['error']:
                t.add_row('', '', '[red]%s[/]' % escape(c['error'][:200]), '', '')
        con.print(t)
        con.print('JUnit: %s; logs (per DUT, rig, MQTT): %s' % (log_dir / 'junit.xml', log_dir))
    return 0 if r.returncode == 0 else 1


def cmd_bench(a):
    from ..core.cliargs import _progress
    from .bench import BENCHES
    res = BENCHES[a.bench](a, None if a.json else _progress(a.bench))
    if a.json:
        print(json.dumps(res))
    else:
        if sys.stderr.isatty():
            print(file=sys.stderr)      # end the progress line
        for k, v in res.items():
            print('%-22s %s' % (k, v))
    return 0


def _args_hil(sub):
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


def _args_bench(sub):
    from .bench import BENCHES
    s = sub.add_parser('bench', help='run a benchmark and print its figures',
                       description='Each benchmark prints its figures (never pass/fail); --json: one object. '
                                   '`edgectl bench NAME --help` lists its own options.')
    bsub = s.add_subparsers(dest='bench', metavar='NAME', required=True)
    for name, b in BENCHES.items():
        b.add_parser(bsub, name).set_defaults(fn=cmd_bench)


# each verb: (its arguments, its handler)
VERBS = {
    'hil': (_args_hil, cmd_hil),
    'bench': (_args_bench, cmd_bench),
}
