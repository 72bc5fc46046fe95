"""The ESP32 code paths (hal_esp32.py, the rig's ESP32 pins) type-checked with mypy against
MicroPython's own signatures for machine, network, esp32 (micropython-esp32-stubs): the
unix port cannot run them, this at least checks every call against the real API."""
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from edgectl.core import paths

FILES = [paths.FIRMWARE / 'hal_esp32.py', paths.FIRMWARE / 'rig' / 'rig_pins_esp32.py']
# the stubs' own files have errors of their own (mypy checks them too): not ours to fix
CONFIG = """[mypy]
ignore_missing_imports = True
follow_imports = silent
check_untyped_defs = True
[mypy-machine,network,esp32,vfs,vfs.*,micropython,ntptime,time,_mpy_shed,_mpy_shed.*]
ignore_errors = True
"""


STUBS = ('machine', 'network', 'esp32', 'micropython', 'ntptime', 'vfs', 'time')


def _stubs():
    for d in (sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']):
        if (Path(d) / 'machine.pyi').exists() and (Path(d) / '_mpy_shed').is_dir():
            return d
    return None


def test_esp32_code_matches_micropythons_signatures(tmp_path):
    pytest.importorskip('mypy')
    stubs = _stubs()
    if stubs is None:
        pytest.skip('micropython-esp32-stubs is not installed (pip install -e .[test])')
    ini = tmp_path / 'mypy.ini'
    ini.write_text(CONFIG)
    import shutil
    shed = tmp_path / 'stubs'           # mypy takes no site-packages folder on its path: a copy
    shed.mkdir()
    for m in STUBS:
        shutil.copy(Path(stubs) / (m + '.pyi'), shed)
    shutil.copytree(Path(stubs) / '_mpy_shed', shed / '_mpy_shed')
    env = {'MYPYPATH': ':'.join([str(shed), str(paths.FIRMWARE), str(paths.FIRMWARE / 'rig'), str(paths.PROTOCOLS)])}
    import os
    r = subprocess.run([sys.executable, '-m', 'mypy', '--config-file', str(ini), '--cache-dir', str(tmp_path / 'c')]
                       + [str(f) for f in FILES], capture_output=True, text=True, env=dict(os.environ, **env),
                       timeout=600)
    mine = [ln for ln in r.stdout.splitlines() if ln.startswith(str(paths.FIRMWARE))]
    assert r.returncode == 0 and not mine, r.stdout + r.stderr
