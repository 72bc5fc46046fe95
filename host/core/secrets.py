"""A site's secrets, kept beside the site file and never in it: per-device MQTT passwords
and keys (signed commands and that device's fire resets; no key is shared by two boards), the control room's MQTT login (the headless journal's and the default
one), and the operators' own logins (only their salted hashes: an operator's password is
known to the operator alone). The file is created 0600, never printed,
and a .gitignore next to it keeps it out of git. Boards get theirs over the serial line
only (`edgectl flash`, `config push --via serial`), as secrets.json on their filesystem."""
import json
import os
import re
import secrets as _random
import time
from pathlib import Path

from .errors import EdgeError

ROOM_USER = 'control-room'


def path_for(site_path):
    p = Path(site_path)
    return p.with_name(p.stem + '.secrets.json')


def load(site_path):
    """The site's secrets, or None when there is no secrets file."""
    p = path_for(site_path)
    if not p.exists():
        return None
    mode = p.stat().st_mode & 0o077
    if mode:
        raise EdgeError('%s is readable by others (mode %o): chmod 600 %s' % (p, p.stat().st_mode & 0o777, p), 2)
    try:
        return json.loads(p.read_text())
    except ValueError:
        raise EdgeError('%s is not valid JSON' % p, 2)


def ensure(site_path, devices):
    """Create or complete the secrets file: a unique credential and command key for every
    device (never a default). Returns (secrets, names of devices added)."""
    p = path_for(site_path)
    s = load(site_path) or {'devices': {}, 'room': {'user': ROOM_USER, 'password': _random.token_urlsafe(18)}}
    added = []
    migrated = s.pop('fire_key', None) is not None   # the old shared fire key: resets use each device's key now
    for d in devices:
        if d == s['room']['user'] or d in s.get('operators', {}):
            raise EdgeError('device %r has the name of a control-room login on this site: rename the device' % d, 2)
        if d not in s['devices']:
            s['devices'][d] = {'mqtt_password': _random.token_urlsafe(18), 'cmd_key': _random.token_hex(32)}
            added.append(d)
    if added or migrated or not p.exists():
        _save(p, s)
    return s, added


def save(site_path, s):
    """Write the site's secrets back (0600, kept out of git)."""
    _save(path_for(site_path), s)


def _save(p, s):
    fd = os.open(str(p) + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(s, f, indent=1)
    os.replace(str(p) + '.tmp', p)
    os.chmod(p, 0o600)
    ignore = p.parent / '.gitignore'
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    if '*.secrets.json' not in lines:
        ignore.write_text('\n'.join(lines + ['*.secrets.json']) + '\n')


OPERATOR = re.compile(r'[A-Za-z][A-Za-z0-9_.-]{0,31}')
RESERVED = ('system', ROOM_USER)


def set_operator(site_path, name, passwd_hash):
    """Add (or change the password of) an operator's control-room login; passwd_hash is
    mosquitto's hash of the password (host/broker.py: hash_password)."""
    s = load(site_path)
    if s is None:
        raise EdgeError('no secrets beside %s: run `edgectl broker --site %s --secure` first' % (site_path, site_path), 2)
    if not OPERATOR.fullmatch(name) or name in RESERVED:      # fullmatch: '$' would let 'ann\n' through
        raise EdgeError('operator name %r: a letter, then letters, digits, _ . - (up to 32)' % name, 2)
    if name in s['devices'] or name == s['room']['user']:
        raise EdgeError('%r is already a login on this site (a device or the control room): pick another name' % name, 2)
    ops = s.setdefault('operators', {})
    changed = name in ops
    ops[name] = {'passwd': passwd_hash, 'set': int(time.time())}
    _save(path_for(site_path), s)
    return changed


def remove_operator(site_path, name):
    s = load(site_path) or {}
    if name not in s.get('operators', {}):
        raise EdgeError('no operator %r on this site (have: %s)' % (name, ', '.join(sorted(s.get('operators', {})))
                                                                   or 'none'), 2)
    del s['operators'][name]
    _save(path_for(site_path), s)


def operators(secrets):
    return sorted((secrets or {}).get('operators', {}))


def board_file(secrets, device):
    """secrets.json for one board: its MQTT login and its own key (signed commands and its
    fire resets); nothing shared with another board."""
    d = (secrets or {}).get('devices', {}).get(device)
    if not d:
        return None
    return {'mqtt_user': device, 'mqtt_password': d['mqtt_password'], 'cmd_key': d['cmd_key']}


def cmd_key(secrets, device):
    d = (secrets or {}).get('devices', {}).get(device)
    return bytes.fromhex(d['cmd_key']) if d else None
