"""The HIL pytest plugin: one suite, several rigs.

    pytest hil_tests                          the simulated rig and the rig firmware over a pty
    pytest hil_tests --rig sim                one of them
    pytest hil_tests --rig serial:/dev/ttyUSB0 --dut-port /dev/ttyUSB1    a real rig and DUT

Figures of every timing assertion go to <log dir>/hil-results.json and the summary. With
pytest-xdist (-n) each worker keeps its DUTs' files, brokers and logs in <log dir>/<worker>
(with --dist loadfile a DUT's file of cases runs on one worker: the DUT boots once), and the
results and timings of every worker come to the controller with the tests' reports
(edgectl.qa.runfigures)."""
import json
import time
from pathlib import Path

import pytest

from edgectl.core.errors import EdgeError
from edgectl.qa import runfigures
from edgectl.qa.hil import DUTS, Case, Env, check_setup

HERE = Path(__file__).parent


def pytest_addoption(parser):
    g = parser.getgroup('edgectl HIL')
    g.addoption('--rig', default='sim,pty', help='sim, pty, serial:PORT, or a comma list (default sim,pty)')
    g.addoption('--dut-port', default=None, help='serial port of a real DUT (its console goes to the log)')
    g.addoption('--hil-site', default=str(HERE / 'site.yaml'), help='site file of the boards under test')
    g.addoption('--hil-log-dir', default='reports/hil', help='where logs, JUnit and results go')


def pytest_configure(config):
    runfigures.register(config)
    config._hil = {'envs': {}}
    try:    # a wrong rig, an unplugged port or another site: one line, not a failure per case
        check_setup(config.getoption('--rig'), config.getoption('--hil-site'), config.getoption('--dut-port'))
    except EdgeError as e:
        raise pytest.UsageError(str(e))


def pytest_generate_tests(metafunc):
    if 'rig_kind' in metafunc.fixturenames:
        kinds = [k.strip() for k in metafunc.config.getoption('--rig').split(',') if k.strip()]
        metafunc.parametrize('rig_kind', kinds, scope='session')


def log_dir(config):
    """--hil-log-dir; a worker's own folder in it under xdist (the DUTs' file systems, brokers
    and logs are per process)."""
    d = Path(config.getoption('--hil-log-dir'))
    return d / config.workerinput['workerid'] if runfigures.is_worker(config) else d


@pytest.fixture(scope='session')
def hil_envs(request):
    envs = request.config._hil['envs']
    yield envs
    for env in envs.values():
        env.close()


def env_for(request, hil_envs, rig_kind, device):
    key = (rig_kind, device)
    if key not in hil_envs:
        for other in [k for k in hil_envs if k[0] != rig_kind]:   # one rig kind at a time
            hil_envs.pop(other).close()
        o = request.config.getoption
        hil_envs[key] = Env(rig_kind, o('--hil-site'), device, log_dir(request.config), o('--dut-port'))
    return hil_envs[key]


@pytest.fixture
def door(request, hil_envs, rig_kind):
    env = env_for(request, hil_envs, rig_kind, DUTS['door'])
    c = Case(env, runfigures.rows_of(request.node, 'hil-timing'), request.node.name)
    for s in ('front.contact', 'front.rex', 'front.fire'):
        c.rig.set(s, 0)
    c.site_fire(False)             # a fire case leaves the site fire state set until a reset
    c.idle([], {'front.lock': 1, 'front.buzzer': 0})
    return c


@pytest.fixture
def gate(request, hil_envs, rig_kind):
    env = env_for(request, hil_envs, rig_kind, DUTS['gate'])
    c = Case(env, runfigures.rows_of(request.node, 'hil-timing'), request.node.name)
    plant = env.plants.get('gate')
    if plant is not None:
        for var in ('obstruction', 'jam', 'eye_dead'):
            plant.set(var, 0)
    c.rig.set('gate.loop', 0)
    c.rig.set('gate.close_held', 0)
    c.command('gate', 'reset')
    assert c.command('gate', 'open')['ok']
    c.idle([], {'gate.motor_up': 0, 'gate.motor_down': 0, 'gate.eye_tx': 1}, within_s=8)
    end = time.monotonic() + 8
    while env.observer.wait(lambda t, p: t.endswith('/state/gate') and p.get('state') == 'open', 0.2,
                            0) is None or c.command('gate', 'status')['state']['state'] != 'open':
        if time.monotonic() > end:
            raise AssertionError('barrier did not come to rest open')
    c.plant = plant
    return c


