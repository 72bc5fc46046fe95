"""The firmware cases' working folder: one per test process (pytest-xdist workers run cases
side by side), never the source tree."""
import os

import pytest

from edgectl.core import paths


@pytest.fixture(scope='session')
def case_dir(tmp_path_factory):
    """A folder to run the case files in: they open protocols/vectors/ relative to it, and
    keep their boards' files in its ./.test-tmp (tests/firmware/harness.py)."""
    d = tmp_path_factory.mktemp('cases')
    os.symlink(paths.PROTOCOLS, d / 'protocols')
    return d


@pytest.fixture(autouse=True)
def _cwd(monkeypatch, case_dir):
    """Every firmware test runs in it (the transitions tests call case helpers too)."""
    monkeypatch.chdir(case_dir)
