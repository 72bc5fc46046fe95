# The device's flat config (config.json on the board's filesystem), written by the host
# after validation. The board re-checks the few things it cannot run without.
import json

PATH = 'config.json'
TYPES = ('door', 'barrier', 'pump', 'intercom')


class ConfigError(Exception):
    pass


def check(cfg):
    if not isinstance(cfg, dict):
        raise ConfigError('config must be a JSON object')
    for k in ('site', 'device', 'broker', 'controllers'):
        if k not in cfg:
            raise ConfigError("config lacks '%s'" % k)
    b = cfg['broker']
    if not isinstance(b, dict) or not isinstance(b.get('host'), str) or not isinstance(b.get('port'), int):
        raise ConfigError("'broker' needs a host string and a port number")
    names = []
    for c in cfg['controllers']:
        if not isinstance(c, dict) or not isinstance(c.get('name'), str):
            raise ConfigError('every controller needs a name')
        if c['name'] in names:
            raise ConfigError('controller %s appears twice' % c['name'])
        names.append(c['name'])
        if c.get('type') not in TYPES:
            raise ConfigError('controller %s has unknown type %r' % (c['name'], c.get('type')))
        if not isinstance(c.get('pins'), dict):
            raise ConfigError('controller %s has no pins' % c['name'])
    return cfg


def load(path=PATH):
    try:
        with open(path) as f:
            cfg = json.load(f)
    except OSError:
        raise ConfigError('no %s on the board: push one with `edgectl config push`' % path)
    except ValueError:
        raise ConfigError('%s is not valid JSON' % path)
    return check(cfg)
