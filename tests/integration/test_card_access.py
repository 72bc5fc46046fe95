"""Card access end to end: the front desk's list (host/room/cards.py) pushed as signed
deltas over a real mosquitto to the firmware on the MicroPython unix port; cards swiped on
the simulated reader wire as a reader's bits; the board decides offline from its flash."""
import json
import secrets as rnd
import time

from edgectl.core import proto
from edgectl.core import site as sitemod
from edgectl.core.mqttc import Collector
from edgectl.room import cards
from edgectl.sim.simio import SimIO

T = proto.topics
SITE = """\
site: ca
broker: {host: 127.0.0.1, port: 1883}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - name: front
        type: door
        pins: {contact: 4, lock: 25, reader_d0: 16, reader_d1: 17}
        unlock_s: 2
        access_group: 1
"""


def _online(broker, timeout=15):
    """Wait until the board's retained status says online (it takes commands from then on)."""
    col = Collector(broker.host, broker.port, [T.status('ca', 'lobby-1')], 'wait')
    try:
        assert col.wait(lambda t, p: isinstance(p, dict) and p.get('online'), timeout), 'the board came online'
    finally:
        col.close()


def _setup(tmp_path, make_board, broker):
    site_path = tmp_path / 'site.yaml'
    site_path.write_text(SITE)
    key = rnd.token_bytes(32)
    b = make_board(SITE, 'lobby-1', secret={'cmd_key': key.hex()})
    _online(broker)
    site = sitemod.load_valid(site_path)
    db = cards.CardDB(site_path)
    col = Collector(broker.host, broker.port, [T.site_filter('ca')], 'test')
    return site, db, key, b, col


def test_issue_push_swipe_revoke(tmp_path, make_board, broker):
    site, db, key, b, col = _setup(tmp_path, make_board, broker)
    io = SimIO(b.io_port)
    try:
        g = cards.groups_of(site, ['lobby-1/front'])
        db.issue('W26:1234567', 'Ann', g)
        db.issue('W34:99', 'Bob', g)
        assert cards.push(db, 'lobby-1', broker.endpoint(), 'ca', key) == 2
        m = col.mark()
        io.swipe('front.reader', 'W26:1234567')
        assert io.wait_value('front.lock', 0, 3), 'granted: the lock released'
        ev = col.event('access.granted', 5, m)
        assert ev and ev[2]['card'] == db.key('W26:1234567') and ev[2]['holder'] == db.holder_id('Ann')
        assert '1234567' not in str(ev[2]), 'never the raw number'

        db.set_state('W26:1234567', 'revoked')
        assert cards.push(db, 'lobby-1', broker.endpoint(), 'ca', key) == 3      # a delta 2 -> 3
        assert io.wait_value('front.lock', 1, 5)
        m = col.mark()
        io.swipe('front.reader', 'W26:1234567')
        ev = col.event('access.denied', 5, m)
        assert ev and ev[2]['reason'] == 'revoked'
        assert io.get('front.lock') == 1
        st = col.wait(lambda t, p: t == T.state('ca', 'lobby-1', 'front') and isinstance(p, dict)
                      and p.get('access', {}).get('cards') == 3, 5)
        assert st, 'the board reports its card list version in its state'

        # the board lost its list (replaced flash): the next push sends it all again
        db.d['boards']['lobby-1'] = 1       # our books are wrong: the board says which it has
        db.issue('W34:5', 'Cy', g)
        assert cards.push(db, 'lobby-1', broker.endpoint(), 'ca', key) == 4

        # a delta of many parts, sent ahead of their acks (cards.WINDOW)
        for i in range(cards.PART * (cards.WINDOW + 2)):
            db.issue('W26:%d' % (500 + i), 'Visitor %d' % i, g)
        # its parts go to flash on a heap-tight VM: under a loaded machine's scheduling an ack can
        # take longer than the CLI's 5 s default; the check is that it arrives, not how fast
        assert cards.push(db, 'lobby-1', broker.endpoint(), 'ca', key, timeout=20) == db.version
        m = col.mark()
        io.swipe('front.reader', 'W26:%d' % (500 + cards.PART * cards.WINDOW + 3))
        ev = col.event('access.granted', 5, m)
        assert ev and ev[2]['holder'] == db.holder_id('Visitor %d' % (cards.PART * cards.WINDOW + 3))
    finally:
        io.close()
        col.close()


