# The device's flat config on the board's filesystem, and its atomic replacement.
#
#   config.json   the config the board boots with
#   config.good   a copy of the last config accepted (written atomically): config.json
#                 damaged (a truncated write, a flash fault) is set aside as config.bad and
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
import settings

PATH = 'config.json'
GOOD = 'config.good'
BAD = 'config.bad'
NEW = 'config.new'
TRIAL = 'trial.json'
RESULT = 'cfg_result.json'
TYPES = ('door', 'barrier', 'pump', 'intercom')


class ConfigError(Exception):
    rev = None          # the refused config's rev, when known
    remember = True     # False: not remembered as refused (an unsigned or forged push must not
                        # block the genuine config of the same rev)


def check(cfg):
    if not isinstance(cfg, dict):
        raise ConfigError('config must be a JSON object')
    for k in ('site', 'device', 'broker', 'controllers'):
        if k not in cfg:
            raise ConfigError("config lacks '%s'" % k)
    b = cfg['broker']
    port = b.get('port') if isinstance(b, dict) else None
    if not isinstance(b, dict) or not isinstance(b.get('host'), str) or not isinstance(port, int) \
            or isinstance(port, bool) or not 0 < port < 65536:
        raise ConfigError("'broker' needs a host string and a port number 1..65535")
    if not isinstance(cfg['controllers'], list) or not cfg['controllers']:
        raise ConfigError("'controllers' must be a non-empty list")
    err = settings.check(cfg)
    if err:
        raise ConfigError(err)
    names = []
    for c in cfg['controllers']:
        if not isinstance(c, dict) or not isinstance(c.get('name'), str) or not c['name']:
            raise ConfigError('every controller needs a name')
        if c['name'] in names or c['name'] == 'system':
            raise ConfigError('controller name %s is used twice or reserved' % c['name'])
        names.append(c['name'])
        if c.get('type') not in TYPES:
            raise ConfigError('controller %s has unknown type %r' % (c['name'], c.get('type')))
        pins = c.get('pins')
        if not isinstance(pins, dict):
            raise ConfigError('controller %s has no pins' % c['name'])
        for sig in pins:
            if not isinstance(pins[sig], int) or isinstance(pins[sig], bool) or pins[sig] < 0:
                raise ConfigError('controller %s pin %s must be a GPIO number' % (c['name'], sig))
        err = settings.check(c, c['type']) or _inversions(c)
        if err:
            raise ConfigError('controller %s: %s' % (c['name'], err))
    return cfg


