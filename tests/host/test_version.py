"""The version is stated once, as the firmware's FW (firmware/app.py): what a board reports,
`edgectl --version` and the package metadata (pyproject.toml's dynamic version) all take it
from there."""
import shutil
import subprocess
import sys

import edgectl
from edgectl.core import paths

READ_VERSION = ('import warnings; warnings.simplefilter("ignore"); '
                'from setuptools.config.pyprojecttoml import read_configuration as r; '
                'print(r("pyproject.toml")["project"]["version"])')


def _fw(root):
    return paths.firmware_constant('app.py', 'FW', root / 'firmware')


def test_the_host_and_the_package_report_the_firmwares_version():
    fw = _fw(paths.ROOT)
    assert edgectl.__version__ == fw
    r = subprocess.run([sys.executable, '-m', 'edgectl.cli', '--version'], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.split() == ['edgectl', fw], r.stdout + r.stderr
    r = subprocess.run([sys.executable, '-c', READ_VERSION], cwd=paths.ROOT, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == fw, r.stdout + r.stderr


def test_a_new_firmware_version_is_the_packages_version_with_no_other_edit(tmp_path):
    """pyproject.toml holds no version of its own: a bumped FW is the package's version."""
    shutil.copy(paths.ROOT / 'pyproject.toml', tmp_path)
    shutil.copytree(paths.ROOT / 'host', tmp_path / 'host', ignore=shutil.ignore_patterns('__pycache__', 'data'))
    (tmp_path / 'firmware').mkdir()
    app = (paths.ROOT / 'firmware' / 'app.py').read_text()
    bumped = app.replace("FW = '%s'" % _fw(paths.ROOT), "FW = '9.8.7'", 1)
    assert bumped != app, 'FW is no longer a plain string in firmware/app.py'
    (tmp_path / 'firmware' / 'app.py').write_text(bumped)
    r = subprocess.run([sys.executable, '-c', READ_VERSION], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == '9.8.7', r.stdout + r.stderr
