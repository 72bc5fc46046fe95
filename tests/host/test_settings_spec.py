"""One source for every setting: protocols/controllers.json. The firmware's spec is generated
from it (and must be exactly what the generator makes now), the firmware reads only settings
it declares, and the host's site validation and the board's config check refuse the same
values (issue 15 finding 1)."""
import re

import pytest

import settings                     # the firmware's (tests/conftest.py puts firmware/ on the path)
from edgectl.core import proto, specgen
from edgectl.core import site as sitemod
from edgectl.core.paths import FIRMWARE

DEFS = proto.controllers()


def test_committed_firmware_spec_is_what_controllers_json_generates():
    assert specgen.OUT.read_text() == specgen.render(DEFS), \
        'firmware/settings_spec.py is stale: run python tools/gen_settings_spec.py'


def test_every_setting_declares_default_unit_and_range_and_safety_bounds_say_why():
    groups = [('device', DEFS['device_settings'])] + [(t, d['settings']) for t, d in DEFS['types'].items()]
    for scope, group in groups:
        for k, s in group.items():
            assert 'default' in s and 'doc' in s, (scope, k)
            if s['type'] in ('int', 'num'):
                assert s['min'] <= s['default'] <= s['max'] and s['unit'], (scope, k)
            if s.get('safety'):
                assert len(s.get('why', '')) > 20, (scope, k)
    for t, d in DEFS['types'].items():
        signals = set(d['inputs']) | set(d['outputs'])
        assert set(d['safety_signals']) <= signals, t


def _read_keys():
    """Setting names the firmware source reads through the accessor."""
    keys = set()
    for p in FIRMWARE.glob('*.py'):
        text = p.read_text()
        keys |= set(re.findall(r"(?:self\.num|self\.setting)\('(\w+)'\)", text))
        keys |= set(re.findall(r"\bget\(cfg, '(\w+)'", text))
        keys |= set(re.findall(r"DEBOUNCE = '(\w+)'", text))
        keys |= set(re.findall(r"FAST = \{'\w+': '(\w+)'", text))
    return keys


def test_the_firmware_reads_only_declared_settings_and_keeps_no_fallbacks():
    declared = {s.get('flat_key', k) for k, s in DEFS['device_settings'].items()}
    for d in DEFS['types'].values():
        declared |= {s.get('flat_key', k) for k, s in d['settings'].items()}
    read = _read_keys()
    assert 'low_debounce_ms' in read and 'keepalive_s' in read and 'unlock_s' in read
    assert read <= declared, 'read but not declared: %s' % (read - declared)
    for p in FIRMWARE.glob('*.py'):     # no cfg.get('x', default) fallbacks left for declared settings
        for k, _ in re.findall(r"cfg\.get\('(\w+)', ([^)]+)\)", p.read_text()):
            assert k not in declared, '%s keeps its own default for %s' % (p.name, k)


SITE = """\
site: s
broker: {host: 127.0.0.1, port: 1883}
devices:
  d:
    board: esp32-devkitc
    controllers:
      - {name: c, type: %s, pins: {%s}}
"""
PINS = {'door': 'contact: 4, lock: 25', 'barrier': 'beam: 4, up_limit: 5, down_limit: 13, motor_up: 25, '
        'motor_down: 26, eye_tx: 27', 'pump': 'low_level: 4, pump: 25', 'intercom': 'call: 4, strike: 25',
        'lift_recall': 'recalled: 4, recall: 25', 'genset': 'mains_ok: 4, gen_running: 5, gen_start: 25',
        'zone': 's1: 4'}


def _cases():
    out = []
    for t, d in DEFS['types'].items():
        for k, s in d['settings'].items():
            if s['type'] in ('int', 'num'):
                out += [(t, k, s['min'], True), (t, k, s['max'], True), (t, k, s['min'] - 1, False),
                        (t, k, s['max'] + 1, False)]
    for k, s in DEFS['device_settings'].items():
        if s['type'] in ('int', 'num'):
            out += [(None, k, s['max'] + 1, False), (None, k, s['min'] - 1, False), (None, k, s['min'], True)]
    return out


