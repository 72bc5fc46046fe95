"""Rig wiring checks and the rig clock."""
import copy

import pytest

from edgectl.core import site as sitemod
from edgectl.core.errors import EdgeError
from edgectl.core.paths import ROOT
from edgectl.qa.rig import TICKS_PERIOD, Unwrap, wiring_check


def dut_cfg():
    s = sitemod.load_valid(ROOT / 'hil_tests' / 'site.yaml')
    return sitemod.device_config(s, 'dut-door')


def test_wiring_maps_every_signal_with_its_direction():
    w = wiring_check('rig-esp32-devkitc', dut_cfg())
    assert w['front.contact'] == (16, 'out')      # the rig drives the DUT's inputs
    assert w['front.lock'] == (34, 'in')          # and reads its outputs (input-only is fine)


def test_wiring_refuses_unwired_and_undrivable_pins():
    cfg = copy.deepcopy(dut_cfg())
    cfg['controllers'][0]['pins']['contact'] = 15      # no wire to GPIO15
    cfg['controllers'][0]['pins']['rex'] = 25          # wired to rig GPIO34: input-only, cannot drive
    cfg['controllers'][0]['pins']['lock'] = 13
    with pytest.raises(EdgeError) as e:
        wiring_check('rig-esp32-devkitc', cfg)
    msg = str(e.value)
    assert 'front.contact (DUT GPIO15) has no wire' in msg
    assert 'rig GPIO34 is input-only and cannot drive' in msg


def test_analog_inputs_are_driven_from_a_rig_dac():
    s = sitemod.load_valid(ROOT / 'hil_tests' / 'site.yaml')
    cfg = sitemod.device_config(s, 'dut-call')
    w = wiring_check('rig-esp32-devkitc', cfg)
    assert w['station.line'] == (26, 'level')     # DUT GPIO34 (ADC1) <- rig DAC GPIO26
    assert w['station.call'] == (16, 'out')
    cfg['controllers'][0]['pins']['line'] = 32    # an ADC pin, but wired to a rig GPIO without DAC
    with pytest.raises(EdgeError) as e:
        wiring_check('rig-esp32-devkitc', cfg)
    assert 'station.line is analog: rig GPIO21 has no DAC' in str(e.value)


def test_wiring_refuses_another_dut_board():
    cfg = dict(dut_cfg(), board='sim')
    with pytest.raises(EdgeError):
        wiring_check('rig-esp32-devkitc', cfg)


def test_unwrap_keeps_time_running_across_the_tick_wrap():
    u = Unwrap()
    assert u(TICKS_PERIOD - 10) == pytest.approx((TICKS_PERIOD - 10) / 1e6)
    assert u(5) == pytest.approx((TICKS_PERIOD + 5) / 1e6)
    assert u(20) > u(5) - 1
