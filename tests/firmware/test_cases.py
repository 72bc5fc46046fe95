"""The firmware case files, run twice: here under CPython, and on the MicroPython unix
port (the real VM with an ESP32-sized heap) through mp_runner.py."""
import importlib
import os
import subprocess

import pytest

from edgectl.core import paths

MODULES = ['cases_door', 'cases_config', 'cases_runtime', 'cases_outbox', 'cases_boot', 'cases_barrier', 'cases_pump', 'cases_supervision', 'cases_intercom', 'cases_signing', 'cases_wire', 'cases_fire', 'cases_esp32']
# run on MicroPython in a VM process of their own: firmware updates load most of the firmware
# (the runtime, the ESP32 double, files of several KB), which the shared 256 KB heap cannot also hold
OWN_VM = ['cases_ota', 'cases_ota_app']
HERE = os.path.dirname(__file__)


def _cases():
    out = []
    for m in MODULES + OWN_VM:
        mod = importlib.import_module(m)
        out += [(m, n) for n in sorted(dir(mod)) if n.startswith('case_')]
    return out


CASES = _cases()


@pytest.fixture(autouse=True)
def _cwd(monkeypatch):
    monkeypatch.chdir(paths.ROOT)   # case files open protocols/vectors/ relative to the root


@pytest.mark.parametrize('mod,name', CASES, ids=['%s.%s' % c for c in CASES])
def test_cpython(mod, name):
    getattr(importlib.import_module(mod), name)()


@pytest.fixture(scope='module')
def mp_results():
    env = dict(os.environ, MICROPYPATH=':'.join(['.frozen', str(paths.FIRMWARE), str(paths.PROTOCOLS), HERE]))
    res = {}
    out = ''
    for group in (MODULES, OWN_VM):
        r = subprocess.run([paths.micropython(), '-X', 'heapsize=256K', os.path.join(HERE, 'mp_runner.py')] + group,
                           cwd=paths.ROOT, env=env, capture_output=True, text=True, timeout=300)
        for line in r.stdout.splitlines():
            if line.startswith(('PASS ', 'FAIL ')):
                key = line[5:].split(':', 1)[0]
                res[key] = line
        out += r.stdout + r.stderr
    return res, out


@pytest.mark.parametrize('mod,name', CASES, ids=['%s.%s' % c for c in CASES])
def test_micropython(mod, name, mp_results):
    res, log = mp_results
    line = res.get('%s.%s' % (mod, name))
    assert line is not None, 'case did not run on MicroPython:\n' + log[-2000:]
    assert line.startswith('PASS'), line
