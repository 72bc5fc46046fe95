"""Card access abuse: a reader wire carrying broken frames (wrong parity, wrong lengths,
noise, bad requests) and card deltas that are forged (another board's key: a stolen board
signing for this one), unsigned, replayed, tampered with, out of order or too big. Each is
refused, changes nothing on the board (its card list version, the lock), and the board stays
online and keeps granting its good cards."""
import json
import random
import secrets as rnd

import pytest

from edgectl.core import commands, proto
from edgectl.core.errors import EdgeError
from edgectl.core.mqttc import Collector
from edgectl.room import cards
from edgectl.sim.simio import SimIO

T = proto.topics
F = proto._load('readerframes')
SITE = """\
site: ab
broker: {host: 127.0.0.1, port: 1883}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25, reader_d0: 16, reader_d1: 17}, unlock_s: 1}
  lobby-2:
    board: esp32-devkitc
    controllers:
      - {name: rear, type: door, pins: {contact: 4, lock: 25, reader_d0: 16, reader_d1: 17}}
"""


@pytest.fixture
def site(tmp_path, make_board, broker):
    p = tmp_path / 'site.yaml'
    p.write_text(SITE)
    key = rnd.token_bytes(32)
    b = make_board(SITE, 'lobby-1', secret={'cmd_key': key.hex()})
    up = Collector(broker.host, broker.port, [T.status('ab', 'lobby-1')], 'wait')
    assert up.wait(lambda t, p: isinstance(p, dict) and p.get('online'), 15), 'the board came online'
    up.close()
    db = cards.CardDB(p)
    db.issue('W26:1234567', 'Ann', 1)
    assert cards.push(db, 'lobby-1', broker.endpoint(), 'ab', key) == 1
    col = Collector(broker.host, broker.port, [T.site_filter('ab')], 'abuse')
    io = SimIO(b.io_port)
    yield db, key, b, col, io
    io.close()
    col.close()


def _access(broker):
    """The reader's figures in the door's state (the status command's ack)."""
    ack = commands.send(broker.endpoint(), 'ab', 'lobby-1', 'front', 'status', timeout=5)
    return ack['state']['access']


def _granted_still(io, col):
    m = col.mark()
    io.swipe('front.reader', 'W26:1234567')
    ok = col.event('access.granted', 5, m) is not None and io.wait_value('front.lock', 0, 3)
    io.wait_value('front.lock', 1, 5)
    return ok


def test_broken_reader_frames_are_refused_and_counted(site, broker, abuse):
    db, key, b, col, io = site
    rng = random.Random(19)
    frames = []
    good = F.card(26, 1234567)
    frames += [good[:i] + ('0' if good[i] == '1' else '1') + good[i + 1:] for i in range(26)]   # parity
    g34 = F.card(34, 1234567)
    frames += [g34[:i] + ('0' if g34[i] == '1' else '1') + g34[i + 1:] for i in range(0, 34, 3)]
    frames += [good[:-1], good + '0', g34[:-2], '1' * 64, '0']                               # lengths
    frames += [''.join(rng.choice('01') for _ in range(rng.choice((7, 25, 27, 33, 35, 50)))) for _ in range(20)]
    frames += ['11110101', '1100', '1111']                                                    # keys
    m = col.mark()
    for f in frames:
        io.request('bits front.reader %s' % f)
        abuse.input()
    st = _access(broker)
    assert st['bad_frames'] == len(frames), 'every broken frame counted: %s' % st
    assert not col.events('access.granted'), 'nothing read as a card'
    assert io.get('front.lock') == 1
    for req in ('bits front.reader 0121', 'bits front.reader ' + '1' * 65, 'bits nosuch.reader 0101',
                'set front.reader 1', 'bits front.reader'):
        with pytest.raises(EdgeError):
            io.request(req)
        abuse.input()
    assert _granted_still(io, col), 'a good card still opens'


def _forge(db, dev, key, frm, to, recs, part=0, parts=1, salt=True, cid=None, ctr=None, signer='_cards'):
    cid = cid or 'x-%s' % rnd.token_hex(4)
    args = {'from': frm, 'to': to, 'parts': parts, 'part': part, 'recs': b''.join(recs).hex()}
    if salt and frm == 0:
        args['salt'] = db.salt.hex()
    body = dict(args, id=cid, op='cards')
    if key is not None:
        body = commands.signed(body, dev, signer, key)
        if ctr is not None:
            from edgectl.core.proto import signing
            body['ctr'] = ctr
            body['sig'] = signing.sign(key, dev, signer, {k: v for k, v in body.items() if k != 'sig'})
    out = {k: v for k, v in body.items() if k not in ('id', 'op')}
    out['_cid'] = cid
    return out


