"""The card desk of `edgectl web`: the site's card list, issue / revoke / lost / restore and
the recent swipes, done by the code of `edgectl cards` (host/room/cards.py and its verbs:
the same checks, the same file, the same signed deltas to the boards), as the session's
operator, each change journaled (Store.action: card_issue, card_revoke, card_lost,
card_restore; card_push for a push alone) with the card's reference and what the boards
took. A card is shown as the CLI shows it: its reference (the first hex digits of its
salted hash), its last digits; never its number, its hash in full or its PIN."""
import argparse
import threading

from ...core.errors import EdgeError
from .. import cards
from .hub import ActionError

STATES = {'revoke': 'revoked', 'lost': 'lost', 'restore': 'active'}
TEXT_MAX = 64            # a holder's name, a door's name, a date, days, hours
LIST_MAX = 64            # doors or groups in one card
SWIPES = 200
PUSH_TIMEOUT_S = 3.0


class CardDesk:
    def __init__(self, site_path, site, store=None, ep=None, secrets=None, timeout=PUSH_TIMEOUT_S):
        """ep: the broker (mqttc.Endpoint) and secrets: the site's, to push to the boards as
        `edgectl cards push` does (None: the page says a push is needed, and how)."""
        self.site_path, self.site, self.store = site_path, site, store
        self.ep, self.secrets, self.timeout = ep, secrets, timeout
        self.lock = threading.Lock()       # this process's pages; cards.locked: other processes

    @property
    def can_push(self):
        return self.ep is not None and self.secrets is not None

    def _db(self):
        try:
            return cards.CardDB(self.site_path)
        except EdgeError as e:
            raise ActionError(str(e), 500)

    def _doors(self, mask):
        """The 'DEVICE/CTRL' readers of a group mask (those of the site file), the rest as numbers."""
        rd = cards.reader_devices(self.site)
        names = ['%s/%s' % (d, c) for d in sorted(rd) for c, g in rd[d] if mask >> g & 1]
        named = 0
        for d in rd:
            for c, g in rd[d]:
                named |= 1 << g
        return names, [g for g in range(32) if mask >> g & 1 and not named >> g & 1]

    # --- what the tab shows ----------------------------------------------------------------
    def listing(self):
        db = self._db()
        rows = []
        for r in db.rows():
            doors, groups = self._doors(r['groups'])
            rows.append({'ref': r['card'][:cards.REF], 'last': r['last'], 'fmt': r['fmt'], 'holder': r['holder_name'],
                         'state': r['state'], 'from': r['from'] or None, 'until': r['until'] or None,
                         'window': r['window'], 'uses': r['uses'], 'pin': r.get('pin') is not None,
                         'doors': doors, 'groups': groups, 'version': r['ver']})
        rd = cards.reader_devices(self.site)
        return {'version': db.version, 'cards': rows, 'readers': ['%s/%s' % (d, c) for d in sorted(rd) for c, g in rd[d]],
                'boards': {d: db.d['boards'].get(d) for d in sorted(rd)}, 'can_push': self.can_push,
                'push_command': self._push_command()}

    def swipes(self, limit=SWIPES):
        """The latest swipes, newest first: when, where, granted or denied, why, whose card."""
        if self.store is None:
            raise ActionError('this web runs without a journal (--no-journal)', 404)
        self.store.flush(5)
        db = self._db()
        out = []
        for e in self.store.query(etype='access.%ed', limit=limit, newest=True):     # granted, denied
            key = e.get('card') if isinstance(e.get('card'), str) else ''
            rec = db.d['cards'].get(key, {})
            holder = e.get('holder') if isinstance(e.get('holder'), int) else rec.get('holder')
            out.append({'t': e.get('received'), 'device': e.get('device'), 'ctrl': e.get('ctrl'),
                        'decision': str(e.get('type', '')).split('.', 1)[-1], 'reason': e.get('reason'),
                        'by': e.get('by'), 'ref': key[:cards.REF] or None, 'last': rec.get('last'),
                        'holder': db.holder_name(holder) if holder is not None else None})
        return out

    # --- what the desk does ----------------------------------------------------------------
    def issue(self, op, body):
        """Issue a card or change one, as `edgectl cards issue` (by verbs_cards._issue)."""
        a = argparse.Namespace(card=_text(body, 'card', 20, True), holder=_text(body, 'holder', TEXT_MAX, True),
                               doors=_list(body, 'doors', str), groups=_list(body, 'groups', int),
                               vfrom=_text(body, 'from'), until=_text(body, 'until'), days=_text(body, 'days'),
                               hours=_text(body, 'hours'), uses=_uses(body), pin=False)
        from ..verbs_cards import _issue

        def change(db):
            try:
                old = db.d['cards'].get(db.key(a.card))
            except EdgeError as e:
                raise ActionError(str(e), 400)
            if old is not None and old.get('pin') is not None:
                raise ActionError('this card has a PIN: change it at the desk\'s terminal (edgectl cards issue '
                                  '--pin), which asks for the PIN again', 409)
            return _issue(db, self.site, a)
        return self._change(op, 'card_issue', change)

    def set_state(self, op, action, body):
        """revoke, lost or restore a card named by its reference (from the list) or number."""
        state = STATES[action]
        ref, number = body.get('ref'), body.get('card')
        if (ref is None) == (number is None):
            raise ActionError('name the card by its reference (ref) or its number (card)', 400)

        def change(db):
            k = db.find(ref) if ref is not None else db.has(_text(body, 'card', 20, True))
            return db.set_state_key(k, state)
        return self._change(op, 'card_' + action, change)

    def push(self, op):
        """Send the boards what they lack (as `edgectl cards push`)."""
        db = self._db()
        out = self._push(db)
        self._journal(op, 'card_push', dict(version=db.version, **out))
        return dict(out, version=db.version)

    def _change(self, op, action, change):
        """Read the list, change it, save it (held against other desks), journal it, push it."""
        with self.lock, cards.locked(self.site_path):
            db = self._db()
            try:
                k, rec = change(db)
            except EdgeError as e:
                raise ActionError(str(e), 404 if e.code == 1 else 400)
            db.save()
        out = self._push(db)
        detail = dict(card=k[:cards.REF], last=rec['last'], holder=db.holder_name(rec['holder']), state=rec['state'],
                      version=db.version, **out)
        self._journal(op, action, detail)
        return detail

    def _push(self, db):
        """{'pushed': {device: version}, 'failed': {device: why}} or {'push': 'needed'} when this
        web cannot sign (the page shows the command)."""
        rd = cards.reader_devices(self.site)
        if not rd:
            return {'pushed': {}, 'failed': {}}
        if not self.can_push:
            return {'push': 'needed', 'command': self._push_command()}
        done, failed = cards.push_all(db, rd, self.ep, self.site.name, self.secrets, self.timeout)
        with self.lock:
            cards.save_boards(db, done)
        return {'pushed': done, 'failed': failed}

    def _push_command(self):
        return 'edgectl cards push --site %s' % self.site_path

    def _journal(self, op, action, detail):
        if self.store is not None:
            self.store.action(op, action, detail=detail)


