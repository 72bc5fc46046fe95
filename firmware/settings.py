# Settings: the one accessor the firmware reads a setting through (the value in the config,
# else the default of settings_spec, generated from protocols/controllers.json: the firmware
# keeps no defaults of its own). The range check every config passes is cfgcheck's.
import json


def spec(key, ctype=None):
    """[key, kind, default, min, max] of a declared setting (ctype None: the device's);
    KeyError for one that is not declared (the firmware reads nothing controllers.json does
    not declare)."""
    import sys
    had = 'settings_spec' in sys.modules
    from settings_spec import SPEC, TYPES
    if not had:     # the table is not kept: after boot a setting is read rarely (bringup keeps it while it builds)
        del sys.modules['settings_spec']
    rows = SPEC[0 if ctype is None else 1 + TYPES.index(ctype)]
    i = rows.find('\n' + key + ' ')
    if i < 0:
        raise KeyError('setting %s is not declared for %s' % (key, ctype or 'this device'))
    f = rows[i + 1:rows.find('\n', i + 1)].split(' ')
    for j in (2, 3, 4):
        f[j] = json.loads(f[j])
    return f


def get(cfg, key, ctype=None):
    v = cfg.get(key)
    return spec(key, ctype)[2] if v is None else v