def _names(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _inversions(c):
    """A safety signal inverted at the pin (active_low) needs its explicit acknowledgement
    (invert_ack): a lock or motor inverted by mistake reads 'locked' / 'off' while the pin
    says otherwise."""
    low = c.get('active_low') or []
    ack = c.get('invert_ack') or []
    if not _names(low) or not _names(ack):
        return 'active_low and invert_ack must be lists of signal names'
    safety = settings.safety_signals(c['type'])
    for sig in low:
        if sig in safety and sig not in ack:
            return 'active_low inverts safety signal %s: acknowledge it with invert_ack: [%s]' % (sig, sig)
    for sig in ack:
        if sig not in low:
            return 'invert_ack names %s, which active_low does not invert' % sig
    return None


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
    return _fallback(), None


recovered = None    # what boot() did about a damaged config.json: {'err', 'used', 'safe'}, or None


def _try(path):
    """(config, None) when the file holds a config the board can run, else (what could be
    read of it, why not)."""
    try:
        raw = read_json(path)
    except OSError:
        return None, 'no %s on the board: push one with `edgectl config push`' % path
    except ValueError:
        return None, '%s is not valid JSON (damaged or truncated)' % path
    try:
        return check(raw), None
    except ConfigError as e:
        return raw, '%s: %s' % (path, e)


def _fallback():
    """config.json, else the last good config (repairing config.json), else a safe-mode
    config: the identity and the outputs of whichever file still names them."""
    global recovered
    recovered = None
    cfg, err = _try(PATH)
    if err is None:
        good = _try(GOOD)[0]
        if not isinstance(good, dict) or good.get('rev') != cfg.get('rev'):
            write_json(GOOD, cfg)       # first boot of a deployed config: keep it as the last good
        return cfg
    good, gerr = _try(GOOD)
    if gerr is None:
        try:
            os.rename(PATH, BAD)        # kept for a look; the board runs the last good one
        except OSError:
            pass
        write_json(PATH, good)
        recovered = {'err': err, 'used': good.get('rev'), 'safe': False}
        return good
    safe = _safe_config(cfg) or _safe_config(good)
    if safe is None:
        raise ConfigError('%s; %s' % (err, gerr))
    recovered = {'err': err, 'used': None, 'safe': True}
    return safe


def _safe_config(raw):
    """Enough of a damaged config to come online in safe mode: site, device, broker, and the
    controllers whose name, type and pins still read (their outputs held at safe values)."""
    if not isinstance(raw, dict):
        return None
    cfg = {'site': raw.get('site'), 'device': raw.get('device'), 'broker': raw.get('broker'),
           'rev': raw.get('rev'), 'controllers': None}
    ok = []
    ctrls = raw.get('controllers')
    for c in ctrls if isinstance(ctrls, list) else ():
        if not isinstance(c, dict):
            continue
        cfg['controllers'] = [{'name': c.get('name'), 'type': c.get('type'), 'pins': c.get('pins'),
                               'fail_safe': c.get('fail_safe') is not False, 'active_low': c.get('active_low'),
                               'invert_ack': c.get('invert_ack')}]
        try:
            check(cfg)
            ok.append(cfg['controllers'][0])
        except ConfigError:
            pass
    cfg['controllers'] = ok or [{'name': 'none', 'type': 'door', 'pins': {}}]
    try:
        check(cfg)          # the identity: site, device, broker
    except ConfigError:
        return None
    cfg['controllers'] = ok
    return cfg


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
    keep_good()
    r = {'rev': rev, 'ok': True, 'replaced': old}
    write_json(RESULT, r)
    return r


SIGNED_AS = '_cfg'      # the pseudo controller a config push is signed for (protocols/signing.py)
CTR = 'cfg_ctr.json'    # the highest counter of an accepted config push


def receive(payload, running_rev, key, site, device):
    """A `cfg` message: {"rev", "cfg": the flat config as JSON text, "ctr", "sig"}, signed
    like a safety command (fields rev, cfg, ctr) when the board has a command key. Returns the
    checked config to try, or None when it is the one running or one refused before; raises
    ConfigError (with .rev) when it is refused."""
    try:
        env = json.loads(payload)
    except ValueError:
        raise ConfigError('the cfg message is not valid JSON (malformed)')
    if not isinstance(env, dict):
        raise ConfigError('the cfg message must be a JSON object {rev, cfg, ctr, sig}')
    rev = env.get('rev')
    if not isinstance(rev, str) or not rev:
        raise ConfigError("the cfg message needs a 'rev' string")
    if rev == running_rev or rev == last_rejected():
        return None     # the retained copy of what we run, or of what we already refused
    try:
        return _accept(env, rev, key, site, device)
    except Exception as e:
        if not isinstance(e, ConfigError):
            e = ConfigError(str(e))
        e.rev = rev
        raise e


def _accept(env, rev, key, site, device):
    if key is not None:
        import signing
        err = signing.Verifier(key, device, CTR).check(SIGNED_AS, env)
        if err:
            e = ConfigError('config push refused: ' + err)
            e.remember = False
            raise e
    text = env.get('cfg')
    if not isinstance(text, str):
        raise ConfigError("the cfg message carries the config as JSON text in 'cfg'")
    try:
        new = json.loads(text)
    except ValueError:
        raise ConfigError('the config is not valid JSON (malformed)')
    if not isinstance(new, dict) or new.get('rev') != rev:
        raise ConfigError("the config's rev is not the message's rev %s" % rev)
    check(new)
    if new['site'] != site or new['device'] != device:
        raise ConfigError('config is for %s/%s, this board is %s/%s' % (new['site'], new['device'], site, device))
    dry_run(new)                # every controller must build
    return new


def stage(cfg):
    """Keep a checked candidate beside the good config; the next boot tries it."""
    write_json(NEW, cfg)
    write_json(TRIAL, {'rev': cfg.get('rev'), 'tries': 0})


def promote(rev):
    os.rename(NEW, PATH)          # atomic: the board now boots with it
    _remove(TRIAL)
    keep_good()


def keep_good():
    """config.json was accepted: it becomes the last good config too."""
    try:
        write_json(GOOD, read_json(PATH))
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
