"""A new user's first hour with a running simulated site (issue 17): the starter site runs,
a second `edgectl sim` in the same folder is refused without harming the first, `edgectl
broker` next to a running broker says why in one line, `io` lists the plant variables, a
fire reset with no fire says so at once, and `sim --with-broker` keeps the site's logins."""
import json
import os
import re
import signal
import subprocess
import sys
import time

from edgectl.core import secrets
from edgectl.core.broker import free_port
from edgectl.core.paths import ROOT

CLI = [sys.executable, '-m', 'edgectl.cli']


def edgectl(*args, cwd, timeout=60):
    return subprocess.run(CLI + list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout)


def start_sim(cwd, *args):
    p = subprocess.Popen(CLI + ['sim', 'site.yaml'] + list(args), cwd=cwd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    end = time.monotonic() + 60
    while not (cwd / '.edgectl' / 'sim.json').exists():
        assert p.poll() is None and time.monotonic() < end, p.stdout.read() if p.poll() is not None else 'slow'
        time.sleep(0.2)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_starter_site_runs_and_a_second_sim_is_refused(tmp_path, broker):
    assert edgectl('init', cwd=tmp_path).returncode == 0
    f = tmp_path / 'site.yaml'
    f.write_text(f.read_text().replace('port: 1883', 'port: %d' % broker.port))
    sim = start_sim(tmp_path)
    try:
        rt = json.loads((tmp_path / '.edgectl' / 'sim.json').read_text())
        assert sorted(rt['devices']) == ['fountain-1', 'gate-1', 'lobby-1']
        for dev, ctrl in (('lobby-1', 'front'), ('gate-1', 'barrier'), ('gate-1', 'callpoint'),
                          ('fountain-1', 'pool')):
            r = edgectl('cmd', dev, ctrl, 'status', '--timeout', '15', cwd=tmp_path)
            assert r.returncode == 0 and r.stdout.startswith('ok'), (dev, ctrl, r.stderr)

        r = edgectl('io', 'gate-1', cwd=tmp_path)          # item 10: the plant variables are listed
        assert r.returncode == 0 and 'barrier.obstruction' in r.stdout and 'plant' in r.stdout, r.stdout
        r = edgectl('io', 'fountain-1', cwd=tmp_path)
        assert 'pool.level' in r.stdout, r.stdout

        # the README's clock example starts the starter site's mon-fri schedule
        clock = re.search(r'edgectl io fountain-1 --clock (\S+)', (ROOT / 'README.md').read_text()).group(1)
        assert edgectl('io', 'fountain-1', '--clock', clock, cwd=tmp_path).returncode == 0
        end = time.monotonic() + 8
        while edgectl('io', 'fountain-1', 'pool.pump', cwd=tmp_path).stdout.strip() != '1':
            assert time.monotonic() < end, 'the pump did not start at %s' % clock
            time.sleep(0.3)
        assert edgectl('cmd', 'fountain-1', 'pool', 'stop', cwd=tmp_path).returncode == 0

        # item 4: a second sim here is refused before it touches the first one's boards
        r = edgectl('sim', 'site.yaml', '--fresh', '--duration', '2', cwd=tmp_path)
        assert r.returncode == 1, r.stdout + r.stderr
        err = r.stderr.strip().splitlines()
        assert len(err) == 1 and 'already runs' in err[0] and 'pid %d' % sim.pid in err[0], r.stderr
        assert json.loads((tmp_path / '.edgectl' / 'sim.json').read_text()) == rt   # still reachable
        assert edgectl('cmd', 'lobby-1', 'front', 'status', cwd=tmp_path).returncode == 0

        # and a broker on the port a broker listens on says why, before writing its files
        conf = tmp_path / '.edgectl' / 'broker' / 'mosquitto.conf'
        r = edgectl('broker', '--port', str(broker.port), cwd=tmp_path)
        assert r.returncode == 1
        assert r.stderr.strip().count('\n') == 0 and 'Address already in use' in r.stderr, r.stderr
        assert not conf.exists()

        # item 7: no fire, nothing to reset: said at once, not "applied by 0 of 3" after 10 s
        t0 = time.monotonic()
        r = edgectl('fire', 'reset', '--yes', '--by', 'guard', cwd=tmp_path)
        assert r.returncode == 0 and 'nothing to reset' in r.stdout, r.stdout + r.stderr
        assert time.monotonic() - t0 < 8
        r = edgectl('fire', 'set', '--by', 'guard', cwd=tmp_path)
        assert r.returncode == 0 and 'applied by 3 of 3' in r.stdout, r.stdout + r.stderr
        r = edgectl('fire', 'reset', '--yes', '--by', 'guard', cwd=tmp_path)
        assert r.returncode == 0 and 'applied by 3 of 3' in r.stdout, r.stdout + r.stderr
    finally:
        stop(sim)
    assert not (tmp_path / '.edgectl' / 'sim.json').exists()
    r = edgectl('sim', 'site.yaml', '--duration', '0.5', cwd=tmp_path, timeout=90)   # the lock went with it
    assert r.returncode == 0, r.stdout + r.stderr


def test_sim_with_broker_keeps_the_sites_logins(tmp_path):
    assert edgectl('init', cwd=tmp_path).returncode == 0
    f = tmp_path / 'site.yaml'
    f.write_text(f.read_text().replace('port: 1883', 'port: %d' % free_port()))
    secrets.ensure(str(f), ['fountain-1', 'gate-1', 'lobby-1'])
    sim = start_sim(tmp_path, '--with-broker')
    try:
        conf = (tmp_path / '.edgectl' / 'broker' / 'mosquitto.conf').read_text()
        assert 'allow_anonymous false' in conf and 'acl_file' in conf
        r = edgectl('cmd', 'lobby-1', 'front', 'status', '--timeout', '15', cwd=tmp_path)   # as the control room
        assert r.returncode == 0, r.stderr
    finally:
        stop(sim)
    assert os.path.exists(f)
