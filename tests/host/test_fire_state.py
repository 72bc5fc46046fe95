"""The control room's view of the site fire state (host/fire.py SiteState), by the boards'
rule: in fire while a raise is not older than the last reset; the monitor shows a change
once, not once per retained message."""
import json

from edgectl.room import fire
from edgectl.room.monitor import Monitor
from edgectl.core.proto import topics as T


def test_the_room_derives_the_state_as_the_boards_do():
    st = fire.SiteState()
    assert st.state() is None
    st.update('lobby-1', json.dumps({'active': True, 'by': 'lobby-1/front', 'ts': 5, 'after': 0}))
    assert st.state()['active'] is True and st.state()['by'] == 'lobby-1/front'
    t, p = fire.reset_messages('s', ['lobby-1'], 'guard', now_ms=100)[0]
    assert t == T.site_fire('s')
    assert st.update(None, p) == {'active': False, 'by': 'guard', 'ts': 100}, 'the raise is older than the reset'
    t, p = fire.raise_message('s', 'ann', now_ms=150)
    assert t == T.fire_raise('s', fire.ROOM)
    assert st.update(fire.ROOM, p)['active'] is True
    st.update(None, fire.reset_messages('s', [], 'guard', now_ms=200)[0][1])
    assert st.state()['active'] is False
    st.update('lobby-1', json.dumps({'active': True, 'by': 'lobby-1/front', 'ts': 9, 'after': 200}))
    assert st.state()['active'] is True, 'raised after that reset'
    st.update('lobby-1', b'')
    assert st.state()['active'] is True, 'a raise deleted on the broker: the boards hold the fire until a reset'
    st.update('lobby-1', b'not json')
    assert st.state()['active'] is True
    st.update(None, fire.reset_messages('s', [], 'guard', now_ms=300)[0][1])
    assert st.state()['active'] is False, 'a newer reset ends it'


def test_a_raise_from_the_future_cannot_outlast_the_next_reset():
    """A raise whose `after` is ahead of the clock (forged by a raiser's login) is taken as
    raised now: in fire, and the next reset ends it (it held every reset off before)."""
    import time
    st = fire.SiteState()
    st.update('lobby-1', json.dumps({'active': True, 'by': 'probe', 'ts': 1, 'after': 10 ** 18}))
    assert st.state()['active'] is True
    st.update(None, fire.reset_messages('s', [], 'guard', now_ms=int(time.time() * 1000) + 1000)[0][1])
    assert st.state()['active'] is False


def test_resets_are_one_per_board_signed_with_its_own_key():
    keys = {'a': b'k' * 32, 'b': b'j' * 32}
    msgs = fire.reset_messages('s', ['a', 'b', 'c'], 'guard', keys, now_ms=7)
    assert [t for t, _ in msgs] == [T.site_fire('s'), T.fire_reset('s', 'a'), T.fire_reset('s', 'b'),
                                    T.fire_reset('s', 'c')]
    a, b, c = (json.loads(p) for _, p in msgs[1:])
    assert a['sig'] != b['sig'] and 'sig' not in c and a['ctr'] == b['ctr'] == 7
    from edgectl.core.proto import signing
    assert a['sig'] == signing.sign(keys['a'], 'a', fire.CTRL, {k: v for k, v in a.items() if k != 'sig'})


def test_the_monitor_shows_a_change_of_the_fire_state_once(capsys):
    m = Monitor('s', as_json=True)
    raise_ = json.dumps({'active': True, 'by': 'lobby-1/front', 'ts': 5, 'after': 0})
    m.handle(T.fire_raise('s', 'lobby-1'), raise_, retained=True)
    m.handle(T.fire_raise('s', 'lobby-2'), raise_.replace('lobby-1', 'lobby-2'), retained=True)
    assert m.fire['active'] is True
    m.handle(T.site_fire('s'), fire.reset_messages('s', [], 'guard', now_ms=10)[0][1])
    assert m.fire['active'] is False
    shown = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r['msg']['active'] for r in shown if r['kind'] == 'fire'] == [True, True, False]


def test_every_fire_message_matches_its_schema():
    from edgectl.core import proto
    msgs = fire.reset_messages('s', ['a', 'b'], 'guard', {'a': b'k' * 32}) + [fire.raise_message('s', 'ann')]
    for _, p in msgs:
        assert proto.errors('fire', json.loads(p)) == [], p
    assert proto.errors('fire', {'active': True}) != [], 'a raise needs after'
    assert proto.errors('fire', {'active': False, 'by': 'x'}) != [], 'a reset needs ctr'
