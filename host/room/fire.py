"""Site-wide fire linkage from the control room (`edgectl fire`). Boards with a fire input
raise the site's fire state on their own retained raise topic (no other board may: the
ACL, `raisers`); every board then releases its doors and opens its barriers. Only a reset
from here ends it: one retained message per board, signed with that board's own key, so a
stolen board's key makes a reset for that board only (firmware/fire.py has the rule)."""
import json
import time

from ..core.errors import EdgeError
from ..core.proto import signing, topics

CTRL = '_site/fire'       # what a reset's signature covers besides the board's name
ROOM = '_room'            # the control room's own raise (`edgectl fire set`): never a device name


def raisers(site):
    """Devices of a Site that wire a `fire` input: the only boards allowed to raise."""
    return sorted(d for d, dev in site.devices.items()
                  if any('fire' in (c.get('pins') or {}) for c in dev.get('controllers') or []))


def raise_message(site, by, now_ms=None):
    """(topic, payload) of the control room's raise: newer than every reset sent before now."""
    now_ms = now_ms or int(time.time() * 1000)
    return topics.fire_raise(site, ROOM), json.dumps({'active': True, 'by': by, 'ts': now_ms,
                                                             'after': now_ms})


def reset_messages(site, devices, by, keys=None, now_ms=None):
    """[(topic, payload)]: the reset record for control rooms, then one reset per device,
    signed with that device's key when `keys` (device -> key bytes) has one."""
    ctr = now_ms or int(time.time() * 1000)
    out = [(topics.site_fire(site), json.dumps({'active': False, 'by': by, 'ts': ctr, 'ctr': ctr}))]
    for dev in devices:
        body = {'active': False, 'by': by, 'ctr': ctr}
        key = (keys or {}).get(dev)
        if key:
            body['sig'] = signing.sign(key, dev, CTRL, body)
        out.append((topics.fire_reset(site, dev), json.dumps(body)))
    return out


def messages(site, active, by, devices=(), keys=None):
    return [raise_message(site, by)] if active else reset_messages(site, devices, by, keys)


AHEAD_MS = 5000     # a raise's `after` (a reset counter: the control room's clock in ms) may not be further ahead


def clamp_after(msg, now_ms):
    """A raise whose `after` is ahead of the clock (forged: no reset can be that new yet) is
    taken as raised now, so the control room's next reset still ends it (firmware/fire.py
    does the same on the boards)."""
    a = msg.get('after')
    if isinstance(a, int) and not isinstance(a, bool) and a > now_ms + AHEAD_MS:
        return dict(msg, after=int(now_ms))
    return msg


class SiteState:
    """The site fire state as the control room derives it from the retained raises and the
    last reset record, by the boards' rule: in fire while a raise is not older than the
    newest reset."""

    def __init__(self):
        self.reset = None      # the last reset record
        self.raises = {}       # who -> raise

    def update(self, who, raw):
        """A message (raw or parsed) on _site/fire (who None: the reset record) or
        _site/fire/WHO (a raise); returns the state now (see state())."""
        msg = raw
        if isinstance(raw, (bytes, str)):
            try:
                msg = json.loads(raw) if raw else None
            except ValueError:
                msg = None
        if not isinstance(msg, dict):
            msg = None
        if who is None:
            self.reset = msg if msg is not None and msg.get('active') is False else None
        elif msg is not None and msg.get('active') is True:
            self.raises[who] = clamp_after(msg, time.time() * 1000)
        # a raise deleted on the broker (or a malformed one) changes nothing, as on the boards:
        # the state holds until a reset newer than the newest raise
        return self.state()

    def state(self):
        """{"active", "by", "ts"}: the newest raise in force, else the last reset; None when
        nothing was ever published."""
        ctr = (self.reset or {}).get('ctr')
        ctr = ctr if isinstance(ctr, int) else 0
        live = [r for r in self.raises.values() if isinstance(r.get('after'), int) and r['after'] >= ctr]
        if live:
            r = max(live, key=lambda r: r['ts'] if isinstance(r.get('ts'), int) else 0)
            return {'active': True, 'by': r.get('by'), 'ts': r.get('ts'), 'raised_by': sorted(str(x.get('by')) for x in live)}
        if self.reset:
            return {'active': False, 'by': self.reset.get('by'), 'ts': self.reset.get('ts')}
        return None


def who_of(site, topic):
    """The raiser named by a raise topic, None for the reset record, '' for neither."""
    pre = topics.fire_raise(site, '')
    if topic.startswith(pre):
        return topic[len(pre):]
    return None if topic == topics.site_fire(site) else ''


def status(ep, site, timeout=2.0, quiet=0.3):
    """The site fire state now (SiteState.state()), from the retained messages."""
    col = ep.collector([topics.site_fire(site), topics.fire_raise(site, '+')], 'fire')
    try:
        end = time.monotonic() + timeout
        n = -1
        while time.monotonic() < end and n != len(col.msgs):   # until no more retained ones arrive
            n = len(col.msgs)
            time.sleep(quiet)
        st = SiteState()
        for _, t, p, _ in list(col.msgs):
            st.update(who_of(site, t), p)
        return st.state()
    finally:
        col.close()


def publish(ep, site, active, by, devices=(), timeout=10.0, keys=None):
    """Raise (active) or reset the site fire state, retained; wait for each listed device to
    apply it (its system.site_fire event). Returns {device: True/False applied}. A reset goes
    to `devices` only, each signed with its key from `keys` when there is one."""
    if not by:
        raise EdgeError('say who you are: --by NAME (kept with the fire state and in the journal)', 2)
    if not active and not devices:
        raise EdgeError('a fire reset names the boards it resets: the site file lists none', 2)
    col = ep.collector([topics.base(site, '+') + 'evt/system'], 'fire')
    try:
        m = col.mark()
        for t, p in messages(site, active, by, devices, keys):
            col.client.publish(t, p, qos=1, retain=True).wait_for_publish(5)
        applied = {}
        end = time.monotonic() + timeout
        for dev in devices:
            r = col.wait(lambda t, p: t == topics.evt(site, dev, 'system') and isinstance(p, dict)
                         and p.get('type') == 'system.site_fire' and p.get('active') == active,
                         max(0.0, end - time.monotonic()), m)
            applied[dev] = r is not None
        return applied
    finally:
        col.close()
