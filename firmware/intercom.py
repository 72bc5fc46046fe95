# Gate call station: call button, gate strike, call LED, optional line supervision.
#
# Call (CALL_T):   IDLE -> RINGING            `call` pressed (debounced), line not faulted
#                  RINGING -> ANSWERED        `answer` naming the call
#                  RINGING/ANSWERED -> IDLE   `hangup`, ring_timeout_s / talk_timeout_s, line fault
# Strike (STRIKE_T): SHUT -> RELEASED (`unlock` naming the answered call) -> SHUT after strike_s.
# Every call has an id (`call` in its events and commands) and ends exactly once with
# intercom.ended {reason: hangup | timeout | line_fault | blocked}. The LED blinks while ringing
# (a "no answer" pattern while the board is offline), is steady while answered.
# Blocking (`block` / `unblock` from the console): a blocked station opens no call; its
# presses are counted (ignored_presses), its LED shows BLOCKED_LED, a call open when it is
# blocked ends (reason blocked); intercom.blocked {blocked, by, ignored} records each change.
# Each station is its own controller: several ring at once and each is answered on its own.
from compat import const
from clock import ticks_diff
from ctrl_base import Controller, SEV_INFO, SEV_WARN

IDLE = const(0)
RINGING = const(1)
ANSWERED = const(2)
NAMES = ('idle', 'ringing', 'answered')
CALL_T = (
    (IDLE, RINGING), (RINGING, ANSWERED),
    (RINGING, IDLE), (ANSWERED, IDLE),
)
SHUT = const(0)
RELEASED = const(1)
STRIKE_T = ((SHUT, RELEASED), (RELEASED, SHUT))

# LED patterns: alternating on/off durations in ms, starting with on
RINGING_LED = (500, 500)
NO_ANSWER_LED = (100, 100, 100, 700)   # ringing with the network down: nobody can answer
BLOCKED_LED = (100, 1900)              # blocked by the control room: a short flash every 2 s
MAX_BY = const(32)


def pattern_on(pattern, ms):
    """Whether a blink pattern is lit `ms` after it started."""
    total = 0
    for d in pattern:
        total += d
    ms %= total
    on = True
    for d in pattern:
        if ms < d:
            return on
        ms -= d
        on = not on
    return on


