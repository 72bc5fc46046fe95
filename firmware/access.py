# Card access on a door or a barrier: frames from its reader (wiegand.Reader), a decision
# from the card store on flash (cardstore.py) taken offline, and the controller opens
# (Controller.access_grant: the door's lock for unlock_s, the barrier's arm). Loaded only on
# a board whose config wires a reader (pins reader_d0, reader_d1).
#
# Decisions, in this order: unknown, revoked, lost (an alarm), clock_not_set (a card with
# dates or hours on a board whose clock was never set), not_yet_valid, expired,
# wrong_door (access_group not in the card's groups), outside_hours, no_uses_left,
# anti_passback (reader_dir 1 entry: refused while the card is inside; 2 exit: while
# outside), then a card that needs a PIN waits pin_timeout_s for the keys and '#':
# pin_wrong / pin_timeout; the PIN + 1 (duress) opens and raises a silent access.duress.
# Every swipe is access.granted or access.denied (warn) with the card's reference (the
# first 8 bytes of its salted hash, hex) and the holder, never the card's number; unknown
# cards at most 10 a minute per reader (the rest counted: `suppressed` in the next one).
import cardrec
import cardstore
import schedule
from clock import wall_ms, ticks_us, ticks_diff
from ctrl_base import SEV_INFO, SEV_WARN
from ratelimit import RateLimit
from cardrec import O_USES, O_FLAGS, O_APB, UNLIMITED, F_PIN

TIME_KNOWN_S = 1700000000


def attach(app, ctrl, c):
    """Wire the controller's reader and give it an Access."""
    pins = c['pins']
    r = app.io.reader(c['name'] + '.reader', pins['reader_d0'], pins['reader_d1'])
    ctrl.access = Access(ctrl, r)
    app.by_signal[r.name] = ctrl
    import sys
    if 'cardsync' not in sys.modules:   # its names (qstrs) now, while the heap is in one piece
        import cardsync                 # (as bringup does for the other code loaded on demand:
        del sys.modules['cardsync']     # a new qstr pool at the first delta could fail)


def hexkey(k):
    return ''.join('%02x' % b for b in k)


