"""The abuse tally and the fault-injection figures print the same totals whether the suite
runs in one process or on pytest-xdist workers (edgectl.qa.runfigures carries each test's
rows on its report to the process that prints the summary)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent

FAKE = '''
import os
import pytest

@pytest.mark.parametrize('n', range(1, 7))
def test_tries(abuse, n):
    with open(os.environ.get('PYTEST_XDIST_WORKER', 'serial') + '.ran', 'a') as f:     # which process ran it
        f.write('%d\\n' % n)
    abuse.input(n=n)                  # refused
    abuse.input(refused=False)        # got through

def test_goes_offline(abuse):
    abuse.input(n=2)
    abuse.went_offline()
    abuse.alarms_lost(3)
'''

FAULTS = '''
@pytest.mark.parametrize('k', range(3))
def test_scenario(figures, k):
    figures.append({'scenario': 'scenario %d' % k, 'raised': 10 * k, 'delivered': 10 * k, 'duplicates_dropped': k,
                    'lost': 0, 'out_of_order': 0, 'note': 'ok'})
'''


def run_fake(tmp_path, *args):
    tests = tmp_path / 'tests'
    for sub in ('', 'abuse', 'faults'):
        (tests / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(TESTS / sub / 'conftest.py', tests / sub / 'conftest.py')
    (tests / 'abuse' / 'test_fake.py').write_text(FAKE)
    (tests / 'faults' / 'test_fake_faults.py').write_text('import pytest\n' + FAULTS)
    (tmp_path / 'pytest.ini').write_text('[pytest]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTEST_')}    # not this run's worker
    r = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'] + list(args),
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    return r.stdout


def summary(out):
    totals = re.findall(r'^abuse: .*$', out, re.M)
    scenarios = sorted(re.findall(r'^scenario \d .*$', out, re.M))
    rows = sorted(re.findall(r'^(?:tries\[\d\]|goes_offline) .*$', out, re.M))
    return totals, rows, scenarios


def test_the_same_totals_with_and_without_xdist(tmp_path):
    serial = summary(run_fake(tmp_path / 'serial'))
    # 6 tests: 1+..+6 = 21 refused and 6 through; one more: 2 refused, 1 offline, 3 lost
    assert serial[0] == ['abuse: 29 inputs tried, 23 refused or set aside, 1 boards went offline, 3 alarms lost']
    assert len(serial[1]) == 7 and len(serial[2]) == 3, serial
    assert [p.name for p in (tmp_path / 'serial').glob('*.ran')] == ['serial.ran']
    out = run_fake(tmp_path / 'xdist', '-n', '2')
    assert sorted(p.name for p in (tmp_path / 'xdist').glob('*.ran')) == ['gw0.ran', 'gw1.ran'], 'not split'
    assert summary(out) == serial
