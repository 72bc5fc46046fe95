"""firmware/settings_spec.py, generated from protocols/controllers.json: every setting's
default and range as text the board reads at need (the firmware has no defaults of its
own, and text costs far less heap than tuples). `tools/gen_settings_spec.py` writes it; tests/host/test_settings_spec.py checks the
committed file is exactly what this produces from controllers.json now."""
import json

from .paths import FIRMWARE, PROTOCOLS

OUT = FIRMWARE / 'settings_spec.py'
KINDS = {'int': 'i', 'num': 'n', 'bool': 'b', 'str': 's', 'schedule': 'w', 'dates': 'd', 'tz': 'z'}

HEADER = """\
# GENERATED from protocols/controllers.json by tools/gen_settings_spec.py: do not edit.
# One line per setting: key kind default min max (default, min and max as JSON).
# kind: i whole number, n number, b true/false (no range), s text (max: length),
# w schedule windows [on_min, off_min, day mask], d day numbers, z UTC offsets from a time zone
# [[utc_minute, offset_min], ...] (max: items). The key is
# the one in the board's flat config. Text, not tuples: a few hundred bytes of heap.
# SPEC[0]: the device's settings, SPEC[1 + i]: those of TYPES[i], SPEC[-1]: ' type.signal '
# for each signal whose inversion (active_low) needs invert_ack. Strings, not tuples of
# names: every short string a module holds stays in the board's string table for good.
"""


def _tok(v):
    t = json.dumps(v)
    if not t or any(ch.isspace() for ch in t):
        raise ValueError('a setting value with white space cannot go in the spec: %r' % (v,))
    return t


def row(key, s):
    """(key, kind, default, min, max) in the board's terms."""
    kind = KINDS[s['type']]
    if kind == 'b':
        lo = hi = None
    elif kind == 's':
        lo, hi = 0, s['max_len']
    elif kind in ('w', 'd', 'z'):
        lo, hi = 0, s['max_items']
    else:
        lo, hi = s['min'], s['max']
    return (s.get('flat_key', key), kind, [] if kind in ('w', 'd', 'z') else s['default'], lo, hi)


def _lines(settings):
    """'\\nkey kind default min max' per setting, one string (each line starts with \\n)."""
    return ''.join('\n' + ' '.join([r[0], r[1]] + [_tok(v) for v in r[2:]])
                   for r in (row(k, s) for k, s in settings.items()))


def render(defs):
    types = list(defs['types'])
    out = [HEADER, '\nTYPES = %r\n' % (tuple(types),), '\nSPEC = (\n',
           '    %r,\n' % (_lines(defs['device_settings']) + '\n')]
    for t in types:
        out.append('    %r,\n' % (_lines(defs['types'][t]['settings']) + '\n'))
    out.append('    %r,\n)\n' % (' %s ' % ' '.join('%s.%s' % (t, s) for t in types
                                                       for s in defs['types'][t].get('safety_signals', ())),))
    return ''.join(out)


def load_defs():
    with open(PROTOCOLS / 'controllers.json') as f:
        return json.load(f)


def write(path=OUT):
    text = render(load_defs())
    with open(path, 'w') as f:
        f.write(text)
    return path


def with_defaults(cfg):
    """A board's running config made whole: the board keeps it lean in RAM (firmware
    cfgcheck.lean leaves out settings at their default and empty active_low lists), so what
    `config pull` gets back is filled with each declared setting's board default again."""
    if not isinstance(cfg, dict):
        return cfg
    defs = load_defs()
    out = dict(cfg)
    for k, s in defs['device_settings'].items():
        r = row(k, s)
        out.setdefault(r[0], r[2])
    if not isinstance(cfg.get('controllers'), list):
        return out
    ctrls = []
    for c in cfg['controllers']:
        if not isinstance(c, dict):
            ctrls.append(c)
            continue
        c = dict(c)
        c.setdefault('active_low', [])
        for k, s in defs['types'].get(c.get('type'), {}).get('settings', {}).items():
            r = row(k, s)
            c.setdefault(r[0], r[2])
        ctrls.append(c)
    out['controllers'] = ctrls
    return out
