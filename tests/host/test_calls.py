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


def test_three_stations_of_one_board_ring_at_once_and_each_is_answered_on_its_own():
    # the stations of one board count their calls apart: the same id on each (boot 4, call 1)
    c = Calls()
    for st in ('east', 'west', 'north'):
        assert c.feed('gate-1', 'evt', st, ev('intercom.call', 4001))
    assert [x[1] for x in c.listing()] == ['east', 'west', 'north'], 'all three ring, oldest first'
    for op in ('ann', 'bob', 'carl'):       # each operator's `a` takes the oldest call still ringing
        dev, st, call = c.target('answer', op)
        c.feed(dev, 'evt', st, ev('intercom.answered', call['call'], by=op))
    assert {op: c.target('unlock', op)[1] for op in ('ann', 'bob', 'carl')} == \
        {'ann': 'east', 'bob': 'west', 'carl': 'north'}, "each operator's keys act on their own call"
    c.feed('gate-1', 'evt', 'west', ev('intercom.ended', 4001, reason='hangup'))
    assert [(x[1], x[2]['by']) for x in c.listing()] == [('east', 'ann'), ('north', 'carl')], \
        'ending west leaves the same call id open at east and north'
    assert c.target('unlock', 'bob') is None


def test_the_monitors_b_key_blocks_the_oldest_ringing_station():
    from edgectl.room.monitor import Monitor
    mon = Monitor('s', operator='ann')
    mon.show = lambda rec: None
    sent = []
    mon.send = lambda dev, ctrl, op, args: sent.append((dev, ctrl, op, args)) or 'm-1'
    assert mon.act('b').startswith('no call is ringing') and sent == []
    mon.calls.feed('gate-1', 'evt', 'west', ev('intercom.call', 4001))
    mon.calls.feed('gate-1', 'evt', 'east', ev('intercom.call', 4001))
    assert mon.act('b') == 'block gate-1/west (m-1)'
    assert sent == [('gate-1', 'west', 'block', {'by': 'ann'})]
