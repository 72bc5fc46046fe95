"""The HIL suite must catch a broken controller: a firmware copy whose fire input no
longer releases the lock has to fail the fire case, and only that case."""
import json
import os
import shutil
import subprocess
import sys

from edgectl.core.paths import FIRMWARE


def test_hil_suite_fails_on_a_door_that_ignores_the_fire_input(tmp_path):
    fw = tmp_path / 'firmware'
    shutil.copytree(FIRMWARE, fw, ignore=shutil.ignore_patterns('__pycache__'))
    door = (fw / 'door.py').read_text()
    healthy = "        self.out('lock', 0)\n        self.alarm('door.fire_release', True, {'source': src})"
    assert healthy in door, 'the mutation no longer applies: update this test with door.py'
    (fw / 'door.py').write_text(door.replace(healthy, "        self.alarm('door.fire_release', True, {'source': src})"))
    logs = tmp_path / 'hil'
    # the door's cases (the DUT whose firmware is broken): the other DUTs' timing windows
    # prove nothing here and only add a run's worth of load-sensitive timings
    r = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'hil', '--rig', 'sim', '-k', 'test_hil_door',
                        '--log-dir', str(logs), '--json'],
                       env=dict(os.environ, EDGE_FIRMWARE=str(fw)), capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads(r.stdout)
    outcome = {c['case']: c['outcome'] for c in res['cases']}
    failed = [c for c, o in outcome.items() if o != 'passed']
    assert len(outcome) >= 4, outcome          # every door case ran; the others pass on the broken copy
    assert failed == ['test_fire_input_releases_the_lock[sim]'], {c['case']: c.get('error', '')[-1500:]
                                                                  for c in res['cases'] if c['case'] in failed}
    err = [c['error'] for c in res['cases'] if c['case'] == failed[0]][0]
    assert 'front.lock=0' in err and 'DUT log' in err, err
