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
#
# The linkage (FireLinkage) applies that state to the board's controllers without knowing any
# controller type: a controller class that sets FIRE_LINKED = True gets site_fire(active, now)
# at boot (when the site is in fire) and on every change of the state; one whose fire_input()
# is true raises the site's fire state from this board.
import json
import config
import strictjson
import command
import topics
from clock import wall_ms, ticks_ms
from ratelimit import RateLimit
from ctrl_base import SEV_WARN, SEV_INFO, short

FILE = 'fire.json'
CTRL = '_site/fire'       # what a reset's signature covers besides this board's name


class SiteFire:
    def __init__(self, site, device, key=None, path=FILE, ctr_path='fire_ctr.json'):
        self.path = path
        self.device = device
        self.raises = topics.fire_raise(site, '')
        self.reset_topic = topics.fire_reset(site, device)
        self.key = key
        self.ctr_path = ctr_path
        self.ctr = 0
        try:
            d = config.read_json(path)
            self.active = d.get('active') is True
            self.by = d.get('by')
            r = d.get('reset')
            self.reset = r if isinstance(r, int) and not isinstance(r, bool) else 0   # last reset accepted
        except (OSError, ValueError, AttributeError):
            self.active, self.by, self.reset = False, None, 0
        self.newest = -1          # the newest R of the raises heard since boot
        self.seen = 0             # the newest reset seen for this board, taken or refused
        self.out = None           # this board's own raise, waiting to be published (its 'by')

    def message(self, topic, payload):
        """A raise or a reset heard: (event fields for system.site_fire or None, why it was
        refused or None). self.active is the state afterwards."""
        if not payload:
            return None, None     # deleted on the broker: the state holds until a reset
        reset = topic == self.reset_topic
        try:
            f = strictjson.loads(payload)     # MicroPython's json alone takes '{"active" false}'
            n = f.get('ctr' if reset else 'after')
            if f.get('active') is not (not reset) or not isinstance(n, int) or isinstance(n, bool) \
                    or n < (1 if reset else 0):
                raise ValueError
        except (ValueError, AttributeError, TypeError):
            return None, 'malformed fire ' + ('reset' if reset else 'raise')
        by = f.get('by')
        by = by[:64] if isinstance(by, str) and by else None
        if not reset:
            t = wall_ms()
            if t > 1700000000000 and n > t + 5000:
                # ahead of this board's (set) clock: forged, no reset can be that new yet; taken
                # as raised now (fail-safe: in fire), so the control room's next reset ends it
                n = t
            if n > self.newest:
                self.newest = n
            if self.active or n < self.reset:
                return None, None     # in fire already, or raised before the last reset accepted here
            return self._set(True, by or topic[len(self.raises):]), None
        if n == self.reset:
            return None, None     # the retained copy of the reset accepted last
        if n > self.seen:         # the control room has reset up to here, whatever this board makes of it
            self.seen = n
        if self.key is not None:
            # no clock test: a retained reset waits on the broker for a board that was offline.
            # fire.json vouches for the last reset too (floor): a board whose counter copies are
            # lost (or a new board) still takes the control room's next reset. A replayed older
            # reset cannot end a newer fire: that fire's raise carries a newer 'after'.
            err, self.ctr = command.verify(self.key, self.device, CTRL, f, None, self.ctr_path, self.ctr,
                                           self.reset)
            if err:
                return None, err
        elif n < self.reset:
            return None, 'stale counter'
        self.reset = n
        if self.newest >= n:      # a raise newer than this reset holds the fire state
            return self._set(True, self.by), None
        return self._set(False, by or 'control room'), None

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
        return self.raises + self.device, json.dumps({'active': True, 'by': self.out, 'ts': wall_ms(),
                                                      'after': self.seen if self.seen > self.reset else self.reset})

    def _set(self, active, by):
        self.active = active
        self.by = by
        try:
            config.write_json(self.path, {'active': active, 'by': by, 'reset': self.reset})
        except OSError:
            pass
        return {'active': active, 'by': by}


class FireLinkage(SiteFire):
    """The site's fire state driving this board's controllers (app: the runtime, firmware/app.py)."""

    def __init__(self, app, key):
        SiteFire.__init__(self, app.site, app.device, key)
        self.app = app
        self.rejects = RateLimit(5, 10000)   # fire refusals: their own budget, not the commands'
        self.held = None    # a system.site_fire that found no heap: written on a later pass

    def join(self, ctrl):
        """A controller just wired: a linked one takes the last site fire state heard, even offline."""
        if self.active and ctrl.FIRE_LINKED:
            ctrl.site_fire(True, ticks_ms())

    def watch(self, ctrl):
        """After each run of a controller: its own fire detector puts the site into fire."""
        if self.held is not None:
            ev, self.held = self.held, None
            self._said(ev)
        if not self.active and ctrl.fire_input():
            self._changed(self.raise_own('%s/%s' % (self.device, ctrl.name)))

    def heard(self, topic, payload):
        """A raise or a reset heard on the site's fire topics."""
        ev, err = self.message(topic, payload)
        n = self.rejects.take(ticks_ms()) if err else -1   # a flood of them cannot fill the outbox
        if n >= 0:
            f = {'err': short(err)}
            if n:
                f['suppressed'] = n
            self.app.event('system.site_fire_rejected', SEV_WARN, f)
        self._changed(ev)

    def _changed(self, ev):
        """The fire state was set or a reset accepted: report it, apply it to every linked controller."""
        if ev is None:
            return
        app = self.app
        now = ticks_ms()
        for name in app.ctrls:      # the doors first: an event that finds no heap must not keep them locked
            ctrl = app.ctrls[name]
            if ctrl.FIRE_LINKED:
                app._run(ctrl, ctrl.site_fire, self.active, now)
        self._said(ev)

    def _said(self, ev):
        """system.site_fire, which the control room waits for (else it reports the board as not
        applying the fire state): one that finds no heap is held for a later pass."""
        try:
            self.app.event('system.site_fire', SEV_INFO, ev)
        except MemoryError:
            self.held = ev
