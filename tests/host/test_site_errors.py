"""Site file errors as a new user meets them: every problem at once, YAML syntax errors as
file:line and words, did-you-mean for a misspelt key, and a hostile file (billion laughs)
refused in bounded time and memory."""
import resource
import subprocess
import sys
from pathlib import Path

from edgectl.core import site as sitemod

GOOD = (Path(__file__).parent.parent / 'data' / 'good-site.yaml').read_text()

TWO_BAD_DEVICES = GOOD + '''  gate-1:
    board: esp32-devkitc
    controllers:
      - name: arm
        type: barier
        pins: {beam: 34}
  gate-2:
    board: esp32-devkitc
    controllers:
      - name: front
        type: door
        pins: {contact: 4, lock: 34}
'''


def problems(text):
    s = sitemod.parse(text, 'site.yaml')
    if not s.syntax:
        sitemod.validate(s)
    return s.problems


def test_a_schema_error_does_not_hide_the_others():
    ps = [str(p) for p in problems(TWO_BAD_DEVICES)]
    assert any("gate-1.controllers[0].type: 'barier' is not one of" in p and "did you mean 'barrier'" in p
               for p in ps), ps
    assert any('gate-2.controllers[0].pins.lock' in p and 'input-only' in p for p in ps), ps


def test_duplicate_keys_and_schema_errors_together(tmp_path):
    f = tmp_path / 'site.yaml'
    f.write_text(TWO_BAD_DEVICES.replace('held_open_s: 45', 'held_open_s: 45\n        held_open_s: 40'))
    ps = [str(p) for p in sitemod.load(f).problems]
    assert any('appears twice' in p for p in ps) and any('barier' in p for p in ps), ps


def test_bad_device_name_still_checks_its_pins():
    ps = [str(p) for p in problems(GOOD.replace('lobby-1', 'Lobby_1').replace('rex: 13', 'rex: 4'))]
    assert any('Lobby_1' in p and 'must match' in p for p in ps)
    assert any('already used by front.contact' in p for p in ps), ps


def test_misspelt_key_is_one_did_you_mean_at_its_line():
    ps = problems(GOOD.replace('controllers:', 'controlers:'))
    assert len(ps) == 1, [str(p) for p in ps]
    assert ps[0].line == 6
    assert "unknown key 'controlers': did you mean 'controllers'?" in ps[0].msg
    ps = problems(GOOD.replace('devices:', 'devics:'))
    assert [(p.line, "did you mean 'devices'" in p.msg) for p in ps] == [(3, True)]


def test_unknown_top_level_key_suggests():
    ps = problems(GOOD.replace('broker:', 'brokr: {}\nbroker:'))
    assert any("'brokr'" in p.msg and "did you mean 'broker'" in p.msg for p in ps), [str(p) for p in ps]


def test_yaml_syntax_errors_in_words():
    cases = [
        (GOOD.replace('  lobby-1:', '\tlobby-1:'), 4, 'tab'),
        (GOOD.replace('held_open_s: 45', 'held_open_s: 45: 3'), 10, "quote a value that contains ': '"),
        (GOOD.replace('pins: {contact: 4,', 'pins: {contact: 4'), 9, 'not closed'),
        (GOOD + '    debug: *nowhere\n', 11, 'no &name is defined'),
    ]
    for text, line, words in cases:
        ps = problems(text)
        assert len(ps) == 1, [str(p) for p in ps]
        p = ps[0]
        assert p.line == line and words in p.msg, str(p)
        assert str(p).startswith('site.yaml:%d: not valid YAML (column ' % line)
        for raw in ('cannot start any token', 'while parsing', 'mapping values are not allowed', 'found undefined'):
            assert raw not in p.msg


LAUGHS = 'lol: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n' + ''.join(
    'l%d: &l%d [%s]\n' % (i, i, ', '.join(['*l%d' % (i - 1)] * 9)) for i in range(1, 9))


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))      # 1 GB: the old loader took 9


def test_billion_laughs_is_refused_in_bounded_memory(tmp_path):
    f = tmp_path / 'site.yaml'
    f.write_text(LAUGHS)
    r = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'config', 'validate', str(f)], capture_output=True,
                       text=True, timeout=60, preexec_fn=_limit_memory)
    assert r.returncode == 2, r.stderr[-500:]
    assert 'refused' in r.stderr and 'aliases' in r.stderr and 'Traceback' not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_too_many_aliases_and_too_big_are_refused():
    many = 'a: &a 1\nb: [%s]\n' % ', '.join(['*a'] * (sitemod.MAX_ALIASES + 1))
    ps = problems(many)
    assert len(ps) == 1 and 'more than %d aliases' % sitemod.MAX_ALIASES in ps[0].msg
    big = GOOD + '#' * sitemod.MAX_BYTES
    ps = problems(big)
    assert len(ps) == 1 and 'at most %d' % sitemod.MAX_BYTES in ps[0].msg
    deep = 'site: ' + '[' * 3000 + ']' * 3000
    ps = problems(deep)
    assert len(ps) == 1 and 'refused' in ps[0].msg


def test_a_few_aliases_and_merge_keys_still_work():
    text = GOOD.replace('site: harbor-view', 'site: harbor-view\nx-door: &door {held_open_s: 45, unlock_s: 3}') \
        .replace('        held_open_s: 45\n', '        <<: *door\n')
    s = sitemod.parse(text, 'site.yaml')
    assert not s.syntax         # the anchor's own key is not a site key; the merge must work
    sitemod.validate(s)
    msgs = [str(p) for p in s.errors]
    assert len(msgs) == 1 and "'x-door'" in msgs[0], msgs
    assert s.devices['lobby-1']['controllers'][0]['unlock_s'] == 3
