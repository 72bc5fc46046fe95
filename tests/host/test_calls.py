"""The control room's view of intercom calls, and which call a key acts on."""
from edgectl.room.calls import Calls


def ev(t, call, **kw):
    return dict(type=t, call=call, **kw)


def test_calls_follow_events_and_keys_pick_the_right_one():
    c = Calls()
    assert c.feed('gate-1', 'evt', 'east', ev('intercom.call', 1001))
    assert c.feed('gate-2', 'evt', 'west', ev('intercom.call', 2001))
    assert c.target('answer', 'ann')[:2] == ('gate-1', 'east'), 'oldest ringing first'
    assert c.target('unlock', 'ann') is None, 'nothing answered by ann yet'
    c.feed('gate-1', 'evt', 'east', ev('intercom.answered', 1001, by='ann'))
    assert c.target('answer', 'ann')[:2] == ('gate-2', 'west')
    assert c.target('unlock', 'ann')[:2] == ('gate-1', 'east')
    assert c.target('unlock', 'bob') is None, "bob cannot release ann's call"
    assert c.target('hangup', 'bob')[:2] == ('gate-2', 'west'), 'bob can reject a ringing call'
    c.feed('gate-1', 'evt', 'east', ev('intercom.ended', 1001, reason='hangup'))
    assert [x[:2] for x in c.listing()] == [('gate-2', 'west')]


def test_an_old_ended_event_does_not_end_a_newer_call():
    c = Calls()
    c.feed('g', 'evt', 's', ev('intercom.call', 2))
    assert c.feed('g', 'evt', 's', ev('intercom.ended', 1, reason='timeout'))
    assert c.listing()[0][2]['call'] == 2


def test_retained_state_shows_a_call_already_open():
    c = Calls()
    assert c.feed('g', 'state', 's', {'type': 'intercom', 'call': 'answered', 'call_id': 7, 'by': 'ann'})
    assert c.target('unlock', 'ann')[2]['call'] == 7
    assert not c.feed('g', 'state', 's', {'type': 'intercom', 'call': 'answered', 'call_id': 7, 'by': 'ann'})
    assert not c.feed('g', 'state', 's', {'type': 'door', 'lock': 'locked'})
    assert c.feed('g', 'state', 's', {'type': 'intercom', 'call': 'idle', 'call_id': None})
    assert c.listing() == []