def test_front_desk_cli_end_to_end(tmp_path, make_board, broker, capsys, monkeypatch):
    """`edgectl cards issue/revoke/status` against the site's broker with the site's keys."""
    from edgectl.cli import main
    from edgectl.core import secrets
    monkeypatch.chdir(tmp_path)
    text = SITE.replace('port: 1883', 'port: %d' % broker.port)
    site_path = tmp_path / 'site.yaml'
    site_path.write_text(text)
    sec, _ = secrets.ensure(site_path, ['lobby-1'])
    b = make_board(text, 'lobby-1', secret=secrets.board_file(sec, 'lobby-1'))
    _online(broker)
    io = SimIO(b.io_port)
    col = Collector(broker.host, broker.port, [T.site_filter('ca')], 'test')
    try:
        s = ['--site', str(site_path)]
        assert main(['cards', 'issue', '7654321', '--holder', 'Dee', '--doors', 'lobby-1/front'] + s) == 0
        assert 'lobby-1: version 1' in capsys.readouterr().out
        io.swipe('front.reader', 'W26:7654321')
        assert io.wait_value('front.lock', 0, 3)
        assert main(['cards', 'lost', '7654321'] + s) == 0
        assert main(['cards', 'status', '--json'] + s) == 0
        out = capsys.readouterr().out.strip().splitlines()[-1]
        assert json.loads(out)['boards']['lobby-1'] == {'version': 2, 'up_to_date': True}
        m = col.mark()
        io.swipe('front.reader', 'W26:7654321')
        assert col.event('access.lost_card', 5, m, active=True), 'a lost card swiped: an alarm'
    finally:
        io.close()
        col.close()


def test_a_board_back_online_gets_what_it_missed(tmp_path, make_board, broker, monkeypatch):
    """Revoked while the board was off: `cards push --follow` sends it the change as soon as
    the board is back online, and the card is refused within a second of reconnecting."""
    import threading
    from edgectl.cli import main
    from edgectl.core import secrets
    monkeypatch.chdir(tmp_path)
    text = SITE.replace('port: 1883', 'port: %d' % broker.port)
    site_path = tmp_path / 'site.yaml'
    site_path.write_text(text)
    sec, _ = secrets.ensure(site_path, ['lobby-1'])
    b = make_board(text, 'lobby-1', secret=secrets.board_file(sec, 'lobby-1'))
    _online(broker)
    s = ['--site', str(site_path)]
    assert main(['cards', 'issue', '111', '--holder', 'Eve', '--doors', 'lobby-1/front'] + s) == 0
    b.stop()
    assert main(['cards', 'revoke', '111'] + s) == 1, 'the board is off: not updated (the list is saved)'
    col = Collector(broker.host, broker.port, [T.site_filter('ca')], 'test')
    from edgectl.cli import build_parser
    fa = build_parser().parse_args(['cards', 'push', '--follow', '--duration', '30'] + s)
    fa.stop = threading.Event()
    follow = threading.Thread(target=fa.fn, args=(fa,))
    follow.start()
    try:
        m = col.mark()
        b.start()
        up = col.wait(lambda t, p: t == T.status('ca', 'lobby-1') and isinstance(p, dict) and p.get('online'), 10, m)
        assert up
        st = col.wait(lambda t, p: t == T.state('ca', 'lobby-1', 'front') and isinstance(p, dict)
                      and p.get('access', {}).get('cards') == 2, 5, m)
        assert st, 'the revocation reached the board'
        assert st[0] - up[0] < 1.0, 'within a second of reconnecting (%.2f s)' % (st[0] - up[0])
        io = SimIO(b.io_port)
        m = col.mark()
        io.swipe('front.reader', 'W26:111')
        io.close()
        ev = col.event('access.denied', 5, m)
        assert ev and ev[2]['reason'] == 'revoked'
        end = time.monotonic() + 5      # (noted in the list once the follower has the board's ack)
        while cards.CardDB(site_path).d['boards'].get('lobby-1') != 2 and time.monotonic() < end:
            time.sleep(0.05)
        assert cards.CardDB(site_path).d['boards']['lobby-1'] == 2
    finally:
        fa.stop.set()
        follow.join(5)
        col.close()
