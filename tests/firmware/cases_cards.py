# Card access cases (firmware/cardstore.py, access.py, cardsync.py): decisions at a door
# and at barrier lanes, PINs, signed deltas and a power cut at every write of one, a
# 10,000-card store in 2 KB of heap (the reader's own cases: cases_reader.py).
# Runs on CPython and on the MicroPython unix port.
import gc
import struct
import binascii
import cardrec as R
import readerframes as F
import wiegand as W
from clock import set_wall_ms, wall_ms
from harness import Bench, check, eq, in_tmpdir

SALT = b'0123456789abcdef'
NOW = 1785000000          # 2026-07-25 (a Saturday), s
DAY = 86400


# --- the store ---------------------------------------------------------------------------
def _rec(card, **kw):
    k = R.key(SALT, card)
    return k, R.pack(k, salt=SALT, **kw)


def _store(recs, version=1):
    """Write cards.db from (key, record) pairs."""
    recs = sorted(recs)
    with open('cards.db', 'wb') as f:
        f.write(R.header(version, len(recs), SALT))
        for k, b in recs:
            f.write(b)


def _door(over=None, store=None):
    import door
    import access
    import cardstore
    cfg = {'unlock_s': 3, 'debounce_ms': 0, 'access_group': 2}
    if over:
        cfg.update(over)
    c = door.Door('front', cfg)
    c.access = access.Access(c, W.Wiegand('front.reader'), store or cardstore.Store())
    return Bench(c)


def _swipe(b, text):
    r = b.c.access.r
    for f in F.frames(text):
        for i in range(len(f)):
            r.bit(1 if f[i] == '1' else 0, i * 2000)
        r.end()
        b.set('reader', 0)      # the runtime's edge path: the frame is decided at once


def _last(b, etype):
    for e in reversed(b.events):
        if e[1] == etype:
            return e[3]
    return None


def _in(fn):
    def run():
        set_wall_ms(NOW * 1000)
        fn()
    return lambda: in_tmpdir('cards', run)


def case_door_opens_for_a_good_card_and_says_why_not_for_others():
    def t():
        G = 1 << 2
        _store([_rec('W26:1', holder=11, groups=G),
                _rec('W26:2', holder=12, groups=G, state=R.REVOKED),
                _rec('W26:3', holder=13, groups=G, state=R.LOST),
                _rec('W26:4', holder=14, groups=G, until=NOW - 1),
                _rec('W26:5', holder=15, groups=G, vfrom=NOW + DAY),
                _rec('W26:6', holder=16, groups=1 << 3),
                _rec('W26:7', holder=17, groups=G, days=0x1f, on=8 * 60, off=18 * 60),   # Mon-Fri 8-18
                _rec('W34:8', holder=18, groups=G, uses=1)])
        b = _door()
        _swipe(b, 'W26:1')
        eq(b.out('lock'), 0, 'granted: lock released')
        g = _last(b, 'access.granted')
        eq((g['holder'], g['by']), (11, 'card'), 'granted event')
        eq(g['card'], binascii.hexlify(R.key(SALT, 'W26:1')).decode(), 'the card reference, not its number')
        check('1' not in [str(v) for v in g.values()], 'no raw number in the event')
        eq(_last(b, 'door.unlocked')['by'], 'card', 'the door says a card opened it')
        b.run(3100)
        eq(b.out('lock'), 1, 'relocked after unlock_s')
        for card, why in (('W26:99', 'unknown'), ('W26:2', 'revoked'), ('W26:3', 'lost'), ('W26:4', 'expired'),
                          ('W26:5', 'not_yet_valid'), ('W26:6', 'wrong_door'), ('W26:7', 'outside_hours')):
            _swipe(b, card)
            eq(_last(b, 'access.denied')['reason'], why, card)
            eq(b.out('lock'), 1, '%s: stays locked' % card)
        check(b.find('access.lost_card', True), 'a lost card swiped is an alarm')
        _swipe(b, 'W34:8')
        eq(_last(b, 'access.granted')['uses_left'], 0, 'a temporary card uses its last use')
        check(b.find('access.lost_card', False), 'the next grant clears the lost-card alarm')
        b.run(3100)
        _swipe(b, 'W34:8')
        eq(_last(b, 'access.denied')['reason'], 'no_uses_left', 'then it is refused')
        eq(b.c.snapshot()['access']['cards'], 1, 'store version in the state')
    _in(t)()


