# The site's fire state on one board (firmware/fire.py) and the board's name rule
# (config.check), on CPython and the MicroPython unix port.
import json
import config
import signing
import topics
from fire import SiteFire, FireLinkage, CTRL
from ctrl_base import Controller
from harness import check, eq, in_tmpdir

KEY = b'0123456789abcdef0123456789abcdef'
OTHER = b'fedcba9876543210fedcba9876543210'
RAISE = topics.fire_raise('s', 'lobby-1')
RESET = topics.fire_reset('s', 'lobby-2')


def raise_(after, by='lobby-1/front'):
    return json.dumps({'active': True, 'by': by, 'ts': 1, 'after': after})


def reset(ctr, key=KEY, device='lobby-2', by='guard'):
    body = {'active': False, 'by': by, 'ctr': ctr}
    if key:
        body['sig'] = signing.sign(key, device, CTRL, body)
    return json.dumps(body)


def board(key=KEY):
    return SiteFire('s', 'lobby-2', key)


def case_a_raise_sets_the_site_in_fire_and_only_its_own_signed_reset_ends_it():
    def run():
        f = board()
        eq((f.raises + '+', f.reset_topic), (topics.fire_raise('s', '+'), RESET), 'raise topics, its own reset')
        ev, err = f.message(RAISE, raise_(0))
        eq((ev, err, f.active), ({'active': True, 'by': 'lobby-1/front'}, None, True), 'raised')
        ev, err = f.message(RESET, reset(100, key=None))
        check(ev is None and 'unsigned' in err and f.active, 'unsigned reset: %r' % err)
        ev, err = f.message(RESET, reset(100, key=OTHER))
        check(ev is None and err == 'bad signature' and f.active, "another board's key: %r" % err)
        ev, err = f.message(RESET, reset(100, device='lobby-1'))
        check(ev is None and err == 'bad signature' and f.active, 'signed for another board: %r' % err)
        ev, err = f.message(RESET, reset(100))
        eq((ev, err, f.active), ({'active': False, 'by': 'guard'}, None, False), 'its own signed reset')
        eq(f.message(RESET, reset(100)), (None, None), 'the retained copy again: nothing, quietly')
        ev, err = f.message(RESET, reset(90))
        check(ev is None and 'replayed' in err, 'an older reset: %r' % err)
    in_tmpdir('fire1', run)


def case_raises_older_than_the_last_reset_are_stale_newer_ones_hold_the_fire():
    def run():
        f = board()
        f.message(RAISE, raise_(0))
        f.message(RESET, reset(100))
        eq(f.message(RAISE, raise_(0)), (None, None), 'the retained raise from before the reset')
        check(not f.active, 'a stale raise does not set the fire state again')
        ev, _ = f.message(RAISE, raise_(100))
        check(ev is not None and f.active, 'a raise made after that reset')
        ev, err = f.message(RESET, reset(100 - 1))
        check(err is not None and f.active, 'an older reset')
        g = board()                        # a reboot: state and last reset kept
        check(g.active and g.reset == 100, 'kept across a reboot')
        g.message(RAISE, raise_(250))      # heard before the reset arrives
        ev, err = g.message(RESET, reset(200))
        eq((ev, err, g.active), ({'active': True, 'by': 'lobby-1/front'}, None, True),
           'a reset older than a raise it did not know of keeps the fire state')
    in_tmpdir('fire2', run)


def case_a_raise_from_the_future_cannot_outlast_the_next_reset():
    # a raiser's login forged `after` far ahead of every reset: with the board's clock set it
    # is taken as raised now, in fire at once, and the control room's next reset ends it
    from clock import wall_ms

    def run():
        f = board()
        now = wall_ms()
        ev, err = f.message(RAISE, raise_(now + 10 ** 12))
        check(ev is not None and err is None and f.active, 'a forged raise still sets the fire state (fail-safe)')
        ev, err = f.message(RESET, reset(now + 1000))
        eq((ev, err, f.active), ({'active': False, 'by': 'guard'}, None, False), 'the next reset ends it')
    in_tmpdir('fire-future', run)


def case_own_raise_carries_the_newest_reset_and_is_published_once():
    def run():
        f = board()
        f.message(RESET, reset(300))
        eq(f.raise_own('lobby-2/rear'), {'active': True, 'by': 'lobby-2/rear'}, 'in fire at once')
        eq(f.raise_own('lobby-2/rear'), None, 'once')
        t, p = f.pending()
        eq(t, topics.fire_raise('s', 'lobby-2'), 'its own raise topic')
        eq((json.loads(p)['after'], json.loads(p)['active']), (300, True), 'after the newest reset it knows')
        f.out = None
        eq(f.pending(), None, 'sent')
    in_tmpdir('fire3', run)


def case_a_board_that_refuses_a_reset_still_raises_after_it():
    def run():
        f = board(key=OTHER)               # its key does not match the site's secrets
        ev, err = f.message(RESET, reset(400))
        check(err == 'bad signature' and ev is None, 'refused: %r' % err)
        f.raise_own('lobby-2/rear')        # then its detector goes off
        eq(json.loads(f.pending()[1])['after'], 400, 'its raise counts for the boards that took that reset')
    in_tmpdir('fire6', run)


