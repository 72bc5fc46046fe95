"""The card desk of `edgectl web` at the HTTP level, fed by hand (no broker): the list as the
CLI shows it (reference and last digits, never the number or the whole hash), issue /
revoke / lost / restore through host/room/cards.py as the session's operator, journaled,
bad input refused with a clear error and nothing changed, the swipes with their decision."""
import json

import pytest

from edgectl.cli import main
from edgectl.core.errors import EdgeError
from edgectl.room import cards
from webkit import Web, site_text


@pytest.fixture
def web(tmp_path):
    w = Web(tmp_path, text=site_text(reader=True))
    yield w
    w.close()


@pytest.fixture
def page(web):
    c = web.client()
    assert c.login('ann')[0] == 200
    return c


def card_actions(web):
    web.store.flush()
    return [(r['operator'], r['action'], json.loads(r['detail'])) for r in web.store.table('actions')
            if r['action'].startswith('card_')]


def test_issue_from_the_tab_is_the_clis_card_as_the_sessions_operator(web, page, capsys):
    status, _, out = page.post('/api/cards/issue', {'card': 'W26:1234567', 'holder': 'Lee Wei', 'doors': ['lobby-1/front'],
                                                    'from': '2026-12-01', 'until': '2027-01-01', 'days': 'mon-fri',
                                                    'hours': '08:00-18:00', 'by': 'mallory', 'operator': 'mallory'})
    assert status == 200, out
    assert out['push'] == 'needed' and out['command'].startswith('edgectl cards push --site ')
    db = cards.CardDB(web.site_file)
    k = db.key('W26:1234567')
    assert out['card'] == k[:8] and out['last'] == '4567' and out['state'] == 'active' and out['version'] == 1
    rec = db.d['cards'][k]
    assert rec['groups'] == 1 and rec['window'] == [0b0011111, 480, 1080] and rec['until'] == cards.when('2027-01-01')
    [(who, action, detail)] = card_actions(web)
    assert who == 'ann' and action == 'card_issue' and detail['card'] == k[:8] and detail['holder'] == 'Lee Wei'
    status, _, listing = page.get('/api/cards')
    assert status == 200
    [row] = listing['cards']
    assert row['ref'] == k[:8] and row['last'] == '4567' and row['holder'] == 'Lee Wei' and row['doors'] == ['lobby-1/front']
    assert listing['readers'] == ['lobby-1/front'] and listing['can_push'] is False
    text = json.dumps(listing) + json.dumps(out) + json.dumps(card_actions(web))
    assert '1234567' not in text and k not in text, 'never the number, never the whole hash'
    assert main(['cards', 'list', '--json', '--site', str(web.site_file)]) == 0      # the CLI's own list
    assert json.loads(capsys.readouterr().out)['cards'][0]['holder_name'] == 'Lee Wei'


def test_revoke_lost_restore_by_reference_or_number(web, page):
    page.post('/api/cards/issue', {'card': '42', 'holder': 'Ann Lee', 'doors': ['lobby-1/front']})
    ref = page.get('/api/cards')[2]['cards'][0]['ref']
    assert page.post('/api/cards/lost', {'ref': ref})[2]['state'] == 'lost'
    assert page.post('/api/cards/restore', {'card': 'W26:42'})[2]['state'] == 'active'
    assert page.post('/api/cards/revoke', {'ref': ref.upper()})[2]['state'] == 'revoked'
    assert page.get('/api/cards')[2]['cards'][0]['state'] == 'revoked'
    assert [(w, a) for w, a, _ in card_actions(web)] == [('ann', 'card_issue'), ('ann', 'card_lost'),
                                                         ('ann', 'card_restore'), ('ann', 'card_revoke')]


BAD = [
    ('/api/cards/issue', {'card': '12x', 'holder': 'A', 'doors': ['lobby-1/front']}, 400, 'card'),
    ('/api/cards/issue', {'card': 'W26:99999999', 'holder': 'A', 'doors': ['lobby-1/front']}, 400, '0..16777215'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A', 'doors': ['gate-1/barrier']}, 400, 'card reader'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A'}, 400, 'doors'),
    ('/api/cards/issue', {'card': '7', 'doors': ['lobby-1/front']}, 400, 'holder is needed'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A', 'doors': ['lobby-1/front'], 'from': '2026-13-01'}, 400, 'date'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A', 'doors': ['lobby-1/front'], 'from': '2027-01-01',
                          'until': '2026-01-01'}, 400, 'after'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A', 'doors': ['lobby-1/front'], 'until': '9999-12-31'}, 400, '2106'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A', 'doors': ['lobby-1/front'], 'from': '1960-01-01'}, 400, '1970'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A', 'doors': ['lobby-1/front'], 'hours': '25:00-26:00'}, 400, 'hours'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A', 'doors': ['lobby-1/front'], 'uses': True}, 400, 'uses'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A', 'doors': ['lobby-1/front'], 'uses': 70000}, 400, 'uses'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A', 'groups': [32]}, 400, '0..31'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A', 'doors': 'lobby-1/front'}, 400, 'list'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A' * 65, 'doors': ['lobby-1/front']}, 400, 'holder'),
    ('/api/cards/issue', {'card': '7', 'holder': 'A\x1b[2J', 'doors': ['lobby-1/front']}, 400, 'printable'),
    ('/api/cards/issue', {'card': 7, 'holder': 'A', 'doors': ['lobby-1/front']}, 400, 'card'),
    ('/api/cards/revoke', {'card': '8'}, 404, 'no card'),
    ('/api/cards/revoke', {'ref': 'deadbeef'}, 404, 'no card'),
    ('/api/cards/revoke', {'ref': 'xyz'}, 400, 'reference'),
    ('/api/cards/revoke', {}, 400, 'reference'),
    ('/api/cards/lost', {'ref': 'deadbeef', 'card': '8'}, 400, 'reference'),
    ('/api/cards/burn', {'card': '8'}, 404, 'no such action'),
]


