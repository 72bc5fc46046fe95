"""The front desk's card list: every credential of the site, kept beside the site file
(<site>.cards.json, 0600, like the secrets) and never a card's number: a card is its salted
hash (protocols/cardrec.py), shown as its last digits. Each change raises the list's
version; a board holds a version of it on flash (firmware/cardstore.py) and is sent what
changed since its own as a delta in parts, each a `cards` system command signed with that
board's own key (a stolen board's key signs nothing another board takes)."""
import contextlib
import datetime
import json
import os
import re
import secrets as _random
import threading
import time
import uuid
from pathlib import Path

from ..core.errors import EdgeError
from ..core.proto import cardrec, topics

SIGNED_AS = '_cards'     # firmware/cardsync.py: the same name
PART = 16                # records per part: ~1.5 KB as a message (a board takes 2 KB)
WINDOW = 8               # parts sent ahead of their acks
STATES = ('active', 'revoked', 'lost')
CARD = re.compile(r'(?:(W26|W34):)?(\d{1,10})')
ALL_DAY = (0, 0, 0)
REF = 8                  # a card's reference: the first hex digits of its key (as listed)


def path_for(site_path):
    p = Path(site_path)
    return p.with_name(p.stem + '.cards.json')


def card_text(card):
    """'W26:1234567' from 'W26:1234567', 'w34:42' or '1234567' (26 bit); EdgeError (2) else."""
    m = CARD.fullmatch(str(card).strip().upper())
    if not m:
        raise EdgeError('card %r: give its number, as printed or read (1234567, W26:1234567 or W34:...)' % card, 2)
    fmt = m.group(1) or 'W26'
    v = int(m.group(2))
    if v >= 1 << (24 if fmt == 'W26' else 32):
        raise EdgeError('card %s: a %s card number is 0..%d' % (card, fmt, (1 << (24 if fmt == 'W26' else 32)) - 1), 2)
    return '%s:%d' % (fmt, v)


def when(v):
    """Seconds since 1970 from '2026-12-01' or '2026-12-01T08:00' (UTC unless it names an offset)."""
    if v is None:
        return 0
    try:
        t = datetime.datetime.fromisoformat(v)
    except ValueError:
        raise EdgeError('%r is not a date or time like 2026-12-01 or 2026-12-01T08:00' % v, 2)
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    ts = int(t.timestamp())
    if not 0 <= ts < 1 << 32:       # a record holds it in 32 bits: beyond, every delta after it would fail
        raise EdgeError('%r is outside 1970-01-01..2106-02-07, what a board can hold' % v, 2)
    return ts