def case_malformed_fire_messages_are_refused_and_change_nothing():
    def run():
        f = board()
        for bad in ('[]', '{"active": true}', '{"active": "yes", "after": 1}', '{"active": true, "after": true}',
                    'not json', '7'):
            ev, err = f.message(RAISE, bad)
            check(ev is None and err and not f.active, 'raise %r: %r' % (bad, err))
        eq(f.message(RAISE, ''), (None, None), 'a deleted raise')
        f.message(RAISE, raise_(0))
        for bad in ('{}', '{"active": false}', '{"active": false, "ctr": -1}', '{"active": true, "ctr": 5}', '[1]'):
            ev, err = f.message(RESET, bad)
            check(ev is None and err and f.active, 'reset %r: %r' % (bad, err))
        eq(f.message(RESET, ''), (None, None), 'a deleted reset')
        check(f.active, 'still in fire')
    in_tmpdir('fire4', run)


def case_a_board_without_a_key_takes_unsigned_resets_in_order():
    def run():
        f = board(key=None)
        f.message(RAISE, raise_(0))
        ev, err = f.message(RESET, reset(50, key=None))
        check(ev is not None and not f.active, 'unsigned reset on an unsecured site')
        f.message(RAISE, raise_(50))
        ev, err = f.message(RESET, reset(40, key=None))
        check(err is not None and f.active, 'an older reset: %r' % err)
    in_tmpdir('fire5', run)


class Recall(Controller):
    """A controller type that joins the fire linkage (as a lift recall would): FIRE_LINKED and
    site_fire; it also has a fire detector of its own."""
    TYPE = 'recall'
    FIRE_LINKED = True

    def __init__(self, name):
        Controller.__init__(self, name, {'debounce_ms': 20})
        self.heard = []
        self.detector = False

    def site_fire(self, active, now):
        self.heard.append(active)

    def fire_input(self):
        return self.detector


class Unlinked(Recall):
    FIRE_LINKED = False


class StubApp:
    """What the linkage uses of the runtime (firmware/app.py)."""
    site, device = 's', 'lobby-2'

    def __init__(self, ctrls):
        self.ctrls = {}
        for c in ctrls:
            self.ctrls[c.name] = c
        self.events = []

    def event(self, etype, sev, fields=None):
        self.events.append((etype, fields))

    def _run(self, ctrl, fn, *args):
        return fn(*args)


def case_the_linkage_drives_every_controller_that_declares_it_and_no_other():
    def run():
        lift, pump = Recall('lift'), Unlinked('pump')
        app = StubApp([lift, pump])
        f = FireLinkage(app, KEY)
        f.heard(RAISE, raise_(0))
        eq((lift.heard, pump.heard), ([True], []), 'a raise heard: only the linked controller')
        eq(app.events, [('system.site_fire', {'active': True, 'by': 'lobby-1/front'})], 'reported')
        f.heard(RAISE, raise_(0))
        eq(lift.heard, [True], 'once per change')
        after = FireLinkage(StubApp([]), KEY)        # a reboot: the state from fire.json
        lift2, pump2 = Recall('lift'), Unlinked('pump')
        after.join(lift2)
        after.join(pump2)
        eq((lift2.heard, pump2.heard), ([True], []), 'at boot a linked controller takes the last state')
        f.heard(RESET, 'not json')
        eq((app.events[-1][0], lift.heard), ('system.site_fire_rejected', [True]), 'a refused reset changes nothing')
        f.heard(RESET, reset(100))
        eq((lift.heard, pump.heard), ([True, False], []), 'its own signed reset ends it')
        pump.detector = True
        f.watch(pump)
        eq((f.active, lift.heard, app.events[-1]),
           (True, [True, False, True], ('system.site_fire', {'active': True, 'by': 'lobby-2/pump'})),
           "a controller's own fire detector raises the site's fire state")
        check(f.pending() is not None, 'and the raise waits to be published')
    in_tmpdir('fire-link', run)


def good_cfg():
    return {'site': 's', 'device': 'lobby-1', 'broker': {'host': 'h', 'port': 1},
            'controllers': [{'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'lock': 25}}]}


def case_the_board_refuses_reserved_and_malformed_names():
    config.check(good_cfg())
    bad = ('system', 'control-room', 'a/b', 'a+b', 'a#', 'front\n', 'fr\x01ont', '', '-x', 'Front', 'x' * 33, 7)
    for name in bad:
        for where in ('device', 'site', 'ctrl'):
            cfg = good_cfg()
            if where == 'ctrl':
                cfg['controllers'][0]['name'] = name
            else:
                cfg[where] = name
            try:
                config.check(cfg)
                ok = True
            except config.ConfigError:
                ok = False
            check(not ok, '%s name %r accepted' % (where, name))
    cfg = good_cfg()
    cfg['controllers'][0]['name'] = 'front_2'
    config.check(cfg)                       # controllers may have '_'
    eq(topics.bad_name('lobby_1') is None, False, "devices may not")
