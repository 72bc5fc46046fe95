"""Hypothesis over random card lists and swipes (CPython): the board's decision
(firmware/access.py on the store file) agrees with a model written from the rules in
docs/controllers.md; above all it never grants what the model denies, and a denied swipe
never releases the lock or uses up a use."""
import os
import tempfile

from hypothesis import given, settings, strategies as st

import cardrec as R
import readerframes as F
import wiegand as W
from clock import set_wall_ms

SALT = b'property-salt-16'
NOW = 1785000000            # a Saturday, 2026-07-25 (UTC)
DAY = 86400

card = st.fixed_dictionaries({
    'num': st.integers(0, 7),
    'state': st.sampled_from([R.ACTIVE, R.ACTIVE, R.REVOKED, R.LOST]),
    'groups': st.integers(0, 15),
    'vfrom': st.sampled_from([0, NOW - DAY, NOW + DAY]),
    'until': st.sampled_from([0, NOW + DAY, NOW - 1, NOW]),
    'days': st.sampled_from([0, 0x7f, 0x1f, 0x60]),
    'on': st.sampled_from([0, 480, 1200]),
    'off': st.sampled_from([0, 1080, 360]),
    'uses': st.sampled_from([R.UNLIMITED, 0, 1, 2]),
    'apb': st.sampled_from([0, 1, 2]),
})


def model(c, t, group, rdir):
    """The decision the rules give: None (granted) or the reason."""
    if c is None:
        return 'unknown'
    if c['state']:
        return R.STATES[c['state']]
    if c['vfrom'] and t < c['vfrom']:
        return 'not_yet_valid'
    if c['until'] and t >= c['until']:
        return 'expired'
    if not c['groups'] >> group & 1:
        return 'wrong_door'
    if c['days']:
        day, minute = (t // DAY + 3) % 7, (t % DAY) // 60
        on, off, m = c['on'], c['off'], c['days']
        if on < off:
            ok = on <= minute < off and m >> day & 1
        else:
            ok = minute >= on and m >> day & 1 or minute < off and m >> ((day + 6) % 7) & 1
        if not ok:
            return 'outside_hours'
    if rdir != 2 and c['uses'] == 0:
        return 'no_uses_left'
    if rdir and c['apb'] == rdir:
        return 'anti_passback'
    return None


# boundaries (a validity ending now, windows at 08:00 / 18:00 / midnight) and any time of a week
WHEN = st.one_of(st.sampled_from([0, 1, DAY - 1, DAY, 2 * DAY + 8 * 3600, 2 * DAY + 18 * 3600 - 1, 2 * DAY + 18 * 3600,
                                  3 * DAY + 6 * 3600 - 60, 3 * DAY + 20 * 3600]), st.integers(0, 7 * DAY))


@settings(max_examples=200, deadline=None)
@given(st.lists(card, max_size=12, unique_by=lambda c: c['num']),
       st.lists(st.tuples(st.integers(0, 8), st.integers(0, 3), st.integers(0, 2), WHEN), min_size=1, max_size=16))
def test_never_grants_what_the_rules_deny(cards, swipes):
    import door
    import access
    import cardstore
    top = os.getcwd()
    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        try:
            recs = sorted(R.pack(R.key(SALT, 'W26:%d' % c['num']), holder=c['num'] + 1, groups=c['groups'],
                                 vfrom=c['vfrom'], until=c['until'], days=c['days'], on=c['on'], off=c['off'],
                                 uses=c['uses'], state=c['state'], apb=c['apb']) for c in cards)
            with open('cards.db', 'wb') as f:
                f.write(R.header(1, len(recs), SALT))
                f.writelines(recs)
            by_num = {c['num']: dict(c) for c in cards}
            st_ = cardstore.Store()
            ctrls = {}
            for num, group, rdir, dt in swipes:
                if (group, rdir) not in ctrls:
                    c = door.Door('d', {'access_group': group, 'reader_dir': rdir, 'debounce_ms': 0})
                    c.access = access.Access(c, W.Wiegand('d.reader'), st_)
                    c.access.strangers.n = 1000     # (the unknown-card rate limit has its own case)
                    ctrls[(group, rdir)] = c
                c = ctrls[(group, rdir)]
                t = NOW + dt
                set_wall_ms(t * 1000)
                want = model(by_num.get(num), t, group, rdir)
                c.events = []
                c.lock = door.LOCKED
                c.out('lock', 1)
                r = c.access.r
                bits = F.card(26, num)
                for i, b in enumerate(bits):
                    r.bit(int(b), i * 2000)
                r.end()
                c.input('reader', 0, 0)
                got = [e for e in c.events if e[0].startswith('access.')]
                kinds = [e[0] for e in got]
                if want is None:
                    assert 'access.granted' in kinds, (num, group, rdir, t, got)
                    assert c.outputs['lock'] == 0
                    m = by_num[num]
                    if rdir != 2 and m['uses'] != R.UNLIMITED:
                        m['uses'] -= 1
                    if rdir:
                        m['apb'] = rdir
                else:
                    assert 'access.granted' not in kinds, ('granted what the rules deny', want, got)
                    assert got[0][2]['reason'] == want, (want, got)
                    assert c.outputs['lock'] == 1, 'a denied card released the lock'
        finally:
            os.chdir(top)
