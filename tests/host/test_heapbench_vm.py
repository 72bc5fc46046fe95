"""`edgectl bench boot-heap --vm PATH`: the VM given is the one the bench runs (its probe
included), a path that is no MicroPython is a usage error, and the frozen layout is only
measured with a VM whose frozen firmware is this tree's."""
import subprocess
import sys

import pytest

from edgectl.core import paths
from edgectl.core.errors import EdgeError
from edgectl.qa import heapbench


def run(*args):
    return subprocess.run([sys.executable, '-m', 'edgectl.cli'] + list(args), capture_output=True, text=True,
                          timeout=60)


def _script(path, body):
    path.write_text('#!/bin/sh\n' + body)
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize('bogus, says', [('no-such-vm', 'is not an executable file'),
                                          ('/bin/true', 'is not a MicroPython unix port')])
def test_a_vm_that_is_not_micropython_is_a_usage_error(tmp_path, bogus, says):
    vm = str(tmp_path / bogus) if '/' not in bogus else bogus
    r = run('bench', 'boot-heap', '--vm', vm, '--json')
    assert r.returncode == 2
    assert says in r.stderr and 'Traceback' not in r.stderr


def test_the_probe_runs_on_the_vm_given(tmp_path):
    """A wrapper around the default VM that notes each run: the probe goes through it and
    measures what the default VM measures."""
    real = paths.micropython()
    calls = tmp_path / 'calls'
    vm = _script(tmp_path / 'mp-wrapper', 'echo "$@" >> %s\nexec %s "$@"\n' % (calls, real))
    cfg = heapbench._site_with([heapbench.TABLE_CONTROLLERS['door']])
    via = heapbench.probe(cfg, 'romfs', 110, tmp_path / 'a', vm=vm)
    assert 'heap_probe.py' in calls.read_text()
    default = heapbench.probe(cfg, 'romfs', 110, tmp_path / 'b')
    assert via['booted'] == default['booted'] and via['parts'] == default['parts']


def _fake_vm(tmp_path, wide, stamp):
    """A stand-in that answers vm_info's question as a MicroPython build would."""
    return _script(tmp_path / 'fake-mp', 'echo "VM %s %s 3.4.0; MicroPython fake"\n' % (wide, stamp))


def test_word_size_and_frozen_firmware_are_read_from_the_vm(tmp_path):
    info = heapbench.vm_info(_fake_vm(tmp_path, 'False', heapbench.frozen_stamp()))
    assert info['bits'] == 32 and info['frozen_firmware']
    assert heapbench.layouts_for(info) == ('frozen',)
    with pytest.raises(EdgeError) as e:
        heapbench.layouts_for(info, 'lib')          # its frozen modules would stand in for lib/
    assert e.value.code == 2
    plain = heapbench.vm_info(_fake_vm(tmp_path, 'True', '-'))
    assert plain['bits'] == 64 and not plain['frozen_firmware']
    assert heapbench.layouts_for(plain) == heapbench.LAYOUTS


def test_a_vm_with_other_frozen_firmware_is_refused(tmp_path):
    with pytest.raises(EdgeError) as e:
        heapbench.vm_info(_fake_vm(tmp_path, 'False', '0' * 64))
    assert e.value.code == 2 and 'build_micropython32.sh' in str(e.value)


def test_frozen_layout_needs_a_frozen_vm():
    r = run('bench', 'boot-heap', '--layout', 'frozen', '--json')
    assert r.returncode == 2 and '--frozen' in r.stderr



@pytest.mark.parametrize('vm, says', [(None, 'give --vm a 32-bit MicroPython'),
                                      ('default', 'needs --vm a 32-bit MicroPython unix port')])
def test_save_costs_needs_a_32_bit_vm(vm, says):
    """The table is a chip's: --save-costs without a VM, or with the 64-bit one, is a usage
    error and leaves the table as it was."""
    from edgectl.core import heapfit
    before = heapfit.TABLE.read_bytes()
    args = ['bench', 'boot-heap', '--save-costs', '--json'] + ([] if vm is None else ['--vm', paths.micropython()])
    r = run(*args)
    assert r.returncode == 2 and says in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert heapfit.TABLE.read_bytes() == before


def test_the_bench_says_which_terms_its_figures_are_in():
    wide = heapbench.terms(heapbench.vm_info(None))
    assert wide.startswith('64-bit VM') and 'not a chip' in wide and 'romfs' in wide and 'lib' in wide
    assert 'a chip\'s figures' in heapbench.terms({'bits': 32})
