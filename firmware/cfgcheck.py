# Checking a config (kinds and ranges from settings_spec, inversions of safety signals) and
# choosing the one to boot with: a trial candidate, config.json, the last good one
# (config.good: config.json damaged is set aside as config.damaged and replaced by it), else a
# safe-mode config that still names the board and its outputs. Loaded only while needed
# (config.py's entry points), then dropped from the heap; few names, as every name a module
# holds stays in the board's string table for good.
import os
import config
import topics
from settings_spec import SPEC, TYPES
from settings import spec
from config import ConfigError, PATH, NEW, TRIAL, RESULT, read_json, write_json, _remove, _exists, abandon


def check(cfg):
    if not isinstance(cfg, dict):
        raise ConfigError('config must be a JSON object')
    for k in ('site', 'device', 'broker', 'controllers'):
        if k not in cfg:
            raise ConfigError("config lacks '%s'" % k)
    for k in ('site', 'device'):
        why = topics.bad_name(cfg[k])
        if why:
            raise ConfigError('%s name %r %s' % (k, cfg[k], why))
    b = cfg['broker']
    port = b.get('port') if isinstance(b, dict) else None
    if not isinstance(b, dict) or not isinstance(b.get('host'), str) or not isinstance(port, int) \
            or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError("'broker' needs a host string and a port number 1..65535")
    if not isinstance(cfg['controllers'], list) or not cfg['controllers']:
        raise ConfigError("'controllers' must be a non-empty list")
    err = ranges(cfg)
    if err:
        raise ConfigError(err)
    names = []
    for c in cfg['controllers']:
        if not isinstance(c, dict) or not isinstance(c.get('name'), str) or not c['name']:
            raise ConfigError('every controller needs a name')
        why = topics.bad_name(c['name'], '_')
        if why:
            raise ConfigError('controller name %r %s' % (c['name'], why))
        if c['name'] in names:
            raise ConfigError('controller name %s is used twice' % c['name'])
        names.append(c['name'])
        if c.get('type') not in TYPES:
            raise ConfigError('controller %s has unknown type %r' % (c['name'], c.get('type')))
        pins = c.get('pins')
        if not isinstance(pins, dict):
            raise ConfigError('controller %s has no pins' % c['name'])
        for sig in pins:
            if not isinstance(pins[sig], int) or isinstance(pins[sig], bool) or pins[sig] < 0:
                raise ConfigError('controller %s pin %s must be a GPIO number' % (c['name'], sig))
        err = ranges(c, c['type'])
        # a safety signal inverted at the pin (active_low) needs its acknowledgement
        # (invert_ack): a lock inverted by mistake reads 'locked' while the pin releases it
        low = c.get('active_low') or []
        ack = c.get('invert_ack') or []
        for x in (low, ack):
            if not isinstance(x, list) or [s for s in x if not isinstance(s, str)]:
                err = err or 'active_low and invert_ack must be lists of signal names'
        for sig in low if not err else ():
            if ' %s.%s ' % (c['type'], sig) in SPEC[-1] and sig not in ack:   # safety signals
                err = 'active_low inverts safety signal %s: acknowledge it with invert_ack: [%s]' % (sig, sig)
        for sig in ack if not err else ():
            if sig not in low:
                err = 'invert_ack names %s, which active_low does not invert' % sig
        if err:
            raise ConfigError('controller %s: %s' % (c['name'], err))
    return cfg


def ranges(cfg, ctype=None):
    """None when every declared setting present in cfg has its kind and range, else why not."""
    for line in SPEC[0 if ctype is None else 1 + TYPES.index(ctype)].split('\n'):
        key = line.split(' ')[0]
        v = cfg.get(key) if key else None
        if v is None:
            continue
        _, kind, _, lo, hi = spec(key, ctype)
        if kind == 'b':
            if v is not True and v is not False:
                return '%s must be true or false' % key
        elif kind == 's':
            if not isinstance(v, str) or len(v) > hi:
                return '%s must be text of at most %d characters' % (key, hi)
        elif kind == 'w' or kind == 'd':
            if not isinstance(v, list) or len(v) > hi:
                return '%s must be a list of at most %d items' % (key, hi)
            for x in v:     # day numbers; windows [on_min, off_min, day mask]
                ok = [x] if kind == 'd' else x if isinstance(x, list) and len(x) == 3 else ()
                if not ok or [n for n in ok if not isinstance(n, int) or isinstance(n, bool) or n < 0] or (
                        kind == 'w' and (ok[0] > 1439 or ok[1] > 1439 or not 0 < ok[2] < 128)):
                    return ('%s: %r is not a day number' if kind == 'd' else
                            '%s: %r is not a window [on_min, off_min, days]') % (key, x)
        elif kind == 'z':       # [[utc_minute, offset_min], ...] rising
            if not isinstance(v, list) or len(v) > hi:
                return '%s must be a list of at most %d items' % (key, hi)
            t = -1
            for x in v:
                if not isinstance(x, list) or len(x) != 2 or [n for n in x if not isinstance(n, int) or
                                                               isinstance(n, bool)] \
                        or x[0] <= t or not -720 <= x[1] <= 840:
                    return '%s: %r is not [utc_minute, offset_min] after the one before' % (key, x)
                t = x[0]
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or (kind == 'i' and not isinstance(v, int)):
            return ('%s must be a whole number' if kind == 'i' else '%s must be a number') % key
        elif not lo <= v <= hi:        # also refuses NaN
            return '%s = %s is out of range %s..%s' % (key, v, lo, hi)
    return None


