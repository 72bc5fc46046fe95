# Card store updates: the `cards` system command carries a versioned delta from the front
# desk, signed with this board's own key (pseudo controller `_cards`, protocols/signing.py;
# a board without a key takes none). A delta from version F to T comes in parts 0..n-1,
# each a signed command with records in key order (hex, protocols/cardrec.py); the board
# merges them with its store (F > 0) into cards.new and renames it to cards.db after the
# last part: a power cut or a refused part leaves the previous version whole. Loaded for
# each part, then dropped (config.once).
import os
import binascii
import cardrec
import cardstore
from cardrec import HDR, REC, O_APB, O_USES, O_UREV, O_FLAGS, DELETE
from clock import wall_ms
from ctrl_base import short

NEW = 'cards.new'
SIGNED_AS = '_cards'
MAX_PARTS = 2000


def command(app, args, cid):
    """(refusal or None, ack state or None) for one part."""
    if app.key is None:
        return 'card updates must be signed and this board has no key (secrets.json: edgectl flash)', None
    if not _has_reader(app):
        return 'no card reader on this board (pins reader_d0, reader_d1)', None
    fields = dict(args)
    fields['id'] = cid
    fields['op'] = 'cards'
    import command as cmd
    err, app.cards_ctr = cmd.verify(app.key, app.device, SIGNED_AS, fields, wall_ms(), 'cards_ctr.json',
                                    getattr(app, 'cards_ctr', 0))
    if err:
        return err, None
    st = cardstore.get()
    try:
        err = part(app, st, args)
    except (OSError, ValueError) as e:
        err = 'card update failed: %s' % short(e)
    if err:
        app.cards_pending = None
        _remove(NEW)
        return err, {'cards': st.version}
    return None, {'cards': st.version, 'part': args['part']}


def _has_reader(app):
    for name in app.ctrls:
        if app.ctrls[name].access is not None:
            return True
    return False


def _int(args, k, lo, hi):
    v = args.get(k)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ValueError("'%s' must be a whole number %d..%d" % (k, lo, hi))
    return v


def part(app, st, a):
    frm = _int(a, 'from', 0, 0xFFFFFFFE)
    to = _int(a, 'to', frm + 1, 0xFFFFFFFF)
    n = _int(a, 'parts', 1, MAX_PARTS)
    p = _int(a, 'part', 0, n - 1)
    hexrecs = a.get('recs', '')
    if not isinstance(hexrecs, str) or len(hexrecs) % (2 * REC):
        return "'recs' must be whole records in hex (%d bytes each)" % REC
    recs = binascii.unhexlify(hexrecs)
    pend = getattr(app, 'cards_pending', None)
    if p == 0:
        if frm and frm != st.version:       # (from 0: the whole list, whatever the board had)
            return 'delta from version %d: this board has %d' % (frm, st.version)
        salt = st.salt
        if frm == 0:
            salt = a.get('salt')
            if not isinstance(salt, str) or len(salt) != 32:
                return "a delta from version 0 carries the site's 'salt' (16 bytes, hex)"
            salt = binascii.unhexlify(salt)
        _remove(NEW)
        with open(NEW, 'wb') as f:
            f.write(cardrec.header(0, 0, salt))       # the real header after the last part
        pend = app.cards_pending = {'from': frm, 'to': to, 'n': n, 'next': 0, 'pos': 0, 'count': 0,
                                    'last': b'', 'salt': salt}
    elif pend is None or pend['to'] != to or pend['from'] != frm or pend['n'] != n or pend['next'] != p \
            or frm and st.version != frm:
        return 'part %d of delta %d->%d out of order: send it again from part 0' % (p, frm, to)
    _merge(st, pend, recs)
    pend['next'] = p + 1
    if p == n - 1:
        if frm:
            _merge(st, pend, None)      # the rest of the old store
        with open(NEW, 'r+b') as f:
            f.write(cardrec.header(to, pend['count'], pend['salt']))
        os.rename(NEW, cardstore.PATH)      # the one step that changes the version
        app.cards_pending = None
        st.load()
        for name in app.ctrls:              # their states carry the new version
            if app.ctrls[name].access is not None:
                app.dirty[name] = True
        if app.wake:
            app.wake()
    return None


def _merge(st, pend, recs):
    """Append the part's records (None: the old store's rest) to cards.new, with the old
    records before each; a record replacing an old one keeps the board's anti-passback
    state, and its uses left when the front desk did not set them anew (same uses_rev)."""
    old = open(cardstore.PATH, 'rb') if pend['from'] else None
    out = open(NEW, 'ab')
    try:
        buf = bytearray(REC)
        count = st.count if old else 0
        pos = pend['pos']
        n = len(recs) // REC if recs is not None else 0
        for j in range(n):
            r = bytearray(recs[j * REC:(j + 1) * REC])
            k = bytes(r[:8])
            if k <= pend['last']:
                raise ValueError('records must come in rising key order, each once')
            pend['last'] = k
            while pos < count:
                old.seek(HDR + pos * REC)
                old.readinto(buf)
                if bytes(buf[:8]) >= k:
                    break
                out.write(buf)
                pend['count'] += 1
                pos += 1
            if pos < count and bytes(buf[:8]) == k:
                pos += 1
                r[O_APB] = buf[O_APB]
                if r[O_UREV] == buf[O_UREV]:
                    r[O_USES] = buf[O_USES]
                    r[O_USES + 1] = buf[O_USES + 1]
            if r[O_FLAGS] & 3 != DELETE:
                out.write(r)
                pend['count'] += 1
        if recs is None:
            while pos < count:
                old.seek(HDR + pos * REC)
                old.readinto(buf)
                out.write(buf)
                pend['count'] += 1
                pos += 1
        pend['pos'] = pos
    finally:
        out.close()
        if old:
            old.close()


def _remove(p):
    try:
        os.remove(p)
    except OSError:
        pass
