# The device's flat config on the board's filesystem, and its atomic replacement.
#
#   config.json   the last good config (what the board boots with)
#   config.new    a candidate received over MQTT (`cfg`), already checked
#   trial.json    {"rev", "tries"}: the next boot tries config.new
#   cfg_result.json  the outcome of the last candidate, reported as an event at boot
#
# A candidate becomes config.json (one atomic rename) only after the board has run with it
# and reached the broker; a board that dies or cannot connect with it goes back to the
# last good config and reports system.config_rejected.
import json
import os
import topics

PATH = 'config.json'
NEW = 'config.new'
TRIAL = 'trial.json'
RESULT = 'cfg_result.json'
TYPES = ('door', 'barrier', 'pump', 'intercom')


class ConfigError(Exception):
    pass


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
    return cfg


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, obj):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f)
    os.rename(tmp, path)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def load(path=PATH):
    try:
        cfg = read_json(path)
    except OSError:
        raise ConfigError('no %s on the board: push one with `edgectl config push`' % path)
    except ValueError:
        raise ConfigError('%s is not valid JSON' % path)
    return check(cfg)


def boot():
    """The config to boot with: (cfg, trial rev or None). A second boot of the same trial
    means the first one died: the candidate is abandoned."""
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
            try:
                return load(NEW), t.get('rev')
            except ConfigError as e:
                abandon(t.get('rev'), str(e))
    return load(PATH), None


def dry_run(cfg):
    """Every controller of a config must build (settings of the right type and range)."""
    import controllers
    for c in cfg['controllers']:
        controllers.load(c['type'])(c['name'], c)


def install(path):
    """A config written over the serial line (`edgectl config push --via serial`): checked
    and built dry, then it replaces config.json in one rename; else the board keeps its old
    one. The verdict is returned and also reported as an event at the next boot."""
    try:
        old = read_json(PATH).get('rev')
    except (OSError, ValueError, AttributeError):
        old = None
    rev = None
    try:
        try:
            new = read_json(path)
        except ValueError:
            raise ConfigError('not valid JSON')
        rev = new.get('rev') if isinstance(new, dict) else None
        check(new)
        dry_run(new)
    except Exception as e:
        _remove(path)
        r = {'rev': rev, 'ok': False, 'err': str(e), 'kept': old}
        write_json(RESULT, r)
        return r
    _remove(NEW)
    _remove(TRIAL)
    os.rename(path, PATH)
    r = {'rev': rev, 'ok': True, 'replaced': old}
    write_json(RESULT, r)
    return r


def stage(cfg):
    """Keep a checked candidate beside the good config; the next boot tries it."""
    write_json(NEW, cfg)
    write_json(TRIAL, {'rev': cfg.get('rev'), 'tries': 0})


def promote(rev):
    os.rename(NEW, PATH)          # atomic: the board now boots with it
    _remove(TRIAL)


def abandon(rev, why):
    _remove(NEW)
    _remove(TRIAL)
    write_json(RESULT, {'rev': rev, 'ok': False, 'err': why})


def take_result():
    """The outcome of the last candidate, once (then forgotten)."""
    try:
        r = read_json(RESULT)
    except (OSError, ValueError):
        return None
    _remove(RESULT)
    return r


def last_rejected():
    try:
        return read_json('cfg_rejected.json').get('rev')
    except (OSError, ValueError, AttributeError):
        return None


def remember_rejected(rev):
    write_json('cfg_rejected.json', {'rev': rev})