class Access:
    def __init__(self, ctrl, reader, store=None):
        self.c = ctrl
        self.r = reader
        self.store = store or cardstore.get()
        self.group = int(ctrl.num('access_group'))
        self.dir = int(ctrl.num('reader_dir'))
        self.pin_ms = int(ctrl.num('pin_timeout_s') * 1000)
        self.tz = int(ctrl.num('tz_offset_min'))
        self.keys = ''
        self.wait = None        # (index, key) of a card waiting for its PIN
        self.wait_at = 0
        self.granted = 0
        self.denied = 0
        self.alarms = {}        # access.lost_card / access.duress -> True while raised
        self.strangers = RateLimit(10, 60000)   # unknown cards: someone trying cards cannot fill the outbox

    def poll(self, now):
        """Frames the reader finished, then the PIN wait's timeout."""
        fr = self.r.take(ticks_us())
        while fr is not None:
            try:
                if fr[0] == 'card':
                    self.card(fr[1], now)
                elif fr[0] == 'key':
                    self.key(fr[1], now)
                else:
                    self.c.changed = True       # the count of refused frames is in the state
            except OSError as e:    # the store unreadable: refused (the door stays as it is)
                self.wait = None
                self.denied += 1
                self.c.emit('access.denied', SEV_WARN, {'reason': 'store_error', 'err': str(e)})
            fr = self.r.take(ticks_us())
        if self.wait is not None and ticks_diff(now, self.wait_at) >= self.pin_ms:
            i, k = self.wait
            self.wait = None
            self._deny(k, 'pin_timeout')

    def card(self, text, now):
        st = self.store
        self.wait = None
        self.keys = ''
        k = cardrec.key(st.salt, text)
        i = st.find(k) if st.salt else -1
        if i < 0:
            n = self.strangers.take(now)
            if n < 0:       # over the limit: counted, and said with the next one let through
                self.denied += 1
                return
            return self._deny(k, 'unknown', False, n)
        why = self._check(wall_ms() // 1000)
        if why:
            return self._deny(k, why)
        if st.buf[O_FLAGS] & F_PIN:
            self.wait = (i, k)
            self.wait_at = now
            self.c.changed = True
            return
        self._grant(i, k, now, 'card')

    def _check(self, t):
        """Why the card in the store's buffer may not pass here now, or None."""
        st = self.store
        state = st.buf[O_FLAGS] & 3
        if state:
            return cardrec.STATES[state]
        vfrom, until, days = st.u32(16), st.u32(20), st.buf[24]
        if (vfrom or until or days) and t < TIME_KNOWN_S:
            return 'clock_not_set'      # validity and hours need the time: never guessed
        if vfrom and t < vfrom:
            return 'not_yet_valid'
        if until and t >= until:
            return 'expired'
        if not st.u32(12) >> self.group & 1:
            return 'wrong_door'
        if days and not schedule.active(((st.u16(25), st.u16(27), days),), (), t * 1000, self.tz):
            return 'outside_hours'
        if self.dir != 2 and st.u16(O_USES) == 0:
            return 'no_uses_left'
        if self.dir and st.buf[O_APB] == self.dir:
            return 'anti_passback'
        return None

    def key(self, ch, now):
        if ch == '*':
            self.keys = ''
        elif ch == '#':
            pin, self.keys = self.keys, ''
            if self.wait is not None:
                i, k = self.wait
                self.wait = None
                self._pin(i, k, pin, now)
        elif len(self.keys) < 8:
            self.keys += ch

    def _pin(self, i, k, pin, now):
        st = self.store
        if st.find(k) != i:         # the store changed meanwhile: decided again
            return self._deny(k, 'unknown', False)
        why = self._check(wall_ms() // 1000)
        if why:
            return self._deny(k, why)
        want = st.u32(32)
        if pin and cardrec.pin_hash(st.salt, k, pin) == want:
            return self._grant(i, k, now, 'card+pin')
        real = _less_one(pin)       # the PIN + 1: under duress
        if real and cardrec.pin_hash(st.salt, k, real) == want:
            self._alarm('access.duress', k)
            return self._grant(i, k, now, 'card+pin', True)
        self._deny(k, 'pin_wrong')

    def _alarm(self, etype, k):
        """Raised on the swipe; cleared by the next ordinary grant at this reader."""
        self.alarms[etype] = True
        self.c.alarm(etype, True, {'card': hexkey(k), 'holder': self.store.u32(8)})

    def _grant(self, i, k, now, by, duress=False):
        st = self.store
        why = self.c.access_grant(now)
        if why:
            return self._deny(k, why)
        if not duress:
            for etype in self.alarms:
                self.c.alarm(etype, False)
            self.alarms = {}
        uses = st.u16(O_USES)
        if self.dir != 2 and uses != UNLIMITED:
            uses -= 1
            st.write(i, O_USES, bytes(((uses >> 8) & 255, uses & 255)))
        if self.dir and st.buf[O_APB] != self.dir:
            st.write(i, O_APB, bytes((self.dir,)))
        self.granted += 1
        f = {'card': hexkey(k), 'holder': st.u32(8), 'by': by}
        if uses != UNLIMITED:
            f['uses_left'] = uses
        self.c.emit('access.granted', SEV_INFO, f)

    def _deny(self, k, why, known=True, suppressed=0):
        self.denied += 1
        f = {'card': hexkey(k), 'reason': why}
        if known:
            f['holder'] = self.store.u32(8)
        if suppressed:
            f['suppressed'] = suppressed
        self.c.emit('access.denied', SEV_WARN, f)
        if why == 'lost':       # a lost card in use: someone else has it
            self._alarm('access.lost_card', k)

    def state(self):
        return {'cards': self.store.version, 'granted': self.granted, 'denied': self.denied,
                'bad_frames': self.r.bad, 'pin_wait': self.wait is not None}


def _less_one(pin):
    """The PIN whose duress code (PIN + 1, same length) was typed, or None."""
    if not pin or not pin.isdigit() or int(pin) == 0:
        return None
    s = str(int(pin) - 1)
    return '0' * (len(pin) - len(s)) + s
