# Settings: the one accessor the firmware reads a setting through (the value in the config,
# else the default of settings_spec, generated from protocols/controllers.json: the firmware
# keeps no defaults of its own), and the range check every config passes before the board
# takes it (a pushed one, the one it boots with, one written over serial).
import settings_spec as S


def _rows(ctype):
    return S.DEVICE if ctype is None else S.SETTINGS[S.TYPES.index(ctype)]


def spec(key, ctype=None):
    """(key, kind, default, min, max) of a declared setting; KeyError for one that is not
    declared (the firmware reads nothing controllers.json does not declare)."""
    for r in _rows(ctype):
        if r[0] == key:
            return r
    raise KeyError('setting %s is not declared for %s' % (key, ctype or 'the device'))


def get(cfg, key, ctype=None):
    v = cfg.get(key)
    return spec(key, ctype)[2] if v is None else v


def safety_signals(ctype):
    return S.SAFETY[S.TYPES.index(ctype)]


def _whole(v, lo, hi):
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def problem(r, v):
    """Why value v breaks setting r, or None."""
    key, kind, _, lo, hi = r
    if kind == 'b':
        return None if v is True or v is False else '%s must be true or false' % key
    if kind == 's':
        if not isinstance(v, str) or len(v) > hi:
            return '%s must be text of at most %d characters' % (key, hi)
        return None
    if kind == 'w' or kind == 'd':
        if not isinstance(v, list) or len(v) > hi:
            return '%s must be a list of at most %d items' % (key, hi)
        for x in v:
            if kind == 'd' and not _whole(x, 0, 1000000):
                return '%s: %r is not a day number' % (key, x)
            if kind == 'w' and not (isinstance(x, list) and len(x) == 3 and _whole(x[0], 0, 1439)
                                    and _whole(x[1], 0, 1439) and _whole(x[2], 1, 127)):
                return '%s: %r is not a window [on_min, off_min, days]' % (key, x)
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind == 'i' and not isinstance(v, int)):
        return '%s must be %s' % (key, 'a whole number' if kind == 'i' else 'a number')
    if not lo <= v <= hi:      # also refuses NaN
        return '%s = %s is out of range %s..%s' % (key, v, lo, hi)
    return None


def check(cfg, ctype=None):
    """None when every declared setting present in cfg has its kind and range, else why not."""
    for r in _rows(ctype):
        v = cfg.get(r[0])
        if v is not None:
            err = problem(r, v)
            if err:
                return err
    return None