def _text(body, k, most=TEXT_MAX, required=False):
    v = body.get(k)
    if v is None or v == '':
        if required:
            raise ActionError('%s is needed' % k, 400)
        return None
    if not isinstance(v, str) or len(v) > most or not v.isprintable() or not v.strip():
        raise ActionError('%s must be text of 1..%d printable characters' % (k, most), 400)
    return v.strip()


def _list(body, k, kind):
    """A list of names or numbers as `edgectl cards issue` takes it (comma-joined), or None."""
    v = body.get(k)
    if v is None or v == []:
        return None
    if not isinstance(v, list) or len(v) > LIST_MAX:
        raise ActionError('%s must be a list of at most %d' % (k, LIST_MAX), 400)
    for x in v:
        if kind is int and (isinstance(x, bool) or not isinstance(x, int) or not 0 <= x <= 31):
            raise ActionError('%s are numbers 0..31' % k, 400)
        if kind is str and (not isinstance(x, str) or not 0 < len(x) <= TEXT_MAX or ',' in x or not x.isprintable()):
            raise ActionError('%s are DEVICE/CTRL names' % k, 400)
    return ','.join(str(x) for x in v)


def _uses(body):
    v = body.get('uses')
    if v is None or v == '':
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ActionError('uses must be a whole number', 400)
    return v