def case_weekly_window_and_clock_not_set():
    def t():
        _store([_rec('W26:7', holder=17, groups=4, days=0x1f, on=8 * 60, off=18 * 60)])
        b = _door()
        monday_9 = (NOW // DAY + 2) * DAY + 9 * 3600
        set_wall_ms(monday_9 * 1000)
        _swipe(b, 'W26:7')
        check(_last(b, 'access.granted'), 'inside its window')
        set_wall_ms(1000000)        # a board whose clock was never set
        _swipe(b, 'W26:7')
        eq(_last(b, 'access.denied')['reason'], 'clock_not_set', 'hours need the time: never guessed')
    _in(t)()


def case_pin_doors_duress_and_timeout():
    def t():
        _store([_rec('W26:1', holder=11, groups=4, pin='2580')])
        b = _door({'pin_timeout_s': 5})
        _swipe(b, 'W26:1')
        eq(b.out('lock'), 1, 'waits for the PIN')
        _swipe(b, 'KEY:1111#')
        eq(_last(b, 'access.denied')['reason'], 'pin_wrong', 'wrong PIN')
        _swipe(b, 'W26:1')
        _swipe(b, 'KEY8:9*2580#')
        eq((_last(b, 'access.granted') or {}).get('by'), 'card+pin', '* clears, then the right PIN')
        eq(b.out('lock'), 0, 'opened')
        b.run(3100)
        _swipe(b, 'W26:1')
        _swipe(b, 'KEY:2581#')
        eq(b.out('lock'), 0, 'the duress PIN opens')
        check(b.find('access.duress', True), 'and raises the silent duress alarm')
        eq(b.out('buzzer'), 0, 'silent')
        b.run(3100)
        _swipe(b, 'W26:1')
        b.run(5100)
        eq(_last(b, 'access.denied')['reason'], 'pin_timeout', 'no PIN in pin_timeout_s')
    _in(t)()


def case_barrier_lanes_anti_passback():
    def t():
        import barrier
        import access
        import cardstore
        _store([_rec('W26:1', holder=11, groups=1, uses=2, uses_rev=1)])
        st = cardstore.Store()
        lanes = {}
        for name, d in (('entry', 1), ('exit', 2)):
            c = barrier.Barrier(name, {'reader_dir': d, 'auto_close_s': 0})
            c.access = access.Access(c, W.Wiegand(name + '.reader'), st)
            b = Bench(c)
            b.set('down_limit', 1)
            b.run(100)
            lanes[name] = b
        ent, ext = lanes['entry'], lanes['exit']
        _swipe(ent, 'W26:1')
        eq(ent.out('motor_up'), 1, 'granted: the arm opens')
        _swipe(ent, 'W26:1')
        eq(_last(ent, 'access.denied')['reason'], 'anti_passback', 'a second entry without an exit')
        _swipe(ext, 'W26:1')
        eq(_last(ext, 'access.granted')['uses_left'], 1, 'an exit does not use up a use')
        _swipe(ext, 'W26:1')
        eq(_last(ext, 'access.denied')['reason'], 'anti_passback', 'two exits')
        _swipe(ent, 'W26:1')
        eq(_last(ent, 'access.granted')['uses_left'], 0, 'entry after exit')
        ent.c._fault('motor_timeout', ent.t)
        _swipe(ext, 'W26:1')
        _swipe(ent, 'W26:1')
        eq(_last(ent, 'access.denied')['reason'], 'no_uses_left', 'used up')
    _in(t)()


def case_barrier_fault_refuses_and_keeps_the_use():
    def t():
        import barrier
        import access
        import cardstore
        _store([_rec('W26:1', holder=11, groups=1, uses=3)])
        c = barrier.Barrier('lane', {})
        c.access = access.Access(c, W.Wiegand('lane.reader'), cardstore.Store())
        b = Bench(c)
        c._fault('motor_timeout', b.t)
        _swipe(b, 'W26:1')
        eq(_last(b, 'access.denied')['reason'], 'barrier_fault', 'the arm cannot open: refused')
        check(c.access.store.find(R.key(SALT, 'W26:1')) >= 0 and c.access.store.u16(R.O_USES) == 3,
              'the use is kept')
    _in(t)()


# --- deltas ------------------------------------------------------------------------------
KEY = b'k' * 32


class _App:
    """What cardsync needs of the runtime."""
    def __init__(self):
        import door
        import access
        import cardstore
        cardstore._store = None
        self.key = KEY
        self.device = 'lobby-1'
        c = door.Door('front', {'access_group': 0})
        c.access = access.Access(c, W.Wiegand('front.reader'))
        self.ctrls = {'front': c}
        self.dirty = {}
        self.wake = None


_ctr = [0]


def _send(app, frm, to, parts, part, recs, salt=SALT, key=KEY, sign=True, extra=None, once=False):
    import signing
    import cardsync
    import config
    a = {'from': frm, 'to': to, 'parts': parts, 'part': part,
         'recs': binascii.hexlify(b''.join(recs)).decode()}
    if frm == 0 and part == 0:
        a['salt'] = binascii.hexlify(salt).decode()
    if extra:
        a.update(extra)
    if sign:
        _ctr[0] = max(_ctr[0] + 1, wall_ms() - 1000)
        a['ctr'] = _ctr[0]
        f = dict(a)
        f['id'] = 'c%d' % _ctr[0]
        f['op'] = 'cards'
        a['sig'] = signing.sign(key, 'lobby-1', cardsync.SIGNED_AS, f)
    if once:        # as the runtime loads it: for this part only
        return config.once('cardsync', 'command', app, a, 'c%d' % _ctr[0])
    return cardsync.command(app, a, 'c%d' % _ctr[0])


def _recs(cards, **kw):
    out = [_rec(c, **kw) for c in cards]
    out.sort()
    return [b for k, b in out]


def case_delta_in_parts_then_a_change_keeps_board_counts():
    def t():
        import cardstore
        gc.collect()
        app = _App()
        rs = _recs(['W26:%d' % i for i in range(10)], holder=5, groups=1, uses=4, uses_rev=1)
        eq(_send(app, 0, 1, 2, 0, rs[:6], once=True), (None, {'cards': 0, 'part': 0}), 'part 0 taken, not yet in force')
        eq(_send(app, 0, 1, 2, 1, rs[6:])[0], None, 'last part')
        st = cardstore.get()
        eq((st.version, st.count), (1, 10), 'version 1 with 10 cards')
        eq(app.dirty, {'front': True}, 'the reader\'s state (its version) is published again')
        b = Bench(app.ctrls['front'])
        _swipe(b, 'W26:3')
        eq(_last(b, 'access.granted')['uses_left'], 3, 'a use counted on the board')
        changed = _recs(['W26:3'], holder=6, groups=1, uses=4, uses_rev=1)    # same uses_rev: keep the count
        gone = _recs(['W26:4'], state=R.DELETE)
        new = _recs(['W26:77'], holder=7, groups=1)
        allr = sorted(changed + gone + new)
        eq(_send(app, 1, 2, 1, 0, allr)[0], None, 'delta 1->2')
        eq((st.version, st.count), (2, 10), 'one deleted, one added')
        _swipe(b, 'W26:3')
        g = _last(b, 'access.granted')
        eq((g['holder'], g['uses_left']), (6, 2), 'holder changed, the board\'s count kept')
        _swipe(b, 'W26:4')
        eq(_last(b, 'access.denied')['reason'], 'unknown', 'deleted')
        _swipe(b, 'W26:77')
        check(_last(b, 'access.granted')['holder'] == 7, 'added')
    _in(t)()


def case_delta_refusals_change_nothing():
    def t():
        import cardstore
        gc.collect()
        app = _App()
        rs = _recs(['W26:1', 'W26:2'], groups=1)
        eq(_send(app, 0, 1, 1, 0, rs)[0], None, 'base')
        st = cardstore.get()
        before = open('cards.db', 'rb').read()
        bad = (
            (lambda: _send(app, 5, 6, 1, 0, rs), 'delta from version 5: this board has 1'),   # not the board's
            (lambda: _send(app, 1, 2, 2, 1, rs), 'out of order'),                # part 1 without part 0
            (lambda: _send(app, 1, 2, 1, 0, rs, sign=False), 'unsigned'),
            (lambda: _send(app, 1, 2, 1, 0, rs, key=b'x' * 32), 'bad signature'),  # another board's key
            (lambda: _send(app, 1, 2, 1, 0, [rs[1], rs[0]]), 'rising key order'),
            (lambda: _send(app, 1, 2, 1, 0, [rs[0][:39]]), 'whole records'),
            (lambda: _send(app, 1, 2, 1, 0, rs, extra={'parts': 0}), 'parts'),
        )
        for fn, why in bad:
            err = fn()[0]
            check(err and why in err, '%s: refused (%s)' % (why, err))
            eq(st.version, 1, why + ': version kept')
            eq(open('cards.db', 'rb').read(), before, why + ': store untouched')
        app.key = None
        check('no key' in _send(app, 1, 2, 1, 0, rs)[0], 'a board without a key takes no delta')
    _in(t)()


def case_power_cut_at_every_write_of_a_delta_leaves_a_whole_version():
    def t():
        import cardsync
        import cardstore
        app = _App()
        base = _recs(['W26:%d' % i for i in range(6)], groups=1)
        eq(_send(app, 0, 1, 1, 0, base)[0], None, 'base')
        delta = sorted(_recs(['W26:%d' % i for i in range(3, 9)], holder=9, groups=1))
        writes = [0]
        real_open = open

        class Cut(Exception):
            pass

        class F:
            def __init__(self, f):
                self.f = f

            def write(self, b):
                writes[0] -= 1
                if writes[0] < 0:
                    raise Cut()
                return self.f.write(b)

            def __getattr__(self, k):
                return getattr(self.f, k)

            def __enter__(self):
                return self

            def __exit__(self, *a):
                self.f.close()

        def cut_open(p, mode='r'):
            f = real_open(p, mode)
            return F(f) if 'w' in mode or 'a' in mode or '+' in mode else f

        n = 0
        while True:
            writes[0] = n
            cardsync.open = cut_open
            import sys
            sys.modules['cardsync'] = cardsync      # (config.once would load it afresh)
            try:
                err = None
                try:
                    err = cardsync.command(app, _args(app, 1, 2, 2, 0, delta[:3]), 'c')[0] or \
                        cardsync.command(app, _args(app, 1, 2, 2, 1, delta[3:]), 'c')[0]
                    done = True
                except Cut:
                    done = False
            finally:
                del cardsync.open
            st = cardstore.get()
            st.load()
            if done:
                eq((err, st.version, st.count), (None, 2, 9), 'all writes done: version 2')
                break
            eq((st.version, st.count), (1, 6), 'cut at write %d: version 1 whole' % n)
            check(st.find(R.key(SALT, 'W26:5')) >= 0 and st.u32(8) == 0, 'the old record still there')
            app.cards_pending = None
            n += 1
        check(n > 5, 'cut at %d writes' % n)
    _in(t)()


def _args(app, frm, to, parts, part, recs):
    import signing
    import cardsync
    _ctr[0] = max(_ctr[0] + 1, wall_ms() - 1000)
    a = {'from': frm, 'to': to, 'parts': parts, 'part': part, 'recs': binascii.hexlify(b''.join(recs)).decode(),
         'ctr': _ctr[0]}
    f = dict(a)
    f['id'] = 'c'
    f['op'] = 'cards'
    a['sig'] = signing.sign(KEY, 'lobby-1', cardsync.SIGNED_AS, f)
    return a


def case_ten_thousand_cards_found_on_flash_in_2_kb_of_heap():
    def t():
        import cardstore
        n = 10000
        rec = bytearray(R.pack(b'\0' * 8, holder=0, groups=1))
        with open('cards.db', 'wb') as f:
            f.write(R.header(3, n, SALT))
            for i in range(n):      # keys 3, 6, 9 ... (big-endian): sorted, with gaps between
                struct.pack_into('>Q', rec, 0, 3 * i + 3)
                struct.pack_into('>I', rec, 8, i)
                f.write(rec)
        gc.collect()
        before = gc.mem_alloc() if hasattr(gc, 'mem_alloc') else 0
        st = cardstore.Store()
        for i in range(0, n, 97):
            k = struct.pack('>Q', 3 * i + 3)
            eq(st.find(k), i, 'card %d found' % i)
            eq(st.u32(8), i, 'its record')
            eq(st.find(struct.pack('>Q', 3 * i + 4)), -1, 'a key between two is absent')
        eq(st.find(struct.pack('>Q', 0)), -1, 'below the first')
        eq(st.find(struct.pack('>Q', 3 * n + 3)), -1, 'above the last')
        gc.collect()
        if hasattr(gc, 'mem_alloc'):
            held = gc.mem_alloc() - before
            check(held <= 2048, 'the store holds %d bytes of heap with 10,000 cards' % held)
    _in(t)()


def case_unknown_cards_tried_in_a_row_cannot_fill_the_outbox():
    def t():
        _store([_rec('W26:1', holder=11, groups=4)])
        b = _door()
        for i in range(40):
            _swipe(b, 'W26:%d' % (1000 + i))
        denied = [e for e in b.events if e[1] == 'access.denied']
        eq(len(denied), 10, 'ten unknown cards a minute are recorded')
        eq(b.c.access.denied, 40, 'every one counted')
        b.run(60000)
        _swipe(b, 'W26:5000')
        eq(_last(b, 'access.denied').get('suppressed'), 30, 'the next one says how many were not recorded')
        _swipe(b, 'W26:1')
        check(_last(b, 'access.granted'), 'a known card is never held back')
    _in(t)()