def _send(broker, args):
    """Publish a forged part (its id is the one it was signed with) and return the ack."""
    cid = args.pop('_cid')
    return commands.send(broker.endpoint(), 'ab', 'lobby-1', 'system', 'cards', args, cid=cid, timeout=5)


def test_forged_unsigned_replayed_and_tampered_deltas_are_refused(site, broker, abuse):
    db, key, b, col, io = site
    other = rnd.token_bytes(32)         # lobby-2's key, taken from a stolen board
    k = proto.cardrec      # (the worst case: the thief read the site's salt off the stolen board)
    evil = k.pack(k.key(db.salt, 'W26:666'), holder=66, groups=0xFFFFFFFF)
    tries = [
        ('another board\'s key', _forge(db, 'lobby-1', other, 1, 2, [evil]), 'bad signature'),
        ('signed for another board', _forge(db, 'lobby-2', key, 1, 2, [evil]), 'bad signature'),
        ('signed as a command', _forge(db, 'lobby-1', key, 1, 2, [evil], signer='system'), 'bad signature'),
        ('unsigned', _forge(db, 'lobby-1', None, 1, 2, [evil]), 'unsigned'),
        ('full list, unsigned', _forge(db, 'lobby-1', None, 0, 9, [evil]), 'unsigned'),
        ('stale counter', _forge(db, 'lobby-1', key, 1, 2, [evil], ctr=1000), 'stale'),
    ]
    tampered = _forge(db, 'lobby-1', key, 1, 2, [])
    tampered['recs'] = evil.hex()       # the signature covers the records
    tries.append(('tampered records', tampered, 'bad signature'))
    for what, args, why in tries:
        ack = _send(broker, args)
        ok = not ack['ok'] and why in (ack.get('err') or '')
        abuse.input(refused=not ack['ok'])
        assert ok, '%s: %s' % (what, ack)
    # a genuine part recorded and played again
    good = _forge(db, 'lobby-1', key, 1, 2, [])
    assert _send(broker, dict(good))['ok']
    again = _send(broker, good)
    abuse.input(refused=not again['ok'])
    assert not again['ok'] and 'replayed' in again['err']
    # out of order and malformed parts
    bad = [_forge(db, 'lobby-1', key, 2, 3, [], part=1, parts=2),              # part 1 without part 0
           _forge(db, 'lobby-1', key, 2, 3, [evil[:39]]),                        # half a record
           _forge(db, 'lobby-1', key, 2, 1, []),                                 # backwards
           _forge(db, 'lobby-1', key, 0, 3, [evil], salt=False),                 # a full list without its salt
           _forge(db, 'lobby-1', key, 2, 3, [evil, evil])]                       # a key twice
    for args in bad:
        ack = _send(broker, args)
        abuse.input(refused=not ack['ok'])
        assert not ack['ok'], ack
    m = col.mark()
    io.swipe('front.reader', 'W26:666')
    ev = col.event('access.denied', 5, m)
    assert ev and ev[2]['reason'] == 'unknown', 'no forged card got in'
    assert _granted_still(io, col)


def test_a_delta_too_big_for_the_board_is_refused_and_it_stays_online(site, broker, abuse):
    db, key, b, col, io = site
    k = proto.cardrec
    recs = sorted(k.pack(k.key(db.salt, 'W26:%d' % i), holder=1, groups=1) for i in range(200))
    args = _forge(db, 'lobby-1', key, 1, 2, recs)
    args.pop('_cid')
    m = col.mark()
    with pytest.raises(EdgeError):      # discarded by the board's client: no ack with our id
        commands.send(broker.endpoint(), 'ab', 'lobby-1', 'system', 'cards', args, cid='big', timeout=3)
    abuse.input()
    rej = col.event('system.cmd_rejected', 5, m)
    assert rej and 'limit' in rej[2]['err']
    assert col.wait(lambda t, p: False, 0.1) is None
    assert _granted_still(io, col), 'online and granting'
