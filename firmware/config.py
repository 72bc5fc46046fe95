# The device's flat config on the board's filesystem, and its atomic replacement.
#
#   config.json   the config the board boots with
#   config.good   a copy of the last config accepted (written atomically): config.json
#                 damaged (a truncated write, a flash fault) is set aside as config.damaged and
#                 replaced by it; with neither usable the board starts in safe mode, online
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


class ConfigError(Exception):
    rev = None          # the refused config's rev, when known


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


# Checking a config and booting with one (cfgcheck), taking a pushed or serial one (config_push):
# their code is loaded only while needed, then dropped from the heap (a board that loads its
# code into RAM has little to spare). These are the entry points.
recovered = None    # what boot() did about a damaged config.json: {'err', 'rev', 'safe'}, or None


def once(name, op, *args):
    """name.op(*args), with name's code (and what it loads) dropped from the heap afterwards."""
    import sys
    had = set(sys.modules)
    try:
        try:
            mod = __import__(name)
        except MemoryError:     # loading wants its code in one piece: once more after a collection
            import gc
            gc.collect()
            mod = __import__(name)
        return getattr(mod, op)(*args)
    finally:
        for m in (name, 'cfgcheck', 'signing', 'settings_spec'):    # (controller types stay: the app uses them)
            if m in sys.modules and m not in had:
                del sys.modules[m]


def check(cfg):
    """The config when the board can run it; ConfigError (why) otherwise."""
    return once('cfgcheck', 'check', cfg)


def boot():
    """The config to boot with: (cfg, trial rev or None); sets `recovered`."""
    return once('cfgcheck', 'boot')


def receive(payload, rev, key, site, device):
    """A `cfg` message: the checked config to try, None to ignore, or ConfigError."""
    return once('config_push', 'receive', payload, rev, key, site, device)


def install(path):
    """A config written over the serial line: the verdict (see config_push.install)."""
    return once('config_push', 'install', path)


def stage(cfg):
    """Keep a checked candidate beside the good config; the next boot tries it."""
    write_json(NEW, cfg)
    write_json(TRIAL, {'rev': cfg.get('rev'), 'tries': 0})


def promote(rev):
    """The candidate becomes config.json (one atomic rename) and the last good config."""
    os.rename(NEW, PATH)
    _remove(TRIAL)
    try:
        write_json('config.good', read_json(PATH))
    except (OSError, ValueError):
        pass


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
