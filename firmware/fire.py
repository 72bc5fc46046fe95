# Site-wide fire linkage on one board (GB 50116-2013 4.10.3): while the site is in fire every
# door releases and every barrier opens and stays open.
#
#   raise  topics.fire_raise(site, who), retained, from a board with a fire input (the broker's
#          ACL lets no other board write one) or the control room: {"active": true, "after": R}
#          where R is the newest reset the raiser knew.
#   reset  topics.fire_reset(site, device), retained, from the control room, for this board only:
#          {"active": false, "ctr": C, "by", "sig"} signed with this board's own key (signing.py),
#          C rising (the control room's clock in ms). Another board's key cannot make it.
#
# The site is in fire once a raise is heard whose R is not older than the last reset this
# board accepted; only a newer reset for this board ends it, and not while a raise newer than
# that reset is known. The state and the last reset survive reboots (fire.json).
import json
import config
import signing
import topics
from clock import wall_ms

FILE = 'fire.json'
CTR_FILE = 'fire_ctr.json'
CTRL = '_site/fire'       # what a reset's signature covers besides this board's name


def _by(v, default):
    return v[:64] if isinstance(v, str) and v else default


def _int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class SiteFire:
    def __init__(self, site, device, key=None, path=FILE, ctr_path=CTR_FILE):
        self.path = path
        self.raises = topics.fire_raise(site, '')
        self.own = topics.fire_raise(site, device)
        self.reset_topic = topics.fire_reset(site, device)
        self.verifier = signing.Verifier(key, device, ctr_path) if key else None
        try:
            d = config.read_json(path)
        except (OSError, ValueError):
            d = None
        if not isinstance(d, dict):
            d = {}
        self.active = d.get('active') is True
        self.by = d.get('by')
        self.reset = d['reset'] if _int(d.get('reset')) else 0   # ctr of the last reset accepted
        self.newest = -1          # the newest R of the raises heard since boot
        self.seen = 0             # the newest reset seen for this board, taken or refused
        self.out = None           # this board's own raise, waiting to be published (its 'by')

    def subscriptions(self):
        """Raises first: the retained ones arrive before the reset, which is judged against them."""
        return (self.raises + '+', self.reset_topic)

    def handles(self, topic):
        return topic == self.reset_topic or topic.startswith(self.raises)

    def message(self, topic, payload):
        """A raise or a reset heard: (event fields for system.site_fire or None, why it was
        refused or None). self.active is the state afterwards."""
        if topic == self.reset_topic:
            return self._reset(payload)
        return self._raise(topic[len(self.raises):], payload)

    def _raise(self, who, payload):
        if not payload:
            return None, None     # a raise deleted on the broker: the state holds until a reset
        try:
            f = json.loads(payload)
            after = f.get('after')
            if f.get('active') is not True or not _int(after):
                raise ValueError
        except (ValueError, AttributeError, TypeError):
            return None, 'a fire raise is {"active": true, "after": N, "by": TEXT}'
        if after > self.newest:
            self.newest = after
        if self.active or after < self.reset:
            return None, None     # in fire already, or raised before the last reset accepted here
        return self._set(True, _by(f.get('by'), who)), None

    def _reset(self, payload):
        if not payload:
            return None, None
        try:
            f = json.loads(payload)
            ctr = f.get('ctr')
            if f.get('active') is not False or not _int(ctr) or ctr <= 0:
                raise ValueError
        except (ValueError, AttributeError, TypeError):
            return None, 'a fire reset is {"active": false, "ctr": N, "by": TEXT, "sig": HEX}'
        if ctr == self.reset:
            return None, None     # the retained copy of the reset accepted last
        if ctr > self.seen:       # the control room has reset up to here, whatever this board makes of it
            self.seen = ctr
        if self.verifier is not None:
            # no clock test: a retained reset waits on the broker for a board that was offline
            err = self.verifier.check(CTRL, f)
            if err:
                return None, err
        elif ctr < self.reset:
            return None, 'replayed or stale counter %d (last accepted %d)' % (ctr, self.reset)
        self.reset = ctr
        if self.newest >= ctr:    # a raise newer than this reset holds the fire state
            return self._set(True, self.by or 'a raise after the reset'), None
        return self._set(False, _by(f.get('by'), 'control room')), None

    def raise_own(self, by):
        """This board's fire input reports fire: the site is in fire here at once, and the raise
        waits to be published. Event fields, or None when the site was in fire already."""
        if self.active:
            return None
        self.out = by
        return self._set(True, by)

    def pending(self):
        """(topic, payload) of this board's raise to publish, or None. R is the newest reset
        seen, taken now: a raise the control room could not know of is newer than every reset it
        has sent, also one this board refused (a wrong key must not get its fires ignored)."""
        if self.out is None:
            return None
        after = self.seen if self.seen > self.reset else self.reset
        return self.own, json.dumps({'active': True, 'by': self.out, 'ts': wall_ms(), 'after': after})

    def sent(self):
        self.out = None

    def _set(self, active, by):
        self.active = active
        self.by = by
        try:
            config.write_json(self.path, {'active': active, 'by': by, 'reset': self.reset})
        except OSError:
            pass
        return {'active': active, 'by': by}
