"""The web's card desk against what a browser on the site LAN (or a page of another site in
the guard's browser) can send: forged CSRF tokens, other origins, no session, another
operator's name in the body, oversized and malformed fields. Each is refused and changes
nothing: not the card list, not the board's copy of it (a simulated board with a reader on
real mosquitto), which keeps granting its card; what is done is done as the session's
operator, pushed to the board signed with its key, and a lost card's swipe is an alarm on
the page. Shelving: a shelving made in one web is seen by another one on the same journal
and by a web started after it; one web cannot end it as another operator."""
import json
import secrets as rnd

import pytest

from edgectl.core import proto
from edgectl.core.mqttc import Collector
from edgectl.room import cards
from edgectl.room.web import server
from edgectl.sim.simio import SimIO
from webkit import Web, site_text
from polling import until

T = proto.topics
CARD = 'W26:1234567'


def _wait(pred, timeout):
    return until(pred, timeout, 0.02)


@pytest.fixture
def desk(tmp_path, make_board, broker):
    """A board with a reader, online; a web that can sign for it; ann logged in; one card issued
    from the page (and pushed)."""
    text = site_text(broker.port, reader=True)
    key = rnd.token_bytes(32)
    b = make_board(text, 'lobby-1', secret={'cmd_key': key.hex()})
    web = Web(tmp_path, text=text, broker=broker, secrets={'devices': {'lobby-1': {'cmd_key': key.hex()}}})
    col = Collector(broker.host, broker.port, [T.site_filter('web')], 'desk-abuse')
    io = SimIO(b.io_port)
    try:
        assert _wait(lambda: (web.mon.devices.get('lobby-1') or {}).get('online'), 15), 'the board came online'
        page = web.client()
        assert page.login('ann')[0] == 200
        status, _, out = page.post('/api/cards/issue', {'card': CARD, 'holder': 'Ann Lee', 'doors': ['lobby-1/front']})
        assert status == 200 and out['pushed'] == {'lobby-1': 1} and out['failed'] == {}, out
        yield web, page, io, col
    finally:
        io.close()
        col.close()
        web.close()


def _granted(io, col):
    m = col.mark()
    io.swipe('front.reader', CARD)
    ok = col.event('access.granted', 5, m) is not None
    io.wait_value('front.lock', 1, 5)
    return ok


def test_forged_and_malformed_card_changes_change_nothing_on_the_list_or_the_board(desk, abuse):
    web, page, io, col = desk
    ref = page.get('/api/cards')[2]['cards'][0]['ref']
    revoke = {'ref': ref}
    tries = [
        page.post('/api/cards/revoke', revoke, csrf=False),                                   # no CSRF token
        page.post('/api/cards/revoke', revoke, headers={'X-CSRF-Token': 'x' * 32}),           # a forged one
        page.post('/api/cards/revoke', revoke, origin='http://evil.example'),                 # another site's page
        page.post('/api/cards/revoke', revoke, origin=False),
        page.post('/api/cards/issue', {'card': '99', 'holder': 'Mallory', 'doors': ['lobby-1/front']},
                  cookie=False),                                                              # no session
        page.post('/api/cards/issue', {'card': '99', 'holder': 'Mallory', 'doors': ['lobby-1/front']},
                  raw=b'card=99&holder=Mallory', headers={'Content-Type': 'application/x-www-form-urlencoded'}),
    ]
    statuses = [t[0] for t in tries]
    for s in statuses:
        abuse.input(refused=s in (401, 403, 415))
    assert statuses == [403, 403, 403, 403, 401, 415]
    door = ['lobby-1/front']
    bad = [
        {'card': '99', 'holder': 'H' * 10000, 'doors': door},                      # oversized field
        {'card': '9' * 5000, 'holder': 'H', 'doors': door},
        {'card': '99', 'holder': 'H', 'doors': ['lobby-1/front'] * 100},
        {'card': '99', 'holder': 'H', 'doors': [{'$ne': 1}]},
        {'card': {'num': 99}, 'holder': 'H', 'doors': door},                       # malformed
        {'card': '99', 'holder': ['H'], 'doors': door},
        {'card': '99', 'holder': 'H\u202eevil', 'doors': door},                    # a direction override in a name
        {'card': '99', 'holder': 'H', 'doors': ['lobby-1/front,gate-1/barrier']},
        {'card': '99', 'holder': 'H', 'doors': door, 'uses': 1e308},
        {'card': '99', 'holder': 'H', 'doors': door, 'until': '2026-01-01T00:00:00+99:00'},
        {'card': '99', 'holder': 'H', 'doors': door, 'from': '1' * 40},
        {'card': '99', 'holder': 'H', 'groups': [-1]},
    ]
    for body in bad:
        status, _, out = page.post('/api/cards/issue', body)
        abuse.input(refused=status == 400)
        assert status == 400 and out['error'], (body, status, out)
    for body in ({'ref': '%'}, {'ref': "' OR 1=1 --"}, {'ref': ref[:4]}, {'ref': ref * 20}, {'card': None, 'ref': None},
                 {'ref': 12345678}):
        status, _, out = page.post('/api/cards/lost', body)
        abuse.input(refused=status == 400)
        assert status == 400, (body, status, out)
    status = page.post('/api/cards/issue', raw=b'{"card": "' + b'9' * server.BODY_MAX + b'"}')[0]
    abuse.input(refused=status == 413)
    assert status == 413
    db = cards.CardDB(web.site_file)
    assert db.version == 1 and db.d['cards'][db.key(CARD)]['state'] == 'active', 'the list is as it was'
    web.store.flush()
    assert [r['action'] for r in web.store.table('actions') if r['action'].startswith('card_')] == ['card_issue']
    assert _granted(io, col), 'the board still grants the card'


