"""The ESP32 double (esp32_double.py) says nothing the real modules do not: every class,
method, keyword and constant it offers is in micropython-esp32-stubs (MicroPython's own
signatures for the ESP32 port), apart from what the stubs are known to leave out."""
import ast
import sysconfig
from pathlib import Path

import pytest

import esp32_double as d

# the ESP32 port's network.LAN takes its RMII pins (docs.micropython.org, esp32 quickref);
# the stubs list only id, phy_type, phy_addr, ref_clk_mode
KNOWN_GAPS = {('LAN', '__init__'): {'mdc', 'mdio', 'power', 'ref_clk'}}
CLASSES = {'machine': ('Pin', 'ADC', 'DAC', 'WDT', 'Timer'), 'network': ('WLAN', 'LAN')}


def _stub(module):
    for d_ in (sysconfig.get_paths()['purelib'], sysconfig.get_paths()['platlib']):
        p = Path(d_) / (module + '.pyi')
        if p.exists():
            return ast.parse(p.read_text())
    pytest.skip('micropython-esp32-stubs is not installed (pip install -e .[test])')


def _classes(tree):
    """{class name: {'methods': {name: set of parameter names}, 'names': set}} (overloads
    and duplicate class definitions merged)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            c = out.setdefault(node.name, {'methods': {}, 'names': set()})
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    a = item.args
                    names = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
                    c['methods'].setdefault(item.name, set()).update(names)
                elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                    for t in (item.targets if isinstance(item, ast.Assign) else [item.target]):
                        if isinstance(t, ast.Name):
                            c['names'].add(t.id)
    return out


@pytest.mark.parametrize('module', sorted(CLASSES))
def test_the_double_is_a_subset_of_the_stubs(module):
    stub = _classes(_stub(module))
    for cname in CLASSES[module]:
        assert cname in stub, '%s.%s is not in the stubs' % (module, cname)
        cls = getattr(d, cname)
        for name, val in vars(cls).items():
            if name.startswith('_') and name != '__init__' or name in ('all', 'instance'):
                continue           # test hooks and the double's own registry
            if callable(val) or isinstance(val, staticmethod):
                assert name in stub[cname]['methods'], '%s.%s.%s is not in the stubs' % (module, cname, name)
                import inspect
                params = set(inspect.signature(val).parameters) - {'self'}
                extra = params - stub[cname]['methods'][name] - KNOWN_GAPS.get((cname, name), set())
                assert not extra, '%s.%s.%s: the stubs have no %s' % (module, cname, name, extra)
            elif isinstance(val, int):
                assert name in stub[cname]['names'], '%s.%s.%s is not in the stubs' % (module, cname, name)


def test_module_level_names_are_in_the_stubs():
    tree = _stub('machine')
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    names |= {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
              for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    for n in vars(d.machine):
        assert n in names, 'machine.%s is not in the stubs' % n
    tree = _stub('network')
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    names |= {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
              for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    for n in vars(d.network):
        assert n in names, 'network.%s is not in the stubs' % n