class CardDB:
    def __init__(self, site_path):
        self.site_path = site_path
        self.path = path_for(site_path)
        if self.path.exists():
            if self.path.stat().st_mode & 0o077:
                raise EdgeError('%s is readable by others: chmod 600 %s' % (self.path, self.path), 2)
            try:
                d = json.loads(self.path.read_text())
            except ValueError:
                raise EdgeError('%s is not valid JSON' % self.path, 2)
        else:
            d = {'salt': _random.token_hex(16), 'version': 0, 'holders': {}, 'cards': {}, 'boards': {}}
        self.d = d
        self.salt = bytes.fromhex(d['salt'])

    @property
    def version(self):
        return self.d['version']

    def save(self):
        tmp = str(self.path) + '.tmp'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            json.dump(self.d, f, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    # --- the list ----------------------------------------------------------------------
    def key(self, card):
        return cardrec.key(self.salt, card_text(card)).hex()

    def holder_id(self, name):
        h = self.d['holders']
        if name not in h:
            h[name] = max(h.values(), default=0) + 1
        return h[name]

    def holder_name(self, hid):
        for n, i in self.d['holders'].items():
            if i == hid:
                return n
        return None

    def _bump(self):
        self.d['version'] += 1
        return self.d['version']

    def issue(self, card, holder, groups, vfrom=0, until=0, window=ALL_DAY, uses=None, pin=None):
        """Add a card or change one (the same card again); returns its record."""
        text = card_text(card)
        k = cardrec.key(self.salt, text)
        if not holder:
            raise EdgeError('a card needs its holder (--holder NAME)', 2)
        if not groups:
            raise EdgeError('a card needs the doors it opens (--doors DEVICE/CTRL,... or --groups N,...)', 2)
        if until and vfrom and until <= vfrom:
            raise EdgeError('--until must be after --from', 2)
        if uses is not None and not 0 <= uses < cardrec.UNLIMITED:
            raise EdgeError('--uses is 0..%d' % (cardrec.UNLIMITED - 1), 2)
        if pin is not None and not (pin.isdigit() and 4 <= len(pin) <= 8):
            raise EdgeError('a PIN is 4 to 8 digits', 2)
        old = self.d['cards'].get(k.hex(), {})
        rec = {'last': text[4:][-4:], 'fmt': text[:3], 'holder': self.holder_id(holder), 'groups': groups,
               'from': vfrom, 'until': until, 'window': list(window),
               'uses': uses, 'uses_rev': (old.get('uses_rev', 0) + (uses is not None)) % 256,
               'pin': cardrec.pin_hash(self.salt, k, pin) if pin else None, 'state': 'active',
               'issued': int(time.time()), 'ver': self._bump()}
        self.d['cards'][k.hex()] = rec
        return k.hex(), rec

    def set_state(self, card, state):
        return self.set_state_key(self.has(card), state)

    def set_state_key(self, k, state):
        rec = self.d['cards'][k]
        rec['state'] = state
        rec['ver'] = self._bump()
        return k, rec

    def find(self, ref):
        """The key of a card by its reference (the first REF or more hex digits of its key, as
        listed); EdgeError (1) when no card has it, (2) when it is not one or names several."""
        ref = ref.strip().lower() if isinstance(ref, str) else ''
        if not REF <= len(ref) <= 64 or any(c not in '0123456789abcdef' for c in ref):
            raise EdgeError('a card reference is %d to 64 hex digits, as listed' % REF, 2)
        hits = [k for k in self.d['cards'] if k.startswith(ref)]
        if not hits:
            raise EdgeError('no card with reference %s' % ref, 1)
        if len(hits) > 1:
            raise EdgeError('reference %s names %d cards: give more of it' % (ref, len(hits)), 2)
        return hits[0]

    def has(self, card):
        """The key of a card by its number; EdgeError (1) when it is not in the list."""
        k = self.key(card)
        if k not in self.d['cards']:
            raise EdgeError('no card %s in %s' % (card_text(card), self.path.name), 1)
        return k

    def rows(self):
        """Every card for a listing: (key, record with the holder's name)."""
        out = []
        for k, r in sorted(self.d['cards'].items(), key=lambda kv: (self.holder_name(kv[1]['holder']) or '', kv[0])):
            out.append(dict(r, card=k, holder_name=self.holder_name(r['holder'])))
        return out

    def packed(self, k, r):
        pin = r.get('pin')
        b = bytearray(cardrec.pack(bytes.fromhex(k), r['holder'], r['groups'], r['from'], r['until'],
                                   r['window'][0], r['window'][1], r['window'][2],
                                   cardrec.UNLIMITED if r['uses'] is None else r['uses'],
                                   STATES.index(r['state']), uses_rev=r['uses_rev']))
        if pin is not None:
            b[cardrec.O_FLAGS] |= cardrec.F_PIN
            b[32:36] = pin.to_bytes(4, 'big')
        return bytes(b)

    def delta(self, since):
        """(from, to, parts): what a board at version `since` needs (0 or unknown: everything)."""
        if since > self.version or since < 0:
            since = 0
        recs = sorted(self.packed(k, r) for k, r in self.d['cards'].items() if since == 0 or r['ver'] > since)
        parts = [recs[i:i + PART] for i in range(0, len(recs), PART)] or [[]]
        return since, self.version, parts


# --- sending deltas ------------------------------------------------------------------------
def reader_devices(site):
    """{device: [(ctrl, access_group)]} of the site's controllers with a card reader."""
    out = {}
    for dev, d in site.devices.items():
        for c in d.get('controllers', []):
            if 'reader_d0' in c.get('pins', {}):
                out.setdefault(dev, []).append((c['name'], c.get('access_group', 0)))
    return out


def groups_of(site, doors):
    """The group mask of 'DEVICE/CTRL' names (each must have a reader)."""
    rd = reader_devices(site)
    mask = 0
    for d in doors:
        dev, _, ctrl = d.partition('/')
        hit = [g for c, g in rd.get(dev, []) if c == ctrl]
        if not hit:
            have = ['%s/%s' % (x, c) for x, cs in sorted(rd.items()) for c, g in cs]
            raise EdgeError('%s is not a door or barrier with a card reader in the site file (have: %s)' % (
                d, ', '.join(have) or 'none'), 2)
        mask |= 1 << hit[0]
    return mask


HAS = re.compile(r'this board has (\d+)')


class Sender:
    """One board's MQTT session for the parts of a delta: each signed, each acknowledged."""

    def __init__(self, ep, site, device, key):
        self.site, self.device, self.key = site, device, key
        self.acks = {}
        self.cond = threading.Condition()
        self.c = ep.connect('cards', on_message=self._on, subscribe=[topics.ack(site, device, 'system')])

    def _on(self, client, userdata, msg):
        try:
            a = json.loads(msg.payload)
        except ValueError:
            return
        if isinstance(a, dict):
            with self.cond:
                self.acks[a.get('id')] = a
                self.cond.notify_all()

    def post(self, args):
        """Publish one part, signed with a counter that rises by at least one per part (parts
        go out faster than one a millisecond); its command id."""
        from ..core.proto import signing
        cid = 'k-%s' % uuid.uuid4().hex[:10]
        self.ctr = max(getattr(self, 'ctr', 0) + 1, int(time.time() * 1000))
        body = dict(args, id=cid, op='cards', ctr=self.ctr)
        body['sig'] = signing.sign(self.key, self.device, SIGNED_AS, body)
        self.c.publish(topics.cmd(self.site, self.device, 'system'), json.dumps(body), qos=1)
        return cid

    def wait(self, cid, timeout):
        end = time.monotonic() + timeout
        with self.cond:
            while cid not in self.acks:
                left = end - time.monotonic()
                if left <= 0:
                    raise EdgeError('no answer from %s within %.0f s (online?)' % (self.device, timeout), 1)
                self.cond.wait(left)
            return self.acks.pop(cid)

    def send(self, args, timeout):
        return self.wait(self.post(args), timeout)

    def close(self):
        from ..core import mqttc
        mqttc.close(self.c)


def push(db, device, ep, site, key, timeout=5.0):
    """Bring one board to the list's version (from the version we last saw it take; a board
    at another one is sent what it lacks from there, or everything); returns the version
    it has now (`ep`: the broker, an mqttc.Endpoint). EdgeError (1) when it refuses or does not
    answer."""
    if key is None:
        raise EdgeError('%s has no key in the site secrets: card updates are signed (edgectl broker --secure, '
                        'then edgectl flash)' % device, 1)
    since = db.d['boards'].get(device, 0)
    if since == db.version and since:
        return since
    s = Sender(ep, site, device, key)
    try:
        for attempt in (1, 2):
            frm, to, parts = db.delta(since)
            res = _part(s, frm, to, len(parts), 0, parts[0], db, timeout)     # it says if it has `frm`
            sent = []       # then the rest WINDOW ahead of their acks (in order: one MQTT session)
            for i in range(1, len(parts)):
                if res is not True:
                    break
                sent.append((i, s.post(_args(frm, to, len(parts), i, parts[i], db))))
                if len(sent) >= WINDOW or i == len(parts) - 1:
                    while sent and res is True:
                        j, cid = sent.pop(0)
                        res = _verdict(s, s.wait(cid, timeout), j)
            if res is True:
                db.d['boards'][device] = to
                return to
            since = res if res <= db.version else 0     # the board is at another version: from there
        raise EdgeError('%s did not take the card list (it has version %d)' % (device, res), 1)
    finally:
        s.close()


def push_all(db, devices, ep, site, sec, timeout):
    """Bring each of `devices` to the list's version, all at once (a revocation reaches a
    site's boards together); ({device: version}, {device: why not})."""
    from concurrent.futures import ThreadPoolExecutor
    from ..core import secrets
    done, failed = {}, {}

    def one(dev):
        try:
            done[dev] = push(db, dev, ep, site, secrets.cmd_key(sec, dev), timeout)
        except EdgeError as e:
            failed[dev] = str(e)
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, sorted(devices)))
    return done, failed


