"""Shared fixtures: the firmware importable under CPython, a real mosquitto per test
module on a free loopback port, and simulated boards."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT / 'firmware', ROOT / 'protocols', ROOT / 'tests' / 'firmware'):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


@pytest.fixture(scope='session', autouse=True)
def no_board_task_ends(tmp_path_factory):
    """After the run: no simulated board of any test had a task end with an exception (the
    VM's "Task exception wasn't retrieved"). A board's tasks (the control loop, the link, the
    health check that feeds the watchdog) must never end; one that does leaves the board
    running without it, silently: found once as a health check dead from boot on a short heap."""
    yield
    dead = []
    for log in tmp_path_factory.getbasetemp().rglob('board.log'):
        text = log.read_text(errors='replace')
        i = text.find('Task exception')
        if i >= 0:
            dead.append('%s:\n%s' % (log, text[i:i + 600]))
    assert not dead, 'a board task ended:\n' + '\n'.join(dead[:3])


@pytest.fixture(scope='module')
def broker(tmp_path_factory):
    from edgectl.core.broker import Broker, free_port
    port = free_port(pair=True)      # and a room listener: the CLI uses it once a site has secrets
    with Broker(port=port, room_port=port + 1, workdir=tmp_path_factory.mktemp('broker')) as b:
        yield b


@pytest.fixture
def make_board(tmp_path, broker):
    """make_board(site_yaml, device, **SimBoard options) -> started SimBoard against the test
    broker, restarted by a supervisor whenever its process ends (as a board resets)."""
    from edgectl.core import site as sitemod
    from edgectl.sim.sim import SimBoard, Supervisor
    started = []
    sup = Supervisor(started)

    def make(text, device, fs=None, site_broker=False, **board):
        s = sitemod.parse(text, 'test-site.yaml')
        sitemod.validate(s)
        assert not s.errors, s.errors
        cfg = sitemod.device_config(s, device, None if site_broker else {'host': broker.host, 'port': broker.port})
        b = SimBoard(cfg, fs or tmp_path / device, **board)
        b.start()
        started.append(b)
        return b

    yield make
    sup.stop()
    for b in started:
        b.stop()


@pytest.fixture(scope='session')
def postgres():
    """One PostgreSQL server for the whole run (Debian's binaries, a temporary folder, a free
    loopback port); `postgres.create_db(name)` gives a test its own database. Skipped, and
    said why, only where PostgreSQL or psycopg cannot be had (tools/install.sh installs both)."""
    from edgectl.room import pgserver
    why = pgserver.missing()
    if why:
        pytest.skip('PostgreSQL: %s' % why)
    with pgserver.PgServer() as server:
        yield server


def pytest_configure(config):
    from edgectl.qa import runfigures
    runfigures.register(config)


# the files that run brokers, simulated boards and VMs for many seconds each
LONG_FILES = ('tests/faults/', 'tests/integration/', 'hil_tests/', 'tests/abuse/', 'tests/firmware/test_cases.py')


def pytest_collection_modifyitems(config, items):
    """On pytest-xdist workers: the long files first (xdist hands out whole files in this
    order, so the many short ones fill the end of the run instead of a long one trailing).
    Within a file the order stays; without -n nothing moves."""
    from edgectl.qa import runfigures
    if runfigures.is_worker(config):
        items.sort(key=lambda item: not item.nodeid.startswith(LONG_FILES))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The abuse tally and the fault-injection figures of the whole run (with -n: every
    worker's, as their tests' reports reach this process)."""
    from edgectl.qa import runfigures
    abuse_summary(terminalreporter, runfigures.collected(config, 'abuse'))
    faults_summary(terminalreporter, runfigures.collected(config, 'faults'))


def abuse_totals(rows):
    """(tried, refused, offline, lost) over the abuse suite's rows."""
    return tuple(sum(r[k] for r in rows) for k in ('tried', 'refused', 'offline', 'lost'))


def abuse_summary(tr, rows):
    if not rows:
        return
    tr.section('abuse suite: inputs from inside the site')
    tr.write_line('%-66s %6s %8s %8s %5s' % ('test', 'tried', 'refused', 'offline', 'lost'))
    for r in rows:
        name = r['name'] if len(r['name']) <= 66 else r['name'][:31] + '..' + r['name'][-33:]
        tr.write_line('%-66s %6d %8d %8d %5d' % (name, r['tried'], r['refused'], r['offline'], r['lost']))
    tr.write_line('abuse: %d inputs tried, %d refused or set aside, %d boards went offline, %d alarms lost'
                  % abuse_totals(rows))


def faults_summary(tr, rows):
    if not rows:
        return
    tr.section('nothing lost: fault-injection figures')
    tr.write_line('%-34s %8s %9s %10s %5s %8s %s' % ('scenario', 'raised', 'delivered', 'duplicates', 'lost',
                                                     'reorder', 'recovery'))
    for r in rows:
        tr.write_line('%-34s %8d %9d %10d %5d %8d %s' % (
            r['scenario'], r['raised'], r['delivered'], r['duplicates_dropped'], r['lost'], r['out_of_order'],
            r.get('note', '')))
