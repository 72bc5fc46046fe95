"""Shared fixtures: the firmware importable under CPython, a real mosquitto per test
module on a free loopback port, and simulated boards."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT / 'firmware', ROOT / 'protocols', ROOT / 'tests' / 'firmware'):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


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
