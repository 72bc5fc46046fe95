"""The simulator gives the 64-bit MicroPython VM a board profile's heap plus what the board's
objects take more there (protocols/heap_costs.json vm64), so a simulated board has the
chip's free heap; a 32-bit VM gets the profile's heap as it is."""
import math
import re

import yaml

from edgectl.core import heapfit, site as sitemod
from edgectl.core.build import build_romfs
from edgectl.sim import sim

SITE = {'site': 's', 'broker': {'host': '127.0.0.1', 'port': 1883},
        'devices': {'d-1': {'board': 'esp32-devkitc',
                            'controllers': [{'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'lock': 25}}]}}}


def _board(tmp_path, firmware):
    s = sitemod.parse(yaml.safe_dump(SITE), 'site.yaml')
    sitemod.validate(s)
    b = sim.SimBoard(sitemod.device_config(s, 'd-1'), tmp_path / firmware, firmware=firmware)
    b.fs.mkdir(parents=True)
    (b.fs / 'main.py').write_text('')
    return b


def _heapsize(b):
    argv, _, _ = b.spawn('firmware')
    return int(re.search(r'heapsize=(\d+)K', ' '.join(argv)).group(1))


def _door_kb(layout):
    """110 KB plus what the door's objects take more on the 64-bit VM (the table's figures)."""
    t = heapfit.table()
    wide, narrow = t['vm64']['layouts'][layout]['combos']['door'], t['layouts'][layout]['combos']['door']
    return 110 + math.ceil(max(wide[k] - narrow[k] for k in ('after_boot', 'running')) / 1024)


def test_the_64_bit_vm_gets_the_profiles_heap_plus_what_the_boards_objects_take_more(tmp_path):
    assert sim.vm_bits() == 64                     # the pip-installed unix port
    image_kb = (build_romfs().stat().st_size + 1023) // 1024
    host, fs = _board(tmp_path, 'host'), _board(tmp_path, 'fs')
    assert host.heap_kb == fs.heap_kb == 110       # the profile's, in the chip's terms
    assert _heapsize(host) == _door_kb('romfs') + image_kb + sim.SIM_IO_KB > 110 * 1.2 + image_kb + sim.SIM_IO_KB
    assert _heapsize(fs) == _door_kb('lib') + sim.SIM_IO_KB > 110 * 1.2 + sim.SIM_IO_KB
    note = fs.heap_note()
    assert note.startswith('heap 110 KB') and '%d KB on the 64-bit VM' % _door_kb('lib') in note


def test_a_32_bit_vm_gets_the_profiles_heap(tmp_path):
    """A board run on another VM (as bench flood --vm does) is sized by that VM's word size."""
    vm = tmp_path / 'mp32'
    vm.write_text('#!/bin/sh\necho 32\n')
    vm.chmod(0o755)
    fs = _board(tmp_path, 'fs')
    fs.vm = str(vm)
    argv, _, _ = fs.spawn('firmware')
    assert argv[0] == str(vm) and 'heapsize=%dK' % (110 + sim.SIM_IO_KB) in argv
    assert fs.heap_note() == 'heap 110 KB'