@pytest.fixture
def fountain(request, hil_envs, rig_kind):
    env = env_for(request, hil_envs, rig_kind, DUTS['fountain'])
    c = Case(env, runfigures.rows_of(request.node, 'hil-timing'), request.node.name)
    c.plant = env.plants.get('pool')
    if c.plant is not None:
        c.plant.set('leak', 0)
        c.plant.set('level', 60)
    c.command('pool', 'stop')
    c.command('pool', 'reset')
    c.idle([], {'pool.pump': 0, 'pool.low_level': 0}, within_s=3)
    end = time.monotonic() + 5                    # and past any restore wait
    while c.command('pool', 'status')['state']['state'] != 'off':
        if time.monotonic() > end:
            raise AssertionError('pump did not come to rest (off)')
        time.sleep(0.1)
    return c


LINE_OK = 33          # % of full scale: a healthy end-of-line resistor


@pytest.fixture
def callpoint(request, hil_envs, rig_kind):
    env = env_for(request, hil_envs, rig_kind, DUTS['callpoint'])
    c = Case(env, runfigures.rows_of(request.node, 'hil-timing'), request.node.name)
    c.rig.set('station.line', LINE_OK)
    c.rig.set('station.call', 0)
    end = time.monotonic() + 3
    while True:
        st = c.command('station', 'status')['state']
        if st['call_id'] is not None:
            c.command('station', 'hangup', call=st['call_id'])
        elif st['line_fault'] is None:
            break
        if time.monotonic() > end:
            raise AssertionError('intercom did not come to rest: %r' % st)
        time.sleep(0.05)
    c.idle([], {'station.strike': 0, 'station.led': 0}, within_s=3)
    return c


@pytest.fixture
def genset(request, hil_envs, rig_kind):
    env = env_for(request, hil_envs, rig_kind, DUTS['genset'])
    c = Case(env, runfigures.rows_of(request.node, 'hil-timing'), request.node.name)
    c.plant = env.plants.get('gen')
    if c.plant is not None:
        for var, v in (('fails', 0), ('fault', 0), ('crank_ms', 300), ('mains', 1)):
            c.plant.set(var, v)
    c.command('gen', 'auto')
    end = time.monotonic() + 8                    # past a cool-down or a crank under way
    while c.command('gen', 'status')['state']['state'] != 'off':
        c.command('gen', 'reset')
        if time.monotonic() > end:
            raise AssertionError('generator did not come to rest (off)')
        time.sleep(0.1)
    c.idle([], {'gen.gen_start': 0, 'gen.mains_ok': 1}, within_s=3)
    return c


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    out = yield
    rep = out.get_result()
    if rep.when == 'call' or (rep.when == 'setup' and rep.outcome != 'passed'):
        runfigures.rows_of(item, 'hil-case').append({'case': item.name, 'outcome': rep.outcome,
                                          'seconds': round(rep.duration, 2),
                                          'error': str(rep.longrepr.reprcrash.message)
                                          if rep.failed and hasattr(rep.longrepr, 'reprcrash') else None})


def pytest_sessionfinish(session, exitstatus):
    cfg = session.config
    cases = runfigures.collected(cfg, 'hil-case')
    if not cases or runfigures.is_worker(cfg):      # the controller writes every worker's
        return
    d = Path(cfg.getoption('--hil-log-dir'))
    d.mkdir(parents=True, exist_ok=True)
    (d / 'hil-results.json').write_text(json.dumps({'when': time.time(), 'cases': cases,
                                                    'figures': runfigures.collected(cfg, 'hil-timing')}, indent=1))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    figs = runfigures.collected(config, 'hil-timing')
    if not figs:
        return
    tr = terminalreporter
    tr.section('HIL timings (rig clock)')
    for f in figs:
        tr.write_line('%-4s %-36s %-34s %9.1f ms  [%g..%g]%s' % (
            f['rig'][:4], f['case'][:36], f['what'][:34], f['ms'], f['lo_ms'], f['hi_ms'], '' if f['ok'] else '  FAIL'))