def save_boards(db, done):
    """Note the versions the boards took ({device: version}) in the list as it is in its file
    now (re-read, held): a change another desk saved during the push is kept, not overwritten
    by this desk's older copy."""
    if not done:
        return
    with locked(db.site_path):
        now = CardDB(db.site_path)
        for d, v in done.items():      # a slower push never writes back an older version
            have = now.d['boards'].get(d)
            now.d['boards'][d] = v if not isinstance(have, int) or not isinstance(v, int) else max(v, have)
        now.save()
        db.d['boards'].update(now.d['boards'])


@contextlib.contextmanager
def locked(site_path):
    """The card list held by this process while a change is read, made and saved (a lock
    file beside it): two desks changing it at once do not lose one another's change."""
    import fcntl
    p = path_for(site_path)
    fd = os.open(str(p.with_name(p.name + '.lock')), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _args(frm, to, n, i, recs, db):
    args = {'from': frm, 'to': to, 'parts': n, 'part': i, 'recs': b''.join(recs).hex()}
    if frm == 0 and i == 0:
        args['salt'] = db.salt.hex()
    return args


def _part(s, frm, to, n, i, recs, db, timeout):
    """True when the part was taken; the board's version when it is at another one."""
    return _verdict(s, s.send(_args(frm, to, n, i, recs, db), timeout), i)


def _verdict(s, ack, i):
    if ack.get('ok'):
        return True
    err = ack.get('err') or ''
    m = HAS.search(err)
    if m and i == 0:
        return int(m.group(1))
    raise EdgeError('%s refused the card update: %s' % (s.device, err), 1)
