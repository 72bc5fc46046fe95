"""firmware/settings_spec.py, generated from protocols/controllers.json: every setting's
default and range as small tuples the board keeps in flash (the firmware has no defaults of
its own). `tools/gen_settings_spec.py` writes it; tests/host/test_settings_spec.py checks the
committed file is exactly what this produces from controllers.json now."""
from .paths import FIRMWARE, PROTOCOLS

OUT = FIRMWARE / 'settings_spec.py'
KINDS = {'int': 'i', 'num': 'n', 'bool': 'b', 'str': 's', 'schedule': 'w', 'dates': 'd'}

HEADER = """\
# GENERATED from protocols/controllers.json by tools/gen_settings_spec.py: do not edit.
# A setting: (key, kind, default, min, max). kind: 'i' whole number, 'n' number,
# 'b' true/false (no range), 's' text (max: length), 'w' schedule windows [on_min, off_min,
# day mask], 'd' day numbers (max: items). The key is the one the board's flat config uses.
# SAFETY[i]: the signals of TYPES[i] whose inversion (active_low) needs invert_ack.
"""


def row(key, s):
    kind = KINDS[s['type']]
    if kind == 'b':
        lo = hi = None
    elif kind == 's':
        lo, hi = 0, s['max_len']
    elif kind in ('w', 'd'):
        lo, hi = 0, s['max_items']
    else:
        lo, hi = s['min'], s['max']
    default = s['default']
    if kind in ('w', 'd'):
        default = ()            # the board's flat form; a list default would be built at import
    return (s.get('flat_key', key), kind, default, lo, hi)


def _rows(settings):
    return ''.join('    %r,\n' % (row(k, s),) for k, s in settings.items())


def render(defs):
    types = list(defs['types'])
    out = [HEADER, '\nDEVICE = (\n', _rows(defs['device_settings']), ')\n',
           '\nTYPES = %r\n' % (tuple(types),), '\nSETTINGS = (\n']
    for t in types:
        out += ['  (  # %s\n' % t, _rows(defs['types'][t]['settings']), '  ),\n']
    out.append(')\n\nSAFETY = (\n')
    for t in types:
        out.append('    %r,\n' % (tuple(defs['types'][t].get('safety_signals', ())),))
    out.append(')\n')
    return ''.join(out)


def load_defs():
    import json
    with open(PROTOCOLS / 'controllers.json') as f:
        return json.load(f)


def write(path=OUT):
    text = render(load_defs())
    with open(path, 'w') as f:
        f.write(text)
    return path
