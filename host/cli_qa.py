"""The QA verbs: `hil` (the hardware-in-the-loop suite on a rig) and `bench`
(benchmarks printing figures)."""
import json
import sys
from pathlib import Path

from .errors import EdgeError


def cmd_hil(a):
    import subprocess
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table
    from .hil import check_setup
    from .paths import ROOT
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
    from .bench import BENCHES
    fn = BENCHES.get(a.name)
    if fn is None:
        raise EdgeError('no benchmark %r (have: %s)' % (a.name, ', '.join(sorted(BENCHES))), 2)
    kwargs = {}
    from .cli_common import _progress
    show = None if a.json else _progress(a.name)
    n = {'n': a.n} if a.n else {}
    if a.name in ('held-open-latency', 'alarm-latency'):
        kwargs = dict(n, progress=show)
    elif a.name == 'ingest':
        kwargs = {'events': a.events, 'publishers': a.publishers, 'inflight': a.inflight}
    elif a.name == 'outage':
        kwargs = {'outage_s': a.outage_s, 'boards': a.boards, 'progress': show}
    elif a.name == 'boot-heap' and a.save_costs:
        from .heapbench import save_costs
        fn = save_costs
        kwargs = {'progress': show}
    elif a.name == 'boot-heap':
        kwargs = {'site': a.site, 'device': a.device, 'layout': a.layout}
    elif a.name in ('reaction', 'cutoff', 'access'):
        kwargs = {'trials': a.n, 'progress': show} if a.n else {'progress': show}
    res = fn(**kwargs)
    if a.json:
        print(json.dumps(res))
    else:
        if sys.stderr.isatty():
            print(file=sys.stderr)      # end the progress line
        for k, v in res.items():
            print('%-22s %s' % (k, v))
    return 0
