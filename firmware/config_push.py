# Taking a new config: a pushed `cfg` message (signed like a safety command when the board
# has a key) or one written over the serial cable (physical access: no signature). Either is
# checked (cfgcheck) and built dry before it counts. Loaded only while needed (config.py).
import strictjson
import os
from cfgcheck import check
from config import ConfigError, PATH, NEW, TRIAL, RESULT, read_json, write_json, _remove, last_rejected, \
    remember_rejected

SIGNED_AS = '_cfg'      # the pseudo controller a config push is signed for (protocols/signing.py)


def receive(payload, rev, key, site, device):
    """A `cfg` message: {"rev", "cfg": the flat config as JSON text, "ctr", "sig"}, signed
    (fields rev, cfg, ctr) when the board has a command key. Returns the checked config to
    try, or None when it is the one running (`rev`) or one refused before; raises
    ConfigError (with .rev) when it is refused; a refused rev is remembered (its retained
    copy is not tried again) unless the refusal was the signature's: a forged push must not
    block the genuine config of the same rev."""
    try:
        msg = strictjson.loads(payload)      # MicroPython's json alone takes a missing ','
    except ValueError:
        raise ConfigError('the cfg message is not valid JSON (malformed)')
    if not isinstance(msg, dict):
        raise ConfigError('the cfg message must be a JSON object {rev, cfg, ctr, sig}')
    new = msg.get('rev')
    if not isinstance(new, str) or not new:
        raise ConfigError("the cfg message needs a 'rev' string")
    if new == rev or new == last_rejected():
        return None     # the retained copy of what we run, or of what we already refused
    if key is not None:
        import signing
        v = signing.Verifier(key, device, 'cfg_ctr.json')
        # no clock test and no 'no freshness' refusal: a retained push waits on the broker
        # for a board that was offline, and a new board has no counter yet. A replayed older
        # push is still range-checked like any config.
        v.known = True
        err = v.check(SIGNED_AS, msg)
        if err:
            e = ConfigError('config push refused: ' + err)
            e.rev = new
            raise e
    try:
        return _take(msg, site, device)
    except Exception as e:
        if not isinstance(e, ConfigError):
            e = ConfigError(str(e))
        e.rev = new
        remember_rejected(new)
        raise e


def _take(msg, site, device):
    if not isinstance(msg.get('cfg'), str):
        raise ConfigError("the cfg message carries the config as JSON text in 'cfg'")
    try:
        cfg = strictjson.loads(msg['cfg'])
    except ValueError:
        raise ConfigError('the config is not valid JSON (malformed)')
    if not isinstance(cfg, dict) or cfg.get('rev') != msg['rev']:
        raise ConfigError("the config's rev is not the message's rev %s" % msg['rev'])
    check(cfg)
    if cfg['site'] != site or cfg['device'] != device:
        raise ConfigError('config is for %s/%s, this board is %s/%s' % (cfg['site'], cfg['device'], site, device))
    dry_run(cfg)
    return cfg


def dry_run(cfg):
    """Every controller of a config must build (settings of the right type and range)."""
    import controllers
    for c in cfg['controllers']:
        controllers.load(c['type'])(c['name'], c)


def install(path):
    """A config written over the serial line (`edgectl config push --via serial`): checked
    and built dry, then it replaces config.json in one rename (and becomes the last good
    one); else the board keeps its old one. The verdict is returned and also reported as an
    event at the next boot."""
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
    write_json('config.good', new)
    r = {'rev': rev, 'ok': True, 'replaced': old}
    write_json(RESULT, r)
    return r
