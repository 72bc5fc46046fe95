"""The host is a house with wings (README, "What is here"): a small core every wing builds on,
and one wing per kind of user. These rules are read from the imports themselves, so a module
that reaches into a wing it must not know fails here, not in a review."""
import ast
import importlib

import pytest

from edgectl import cli
from edgectl.core.paths import ROOT

HOST = ROOT / 'host'
WINGS = ('core', 'install', 'room', 'sim', 'qa')

# what each wing may import besides itself: the core needs no wing; the installer and the
# control room stand on the core alone (a control room never carries the simulator or QA);
# the simulator shows its site through the control room; QA drives all of them
ALLOWED = {
    'core': set(),
    'install': {'core'},
    'room': {'core'},
    'sim': {'core', 'room'},
    'qa': {'core', 'install', 'room', 'sim'},
}


def _wing_of(path):
    rel = path.relative_to(HOST).parts
    return rel[0] if len(rel) > 1 else None


def _imported_wings(path):
    """The wings a module imports (relative or absolute), at module level or inside functions."""
    tree = ast.parse(path.read_text(), str(path))
    pkg = ['edgectl'] + list(path.relative_to(HOST).parts[:-1])
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - node.level + 1]
                target = base + (node.module.split('.') if node.module else [])
            else:
                target = (node.module or '').split('.')
            names = [target] if node.module else [target + [a.name] for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name.split('.') for a in node.names]
        else:
            continue
        for t in names:
            if len(t) > 1 and t[0] == 'edgectl' and t[1] in WINGS:
                out.add(t[1])
    return out


def _modules():
    return sorted(p for p in HOST.rglob('*.py') if p.parent != HOST / 'data')


def test_every_host_module_lives_in_a_wing():
    loose = [p.name for p in HOST.glob('*.py') if p.name not in ('__init__.py', 'cli.py')]
    assert loose == [], 'modules outside the wings: %s' % loose


@pytest.mark.parametrize('path', _modules(), ids=lambda p: str(p.relative_to(HOST)))
def test_a_wing_imports_only_what_it_may(path):
    wing = _wing_of(path)
    if wing is None:
        return      # cli.py assembles the wings' verb tables; __init__ holds the version
    reached = _imported_wings(path) - {wing}
    assert reached <= ALLOWED[wing], '%s (%s) imports %s' % (path.relative_to(HOST), wing,
                                                           sorted(reached - ALLOWED[wing]))


def test_the_rules_see_an_import_that_breaks_them(tmp_path):
    """The checker itself: a control-room module importing the simulator is caught."""
    bad = HOST / 'room' / '_probe_breaks_rules.py'
    bad.write_text('def f():\n    from ..sim import simio\n    from edgectl.qa import bench\n')
    try:
        assert _imported_wings(bad) == {'sim', 'qa'}
    finally:
        bad.unlink()


def test_cli_only_assembles_the_wings_verb_tables():
    seen = {}
    for table in cli.VERB_TABLES:
        for name, (add_arguments, run) in table.items():
            assert name not in seen, 'verb %s in two tables' % name
            seen[name] = run
            assert callable(add_arguments) and callable(run)
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == 'verb')
    assert sorted(sub.choices) == sorted(seen)
    for name, p in sub.choices.items():
        fn = p.get_default('fn')
        if fn is not None:          # verbs with actions (config) set fn on each action
            assert fn is seen[name], name
    assert 'add_parser(' not in (HOST / 'cli.py').read_text()     # every verb's arguments sit by its handler


def test_each_wing_is_a_package_the_install_ships():
    import tomllib
    packages = tomllib.loads((ROOT / 'pyproject.toml').read_text())['tool']['setuptools']['packages']
    for d in sorted({p.parent for p in _modules()}):
        if d == HOST:
            continue
        name = 'edgectl.' + '.'.join(d.relative_to(HOST).parts)
        assert name in packages, '%s is missing from pyproject packages' % name
        importlib.import_module(name)