class Intercom(Controller):
    TYPE = 'intercom'
    SIGNED = ('unlock',)    # with a key on the board, these need a signed, fresh command
    INPUTS = ('call', 'line')
    OUTPUTS = ('strike', 'led')
    OPTIONAL = ('line', 'led')
    SAFE = {'strike': 0, 'led': 0}      # on any error the gate stays shut

    @classmethod
    def supervised_inputs(cls, cfg):
        # the line input exists for supervision: supervise it whenever it is wired
        return ('line',) if 'line' in (cfg.get('pins') or {}) else ()

    def __init__(self, name, cfg):
        Controller.__init__(self, name, cfg)
        self.ring_ms = int(self.num('ring_timeout_s') * 1000)
        self.talk_ms = int(self.num('talk_timeout_s') * 1000)
        self.strike_ms = int(self.num('strike_s') * 1000)
        self.st = IDLE
        self.strike = SHUT
        self.call_id = None
        self.calls = 0             # calls opened since boot
        self.since = 0             # when the call entered its state
        self.by = None             # who answered
        self.released_at = 0
        self.ignored = 0           # presses ignored on a faulted line or while blocked
        self.blocked = False       # blocked from the console: presses open no call
        self.blocked_at = 0
        self.blocked_presses = 0   # presses ignored during the current block
        self.now = 0
        self.out('strike', 0)
        self.out('led', 0)

    # --- inputs -------------------------------------------------------------------------
    def on_input(self, sig, v, now):
        if sig != 'call' or not v:
            return
        if self.line_faults or self.blocked:
            self.ignored += 1      # isolation: a shorted button cannot flood the control room
            if self.blocked:
                self.blocked_presses += 1
            self.changed = True
            return
        if self.st != IDLE:
            return                 # a second press joins the call already open
        self.calls += 1
        self.call_id = self.boot * 1000 + (self.calls - 1) % 999 + 1
        self.st = self.go(CALL_T, self.st, RINGING)
        self.since = now
        self.by = None
        self.emit('intercom.call', SEV_INFO, {'call': self.call_id})

    def on_line_fault(self, sig, why, now):
        if self.st != IDLE:
            self._end('line_fault', now)

    def _end(self, reason, now):
        cid = self.call_id
        self.st = self.go(CALL_T, self.st, IDLE)
        self.emit('intercom.ended', SEV_INFO, {'call': cid, 'reason': reason,
                                               's': ticks_diff(now, self.since) // 1000})
        self.since = now
        self.by = None

    # --- time ---------------------------------------------------------------------------
    def on_tick(self, now):
        self.now = now
        if self.st == RINGING and ticks_diff(now, self.since) >= self.ring_ms:
            self._end('timeout', now)
        elif self.st == ANSWERED and ticks_diff(now, self.since) >= self.talk_ms:
            self._end('timeout', now)
        if self.strike == RELEASED and ticks_diff(now, self.released_at) >= self.strike_ms:
            self.strike = self.go(STRIKE_T, self.strike, SHUT)
            self.out('strike', 0)
        self.out('led', self._led(now))

    def _led(self, now):
        if self.blocked:
            return 1 if pattern_on(BLOCKED_LED, ticks_diff(now, self.blocked_at)) else 0
        if self.st == ANSWERED:
            return 1
        if self.st == RINGING:
            pat = RINGING_LED if self.online else NO_ANSWER_LED
            return 1 if pattern_on(pat, ticks_diff(now, self.since)) else 0
        return 0

    def led_pattern(self):
        if self.blocked:
            return 'blocked'
        if self.st == ANSWERED:
            return 'steady'
        if self.st == RINGING:
            return 'ringing' if self.online else 'no_answer'
        return 'off'

    # --- commands -----------------------------------------------------------------------
    def _which(self, args):
        """The call a command names, as an int; or the reason it cannot be read."""
        c = args.get('call')
        if isinstance(c, str) and c.isdigit() and len(c) < 10:
            c = int(c)
        if isinstance(c, bool) or not isinstance(c, int):
            return None, "'call' must be the call id from intercom.call (%s)" % self._current()
        return c, None

    def _current(self):
        if self.st == IDLE:
            return 'no call open on %s' % self.name
        return 'call %d is %s' % (self.call_id, NAMES[self.st])

    def _mine(self, args):
        c, err = self._which(args)
        if err:
            return err
        if self.st == IDLE or c != self.call_id:
            return 'no call %d on %s: %s' % (c, self.name, self._current())
        return None

    def cmd_answer(self, args, now):
        err = self._mine(args)
        if err:
            return err
        if self.st == ANSWERED:
            return 'call %d already answered%s' % (self.call_id, ' by ' + self.by if self.by else '')
        self.by = _by(args)
        self.st = self.go(CALL_T, self.st, ANSWERED)
        self.since = now
        f = {'call': self.call_id}
        if self.by:
            f['by'] = self.by
        self.emit('intercom.answered', SEV_INFO, f)
        self.out('led', 1)
        return None

    def cmd_hangup(self, args, now):
        err = self._mine(args)
        if err:
            return err
        self._end('hangup', now)
        self.out('led', 0)
        return None

    def cmd_unlock(self, args, now):
        err = self._mine(args)
        if err:
            return 'unlock refused: ' + err
        if self.st != ANSWERED:
            return 'unlock refused: call %d is not answered yet' % self.call_id
        if self.strike == SHUT:
            self.strike = self.go(STRIKE_T, self.strike, RELEASED)
        self.released_at = now     # a second unlock in the call holds the gate again
        self.out('strike', 1)
        self.emit('intercom.unlock', SEV_INFO, {'call': self.call_id, 's': self.strike_ms // 1000})
        return None

    def cmd_block(self, args, now):
        by = _by(args)
        if self.blocked:
            return None            # already blocked: nothing changes, nothing recorded twice
        if self.st != IDLE:
            self._end('blocked', now)
        self.blocked = True
        self.blocked_at = now
        self.blocked_presses = 0
        self._blocked_event({'blocked': True}, by)
        self.out('led', self._led(now))
        return None

    def cmd_unblock(self, args, now):
        if not self.blocked:
            return None
        self.blocked = False
        self._blocked_event({'blocked': False, 'ignored': self.blocked_presses}, _by(args))
        self.out('led', self._led(now))
        return None

    def _blocked_event(self, f, by):
        if by:
            f['by'] = by
        self.emit('intercom.blocked', SEV_WARN, f)

    def state(self):
        return {
            'blocked': self.blocked,
            'blocked_presses': self.blocked_presses,
            'call': NAMES[self.st],
            'call_id': self.call_id if self.st != IDLE else None,
            'by': self.by,
            'strike': self.outputs.get('strike', 0),
            'led': self.led_pattern(),
            'line_fault': self.line_fault(),
            'ignored_presses': self.ignored,
            'calls': self.calls,
        }


def _by(args):
    """Who a command names (`by`), bounded; None when it names nobody."""
    by = args.get('by')
    return by[:MAX_BY] if isinstance(by, str) and by else None


CONTROLLER = Intercom