def load(path):
    """(config, None) when the file holds a config the board can run, else (what could be
    read of it, why not)."""
    try:
        cfg = read_json(path)
    except OSError:
        return None, 'no %s on the board: push one with `edgectl config push`' % path
    except ValueError:
        return None, '%s is not valid JSON (damaged or truncated)' % path
    try:
        return check(cfg), None
    except ConfigError as e:
        return cfg, '%s: %s' % (path, e)


def boot():
    """The config to boot with, as the board keeps it in RAM (lean), and the trial rev or None."""
    cfg, trial = _boot()
    return lean(cfg), trial


def lean(cfg):
    """cfg without the settings at their declared default (settings.get gives them back) and
    without empty active_low lists: the host writes every setting out, and a four-controller
    board's config held whole is ~2 KB more heap. The files on flash stay whole."""
    out = _lean(cfg, None)
    if isinstance(out.get('controllers'), list):
        out['controllers'] = [_lean(c, c.get('type')) for c in out['controllers']]
    return out


def _lean(d, ctype):
    out = {}
    for k in d:
        v = d[k]
        if k == 'active_low' and not v:
            continue
        try:
            dflt = spec(k, ctype)[2]
            if v == dflt and type(v) is type(dflt):     # (True == 1: the type too)
                continue
        except (KeyError, ValueError):      # not a setting (name, type, pins, rev...)
            pass
        out[k] = v
    return out


def _boot():
    """(cfg, trial rev or None). A second boot of the same trial means the first one died:
    the candidate is abandoned."""
    config.recovered = None
    if _exists(TRIAL):
        try:
            t = read_json(TRIAL)
        except (OSError, ValueError):
            t = {'rev': '?', 'tries': 9}
        if not _exists(NEW):
            # promotion finished (rename done) but the marker survived a power cut
            _remove(TRIAL)
            write_json(RESULT, {'rev': t.get('rev'), 'ok': True})
        elif t.get('tries', 0) >= 1:
            abandon(t.get('rev'), 'the board did not stay up with it')
        else:
            t['tries'] = t.get('tries', 0) + 1
            write_json(TRIAL, t)
            cfg, err = load(NEW)
            if err is None:
                return cfg, t.get('rev')
            abandon(t.get('rev'), err)
    cfg, err = load(PATH)
    good, gerr = load('config.good')
    if err is None:
        if gerr or good.get('rev') != cfg.get('rev'):
            write_json('config.good', cfg)      # first boot of a deployed config: the last good one
        return cfg, None
    if gerr is None:
        try:
            os.rename(PATH, 'config.damaged')   # kept for a look; the board runs the last good one
        except OSError:
            pass
        write_json(PATH, good)
        config.recovered = {'err': err, 'rev': good.get('rev'), 'safe': False}
        return good, None
    cfg = safe(cfg) or safe(good)
    if cfg is None:
        raise ConfigError('%s; and then %s' % (err, gerr))
    config.recovered = {'err': err, 'rev': None, 'safe': True}
    return cfg, None


def safe(cfg):
    """Enough of a damaged config to come online in safe mode: site, device, broker, and the
    controllers whose name, type, pins and inversions still read (outputs held safe)."""
    if not isinstance(cfg, dict):
        return None
    out = {'site': cfg.get('site'), 'device': cfg.get('device'), 'broker': cfg.get('broker'),
           'rev': None, 'controllers': None}       # no rev: it runs none, and takes any push
    ok = []
    for c in cfg.get('controllers') if isinstance(cfg.get('controllers'), list) else ():
        if isinstance(c, dict):
            out['controllers'] = [{'name': c.get('name'), 'type': c.get('type'), 'pins': c.get('pins'),
                                   'fail_safe': c.get('fail_safe') is not False, 'active_low': c.get('active_low'),
                                   'invert_ack': c.get('invert_ack')}]
            try:
                ok.append(check(out)['controllers'][0])
            except ConfigError:
                pass
    b = out['broker']
    if not (isinstance(out['site'], str) and isinstance(out['device'], str) and isinstance(b, dict)
            and isinstance(b.get('host'), str) and isinstance(b.get('port'), int)):
        return None         # nothing names the board or its broker
    out['controllers'] = ok
    return out