@pytest.mark.parametrize('path,body,status,says', BAD, ids=[b[3] + str(i) for i, b in enumerate(BAD)])
def test_bad_input_is_refused_clearly_and_changes_nothing(web, page, path, body, status, says):
    before = cards.CardDB(web.site_file).version
    got, _, out = page.post(path, body)
    assert got == status and says in out['error'], out
    assert cards.CardDB(web.site_file).version == before and not card_actions(web)


def test_a_card_with_a_pin_is_changed_at_the_terminal_only(web, page):
    db = cards.CardDB(web.site_file)
    db.issue('55', 'Kim', 1, pin='2580')
    db.save()
    status, _, out = page.post('/api/cards/issue', {'card': '55', 'holder': 'Kim', 'doors': ['lobby-1/front']})
    assert status == 409 and '--pin' in out['error']
    assert cards.CardDB(web.site_file).d['cards'][db.key('55')]['pin'] is not None, 'the PIN stays'
    assert page.get('/api/cards')[2]['cards'][0]['pin'] is True


def test_swipes_with_their_decision_and_whose_card(web, page):
    """Through the control room's intake, as a board sends them (the intake used to set every
    access.* event aside: no swipe reached the journal, no lost card's alarm the room)."""
    page.post('/api/cards/issue', {'card': '42', 'holder': 'Ann Lee', 'doors': ['lobby-1/front']})
    db = cards.CardDB(web.site_file)
    k = db.key('42')
    web.feed('lobby-1', 'front', {'type': 'access.granted', 'card': k, 'holder': 1, 'by': 'card'})
    web.feed('lobby-1', 'front', {'type': 'access.denied', 'sev': 'warn', 'card': 'ab' * 8, 'reason': 'unknown'})
    status, _, rows = page.get('/api/swipes?limit=10')
    assert status == 200
    assert [(r['decision'], r['reason'], r['holder'], r['last'], r['ref']) for r in rows] == [
        ('denied', 'unknown', None, None, 'abababab'), ('granted', None, 'Ann Lee', '42', k[:8])]
    assert k not in json.dumps(rows) and 'ab' * 8 not in json.dumps(rows)
    assert page.get('/api/swipes?limit=x')[0] == 400
    web.alarm(etype='access.lost_card', card=k, holder=1)
    assert ['lobby-1', 'front', 'access.lost_card'] in [a['key'] for a in page.get('/api/state')[2]['alarms']]
    assert web.store.table('quarantine') == []


def test_a_date_a_board_cannot_hold_is_refused_by_the_cli_too(tmp_path, capsys):
    """It used to be saved, and then every delta of the list failed (struct.error)."""
    site = tmp_path / 'site.yaml'
    site.write_text(site_text(reader=True))
    for bad in ('9999-12-31', '1960-01-01', '2106-02-08'):
        with pytest.raises(EdgeError) as e:
            cards.when(bad)
        assert e.value.code == 2
        assert main(['cards', 'issue', '7', '--holder', 'A', '--doors', 'lobby-1/front', '--until', bad, '--no-push',
                     '--site', str(site)]) == 2
    assert cards.when('2106-02-07') < 1 << 32
    assert cards.CardDB(site).version == 0
    cards.CardDB(site).delta(0)


def test_a_change_made_at_the_other_desk_during_a_push_is_kept(web, page, monkeypatch):
    """`edgectl cards issue` pushes; meanwhile the web revokes a card. Noting what the boards
    took used to save the CLI's older copy of the list over the revocation."""
    page.post('/api/cards/issue', {'card': '42', 'holder': 'Ann Lee', 'doors': ['lobby-1/front']})

    def push_all(db, devices, ep, site, sec, timeout):
        assert page.post('/api/cards/revoke', {'card': '42'})[0] == 200      # the web, during the push
        return {d: db.version for d in devices}, {}
    monkeypatch.setattr(cards, 'push_all', push_all)
    assert main(['cards', 'issue', '43', '--holder', 'Bo Li', '--doors', 'lobby-1/front',
                 '--site', str(web.site_file)]) == 0
    db = cards.CardDB(web.site_file)
    assert db.d['cards'][db.key('42')]['state'] == 'revoked', 'the revocation stays'
    assert db.d['cards'][db.key('43')]['state'] == 'active' and db.version == 3
    assert db.d['boards'] == {'lobby-1': 2}, 'the board took version 2: it still lacks the revocation'


def test_every_word_of_the_cards_tab_has_its_chinese():
    """The tab's own text and placeholders, each a key of the page's Simplified Chinese table."""
    import html.parser
    import re
    from pathlib import Path
    static = Path(cards.__file__).parent / 'web' / 'static'
    js = (static / 'app.js').read_text()
    table = js[js.index('const ZH = {'):js.index('};', js.index('const ZH = {'))]
    keys = {k.replace("\\'", "'") for k in re.findall(r"'((?:[^'\\]|\\.)*)':", table)}
    page = (static / 'index.html').read_text()
    tab = page[page.index('<div id="tab-cards"'):page.index('</main>')]
    words = []

    class Words(html.parser.HTMLParser):
        def handle_data(self, data):
            text = ' '.join(data.split())
            if text:
                words.append(text)

        def handle_starttag(self, tag, attrs):
            words.extend(v for k, v in attrs if k == 'placeholder')
    Words().feed(tab)
    assert 'Recent swipes' in words and 'holder' in words
    assert [w for w in words if w not in keys] == []
    assert 'Cards' in keys and "t('Revoke')" in js and "t(s.decision)" in js
