"""The command line: help that teaches, exit codes, errors without tracebacks."""
import subprocess
import sys

from pathlib import Path

import pytest

from edgectl.sim.demo import DEMO_SITE

VERBS = ['demo', 'config', 'broker', 'sim', 'io', 'cmd', 'monitor', 'hil', 'bench']


def run(*args, cwd=None):
    return subprocess.run([sys.executable, '-m', 'edgectl.cli'] + list(args), capture_output=True,
                          text=True, cwd=cwd, timeout=60)


@pytest.mark.parametrize('verb', VERBS)
def test_every_verb_has_help(verb):
    r = run(verb, '--help')
    assert r.returncode == 0 and 'usage: edgectl ' + verb in r.stdout


def test_top_help_lists_verbs_and_examples():
    r = run('--help')
    for v in VERBS:
        assert v in r.stdout
    assert 'examples:' in r.stdout


def test_validate_exit_codes(tmp_path):
    good = tmp_path / 'site.yaml'
    good.write_text((Path(__file__).parent.parent / 'data' / 'good-site.yaml').read_text())
    r = run('config', 'validate', str(good))
    assert r.returncode == 0, r.stderr
    bad = tmp_path / 'bad.yaml'
    bad.write_text(good.read_text().replace('lock: 25', 'lock: 34'))
    r = run('config', 'validate', str(bad))
    assert r.returncode == 2 and 'bad.yaml:9:' in r.stderr and 'Traceback' not in r.stderr
    r = run('config', 'validate', str(tmp_path / 'missing.yaml'))
    assert r.returncode == 2 and r.stderr.startswith('edgectl: no site file')


def test_config_show_json(tmp_path):
    r = run('config', 'show', 'lobby-1', '--site', str(DEMO_SITE))
    assert r.returncode == 0
    assert '"held_open_s": 3' in r.stdout


def test_io_without_sim_is_one_clear_line(tmp_path):
    r = run('io', 'lobby-1', 'front.contact', cwd=tmp_path)
    assert r.returncode == 2            # an input error: start `edgectl sim` first
    assert r.stderr.startswith('edgectl: no simulator running') and 'Traceback' not in r.stderr


def test_cmd_args_parse():
    from edgectl.core.commands import parse_args
    assert parse_args(['s=10', 'x=1.5', 'on=true', 'name=abc']) == {'s': 10, 'x': 1.5, 'on': True, 'name': 'abc'}
    with pytest.raises(Exception):
        parse_args(['novalue'])


def test_missing_micropython_is_one_line(monkeypatch, tmp_path):
    from edgectl.core import paths
    from edgectl.core.errors import EdgeError
    monkeypatch.setenv('EDGE_MICROPYTHON', str(tmp_path / 'nope'))
    with pytest.raises(EdgeError) as e:
        paths.micropython()
    assert 'EDGE_MICROPYTHON' in str(e.value)


def test_missing_mosquitto_names_the_package(monkeypatch):
    from edgectl.core import paths
    from edgectl.core.errors import EdgeError
    monkeypatch.setattr(paths.shutil, 'which', lambda n: None)
    monkeypatch.setattr(paths.os.path, 'isfile', lambda p: False)
    with pytest.raises(EdgeError) as e:
        paths.mosquitto()
    assert 'apt-get install -y mosquitto' in str(e.value)
