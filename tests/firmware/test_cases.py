"""The firmware case files, run twice: here under CPython, and on the MicroPython unix
port (the real VM with an ESP32-sized heap) through mp_runner.py."""
import importlib
import os
import subprocess

import pytest

from edgectl.core import paths

MODULES = ['cases_door', 'cases_config', 'cases_runtime', 'cases_outbox', 'cases_boot', 'cases_barrier', 'cases_pump', 'cases_supervision', 'cases_intercom', 'cases_signing', 'cases_wire', 'cases_fire', 'cases_esp32', 'cases_lift_recall', 'cases_genset', 'cases_zone', 'cases_reader', 'cases_cards', 'cases_esp32_reader', 'cases_ota', 'cases_ota_app', 'cases_heap', 'cases_outbox_room', 'cases_short_heap', 'cases_short_heap2']
HERE = os.path.dirname(__file__)


def _cases():
    out = []
    for m in MODULES:
        mod = importlib.import_module(m)
        out += [(m, n) for n in sorted(dir(mod)) if n.startswith('case_')]
    return out


CASES = _cases()


@pytest.mark.parametrize('mod,name', CASES, ids=['%s.%s' % c for c in CASES])
def test_cpython(mod, name):
    getattr(importlib.import_module(mod), name)()


@pytest.fixture(scope='module')
def mp_results(case_dir):
    """Each case file on a VM of its own (a fresh heap per file, as a board boots one
    firmware: what one file's cases leave fragmented is not the next file's problem),
    the VMs two at a time."""
    from concurrent.futures import ThreadPoolExecutor
    env = dict(os.environ, MICROPYPATH=':'.join(['.frozen', str(paths.FIRMWARE), str(paths.PROTOCOLS), HERE]))

    def run(mod):
        return subprocess.run([paths.micropython(), '-X', 'heapsize=256K', os.path.join(HERE, 'mp_runner.py'), mod],
                              cwd=case_dir, env=dict(env, EDGE_TEST_TMP='.test-tmp-' + mod),
                              capture_output=True, text=True, timeout=300)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(run, MODULES))
    res, log = {}, ''
    for r in runs:
        log += r.stdout + r.stderr
        for line in r.stdout.splitlines():
            if line.startswith(('PASS ', 'FAIL ')):
                key = line[5:].split(':', 1)[0]
                res[key] = line
    return res, log


@pytest.mark.parametrize('mod,name', CASES, ids=['%s.%s' % c for c in CASES])
def test_micropython(mod, name, mp_results):
    res, log = mp_results
    line = res.get('%s.%s' % (mod, name))
    assert line is not None, 'case did not run on MicroPython:\n' + log[-2000:]
    assert line.startswith('PASS'), line