def test_a_change_is_the_sessions_operators_and_a_lost_card_swipe_reaches_the_page(desk, abuse):
    web, page, io, col = desk
    ref = page.get('/api/cards')[2]['cards'][0]['ref']
    status, _, out = page.post('/api/cards/lost', {'ref': ref, 'operator': 'bob', 'by': 'bob', 'user': 'bob'})
    abuse.input(refused=status == 200 and out['pushed'] == {'lobby-1': 2})
    assert status == 200 and out['state'] == 'lost' and out['pushed'] == {'lobby-1': 2}
    web.store.flush()
    [row] = [r for r in web.store.table('actions') if r['action'] == 'card_lost']
    assert row['operator'] == 'ann', 'never a name from the body'
    m = col.mark()
    io.swipe('front.reader', CARD)
    assert col.event('access.denied', 5, m) is not None and io.get('front.lock') == 1
    key = ['lobby-1', 'front', 'access.lost_card']
    got = _wait(lambda: key in [a['key'] for a in page.get('/api/state')[2]['alarms']], 3)
    if not got:
        abuse.alarms_lost(1)
    assert got, 'the lost card\'s swipe is an alarm on the page'
    swipes = page.get('/api/swipes')[2]
    assert swipes[0]['decision'] == 'denied' and swipes[0]['holder'] == 'Ann Lee' and swipes[0]['last'] == '4567'
    assert '1234567' not in json.dumps(swipes) and cards.CardDB(web.site_file).key(CARD) not in json.dumps(swipes)


def test_a_shelving_is_shared_and_outlives_its_web_and_cannot_be_ended_as_another(tmp_path, abuse):
    """Fed by hand (no board needed): two webs on one journal, then one started afresh."""
    journal = tmp_path / 'journal.sqlite3'
    webs = {}

    def start(name):
        (tmp_path / name).mkdir()
        webs[name] = Web(tmp_path / name, journal=journal)
        webs[name].alarm(seq=7)              # the same raise of the board, as each web received it
        return webs[name]
    key = {'device': 'lobby-1', 'ctrl': 'front', 'type': 'door.forced'}
    try:
        one, two = start('one'), start('two')
        a, b = one.client(), two.client()
        assert a.login('ann')[0] == 200 and b.login('bob')[0] == 200
        status, _, out = a.post('/api/shelve', dict(key, minutes=30, reason='contractor', by='bob', operator='bob'))
        abuse.input(refused=status == 200 and out['shelved']['by'] == 'ann')
        assert out['shelved']['by'] == 'ann'
        seen = _wait(lambda: [x for x in b.get('/api/state')[2]['alarms'] if x['shelved']], 3)
        assert seen and seen[0]['shelved']['by'] == 'ann', 'the other web shows it shelved'
        for body in (dict(key, operator='ann'), dict(key, device='lobby-1' * 100)):
            status = b.post('/api/unshelve', body, csrf=False)[0]
            abuse.input(refused=status == 403)
            assert status == 403
        for body in (dict(key, device='lobby-1' * 100), dict(key, type=None), dict(key, ctrl=['front'])):
            status = b.post('/api/unshelve', body)[0]
            abuse.input(refused=status == 400)
            assert status == 400
        webs.pop('one').close()
        webs.pop('two').close()
        three = start('three')                   # the control room restarted
        c = three.client()
        assert c.login('bob')[0] == 200
        assert _wait(lambda: [x for x in c.get('/api/state')[2]['alarms'] if x['shelved']], 3), \
            'a web started afresh keeps the shelving'
        assert c.post('/api/unshelve', dict(key, operator='ann'))[0] == 200
        three.store.flush()
        rows = [(r['operator'], r['action']) for r in three.store.table('actions') if 'shelve' in r['action']]
        assert rows == [('ann', 'shelve'), ('bob', 'unshelve')], 'ended as the session\'s operator'
    finally:
        for w in webs.values():
            w.close()
