"""Site file validation: errors name file:line and the fix; the flat config has defaults."""
from pathlib import Path

import pytest

from edgectl.core import site as sitemod
from edgectl.core.errors import EdgeError

GOOD = (Path(__file__).parent.parent / 'data' / 'good-site.yaml').read_text()


def parse(text):
    s = sitemod.parse(text, 'site.yaml')
    if not s.problems:
        sitemod.validate(s)
    return s


def one_error(text):
    s = parse(text)
    assert len(s.errors) == 1, [str(p) for p in s.problems]
    return s.errors[0]


def test_good_site_is_valid():
    s = parse(GOOD)
    assert s.problems == []


def test_flat_config_has_defaults_and_rev():
    s = parse(GOOD)
    cfg = sitemod.device_config(s, 'lobby-1')
    door = cfg['controllers'][0]
    assert door['held_open_s'] == 45
    assert door['unlock_s'] == 5 and door['debounce_ms'] == 50 and door['fail_safe'] is True
    assert cfg['keepalive_s'] == 30 and cfg['outbox_max'] == 0      # 0: sized by the board's flash
    assert cfg['broker'] == {'host': '127.0.0.1', 'port': 1883}
    assert len(cfg['rev']) == 12
    cfg2 = sitemod.device_config(parse(GOOD.replace('45', '46')), 'lobby-1')
    assert cfg2['rev'] != cfg['rev']


def test_input_only_pin_as_output_names_line_and_fix():
    e = one_error(GOOD.replace('lock: 25', 'lock: 34'))
    assert e.line == 9
    assert 'input-only' in e.msg and 'such as' in e.msg
    assert str(e).startswith('site.yaml:9: devices.lobby-1.controllers[0].pins.lock:')


def test_pin_used_twice():
    e = one_error(GOOD.replace('rex: 13', 'rex: 4'))
    assert 'already used by front.contact' in e.msg


def test_flash_pin_refused_strapping_pin_warned():
    e = one_error(GOOD.replace('rex: 13', 'rex: 6'))
    assert 'SPI flash' in e.msg
    s = parse(GOOD.replace('rex: 13', 'rex: 15'))
    assert not s.errors and len(s.warnings) == 1 and 'strapping' in s.warnings[0].msg


def test_missing_required_pin():
    e = one_error(GOOD.replace('contact: 4, ', ''))
    assert "missing pin for 'contact'" in e.msg


def test_unknown_setting_suggests():
    e = one_error(GOOD.replace('held_open_s: 45', 'held_opn_s: 45'))
    assert e.line == 10 and "did you mean 'held_open_s'" in e.msg


def test_setting_out_of_range_and_wrong_type():
    assert 'out of range' in one_error(GOOD.replace('held_open_s: 45', 'held_open_s: 0')).msg
    assert 'number' in one_error(GOOD.replace('held_open_s: 45', 'held_open_s: soon')).msg


def test_bad_names_and_board():
    assert 'must match' in one_error(GOOD.replace('harbor-view', 'Harbor View')).msg
    e = one_error(GOOD.replace('esp32-devkitc', 'esp8266'))
    assert 'no board profile' in e.msg and e.line == 5


def test_duplicate_device_key():
    text = GOOD + GOOD[GOOD.index('  lobby-1:'):]
    s = parse(text)
    assert any('appears twice' in p.msg for p in s.errors)


def test_yaml_syntax_error_has_line():
    s = parse(GOOD.replace('pins: {contact: 4,', 'pins: {contact: 4,,'))
    assert s.errors and s.errors[0].line == 9


def test_unavailable_type_is_refused_with_issue(monkeypatch):
    import copy
    from edgectl.core import proto
    defs = copy.deepcopy(proto.controllers())
    defs['types']['door'].update(available=False, issue=99)
    monkeypatch.setattr(sitemod.proto, 'controllers', lambda: defs)
    e = one_error(GOOD)
    assert 'not in this firmware yet (issue 99)' in e.msg


INTERCOM = """site: harbor-view
broker: {host: 127.0.0.1, port: 1883}
devices:
  gate-1:
    board: esp32-devkitc
    controllers:
      - {name: east, type: intercom, pins: {call: 4, line: 34, strike: 25, led: 26}, ring_timeout_s: 20}
      - {name: west, type: intercom, pins: {call: 13, strike: 27}}
"""


def test_two_intercoms_with_and_without_a_supervised_line_are_valid():
    s = parse(INTERCOM)
    # (two intercoms leave 12 KB of heap in the lib layout: a heap warning, tests/host/test_heapfit.py)
    assert not [p for p in s.problems if 'heap' not in p.msg], [p.msg for p in s.problems]
    cfg = sitemod.device_config(s, 'gate-1')
    east = cfg['controllers'][0]
    assert east['ring_timeout_s'] == 20 and east['talk_timeout_s'] == 180 and east['strike_s'] == 5


def test_intercom_setting_out_of_range_is_refused():
    e = one_error(INTERCOM.replace('ring_timeout_s: 20', 'ring_timeout_s: 2'))
    assert 'out of range 5..600' in e.msg and e.line == 7


def test_load_valid_raises_with_every_error(tmp_path):
    p = tmp_path / 'site.yaml'
    p.write_text(GOOD.replace('lock: 25', 'lock: 34').replace('held_open_s: 45', 'held_open_s: -1'))
    with pytest.raises(EdgeError) as ei:
        sitemod.load_valid(p)
    assert ei.value.code == 2 and str(ei.value).count('site.yaml:') == 2


def test_unknown_device():
    with pytest.raises(EdgeError):
        sitemod.device_config(parse(GOOD), 'nope')


PUMP = """\
site: s
broker: {host: 127.0.0.1, port: 1883}
devices:
  f1:
    board: esp32-devkitc
    controllers:
      - name: pool
        type: pump
        pins: {low_level: 34, pump: 25}
        schedule: [{on: "18:00", off: "22:30", days: "mon-sun"}, {on: "23:00", off: "01:00", days: "fri,sat"}]
        except_dates: ["2026-12-25"]
"""


def test_schedule_as_the_issue_writes_it_is_flattened_for_the_board():
    s = parse(PUMP)
    assert not s.errors, [str(p) for p in s.errors]
    pool = sitemod.device_config(s, 'f1')['controllers'][0]
    assert pool['schedule'] == [[1080, 1350, 127], [1380, 60, 0b0110000]]
    assert pool['except_days'] == [20812] and 'except_dates' not in pool


def test_schedule_errors_name_the_line():
    e = one_error(PUMP.replace('"22:30"', '"22:61"'))
    assert e.line == 10 and 'not a time' in e.msg
    e = one_error(PUMP.replace('"fri,sat"', '"fri,sab"'))
    assert 'days are' in e.msg
    e = one_error(PUMP.replace('"2026-12-25"', '"2026-13-25"'))
    assert e.line == 11 and 'not a date' in e.msg