@pytest.mark.parametrize('ctype,key,value,ok', _cases())
def test_host_and_board_refuse_the_same_values(ctype, key, value, ok):
    t = ctype or 'door'
    text = SITE % (t, PINS[t])
    if ctype:
        text = text.replace('}}\n', '}, %s: %s}\n' % (key, value))
    else:
        text = text.replace('    board:', '    %s: %s\n    board:' % (key, value))
    s = sitemod.parse(text, 'site.yaml')
    sitemod.validate(s)
    assert (not s.errors) == ok, [str(p) for p in s.problems]
    flat = dict(sitemod.device_config(parse_ok(t), 'd'))
    if ctype:
        flat['controllers'][0][key] = value
    else:
        flat[key] = value
    import config
    try:
        config.check(flat)
        board_ok = True
    except config.ConfigError as e:
        board_ok = False
        assert key in str(e) and str(value) in str(e)
    assert board_ok == ok
    if not ok:
        assert key in str(s.errors[0]) or '%s' % value in str(s.errors[0])


def parse_ok(t):
    s = sitemod.parse(SITE % (t, PINS[t]), 'site.yaml')
    sitemod.validate(s)
    assert not s.errors
    return s


def test_the_findings_values_are_refused_by_the_host_with_the_range_and_why():
    text = SITE % ('barrier', PINS['barrier'])
    s = sitemod.parse(text.replace('}}\n', '}, beam_debounce_ms: 4000, eye_test_ms: 10000}\n'), 'site.yaml')
    sitemod.validate(s)
    msgs = [str(p) for p in s.errors]
    assert any('4000 is out of range 0..20 ms (a safety bound' in m for m in msgs), msgs
    assert any('10000 is out of range 50..1000 ms' in m for m in msgs), msgs
    s = sitemod.parse((SITE % ('door', PINS['door'])).replace('}}\n', '}, unlock_s: 10000000}\n'), 'site.yaml')
    sitemod.validate(s)
    assert '10000000 is out of range 1..600 s' in str(s.errors[0])


def test_inverting_a_safety_signal_needs_invert_ack_on_the_host_too():
    base = SITE % ('door', PINS['door'])
    s = sitemod.parse(base.replace('}}\n', '}, active_low: [lock]}\n'), 'site.yaml')
    sitemod.validate(s)
    assert len(s.errors) == 1 and 'invert_ack: [lock]' in str(s.errors[0])
    s = sitemod.parse(base.replace('}}\n', '}, active_low: [lock], invert_ack: [lock]}\n'), 'site.yaml')
    sitemod.validate(s)
    assert not s.errors
    flat = sitemod.device_config(s, 'd')['controllers'][0]
    assert flat['active_low'] == ['lock'] and flat['invert_ack'] == ['lock']
    s = sitemod.parse(base.replace('}}\n', '}, invert_ack: [lock]}\n'), 'site.yaml')
    sitemod.validate(s)
    assert 'not inverted by active_low' in str(s.errors[0])
    s = sitemod.parse(base.replace('}}\n', '}, active_low: [contact]}\n'), 'site.yaml')
    sitemod.validate(s)
    assert not s.errors, 'the contact is not a safety signal'


def test_pump_low_water_debounce_is_one_value_everywhere():
    s = parse_ok('pump')
    flat = sitemod.device_config(s, 'd')['controllers'][0]
    import pump
    p = pump.Pump('c', {})
    assert flat['low_debounce_ms'] == p._deb['low_level'].ms == DEFS['types']['pump']['settings']['low_debounce_ms']['default']
    assert 'level_debounce_ms' not in _read_keys()


@pytest.mark.parametrize('name', ['demo-site.yaml', 'heap-site.yaml', 'starter-site.yaml'])
def test_config_pull_makes_the_boards_lean_config_whole_again(name):
    """The board keeps its config lean in RAM (cfgcheck.lean: ~2 KB less on a four-controller
    board); what `config pull` shows and diffs is the whole config again."""
    import cfgcheck
    from edgectl.core.paths import DATA
    site = sitemod.load_valid(DATA / name)
    for dev in site.devices:
        whole = sitemod.device_config(site, dev)
        lean = cfgcheck.lean(json_copy(whole))
        assert len(json_dumps(lean)) < len(json_dumps(whole)), dev     # something was left out
        assert specgen.with_defaults(lean) == whole, dev


def json_copy(x):
    import json
    return json.loads(json.dumps(x))


def json_dumps(x):
    import json
    return json.dumps(x, sort_keys=True)
