# Intrusion zone (brief §19): a set of openings on this board (other controllers' inputs
# named in `members`, e.g. "front.contact rear.contact", and the zone's own sensor inputs
# s1..s4) that raises zone.intrusion on ANY opening while armed, not only a forced one.
#
# States (ZONE_T): DISARMED; EXIT (armed, exit_s for the people leaving: openings ignored);
# ARMED; ENTRY (an opening: entry_s to disarm); ALARM (zone.intrusion until `disarm`).
# One key arms: the `arm` command (monitor, web, `edgectl zone arm`) or the zone's `arm`
# input. Disarming is the `disarm` command only, signed by the control room after it has
# checked the operator's PIN (SIGNED; the board never sees a PIN). Every arm and disarm
# names who did it. The state is kept in a file: a reboot or power cut does not disarm.
from compat import const
from clock import ticks_diff
from ctrl_base import Controller, ControllerError, SEV_INFO, SEV_WARN

DISARMED = const(0)
EXIT = const(1)
ARMED = const(2)
ENTRY = const(3)
ALARM = const(4)
NAMES = ('disarmed', 'exit_delay', 'armed', 'entry_delay', 'intrusion')
ZONE_T = (
    (DISARMED, EXIT),
    (EXIT, ARMED), (EXIT, DISARMED),
    (ARMED, ENTRY), (ARMED, ALARM), (ARMED, DISARMED),
    (ENTRY, ALARM), (ENTRY, DISARMED),
    (ALARM, DISARMED),
)
OWN = ('s1', 's2', 's3', 's4')
MAX_BY = const(32)


class Zone(Controller):
    TYPE = 'zone'
    SIGNED = ('disarm',)     # with a key on the board only the control room can disarm
    INPUTS = ('arm',) + OWN
    OUTPUTS = ('armed',)     # a lamp at the keypad: on while armed
    OPTIONAL = INPUTS + OUTPUTS
    FILE = 'zone_%s.json'    # the armed state across reboots (None: not kept, as in the cases)

    def __init__(self, name, cfg):
        Controller.__init__(self, name, cfg)
        self.exit_ms = int(self.num('exit_s') * 1000)
        self.entry_ms = int(self.num('entry_s') * 1000)
        self.members = self.setting('members').replace(',', ' ').split()
        self.watch = []          # (controller, signal) of the members, bound by the runtime
        self.st = DISARMED
        self.since = None        # (None: from the first tick; a restored delay starts afresh)
        self.by = None           # who armed (or disarmed) it last
        self.member = None       # what opened
        self.path = self.FILE % name if self.FILE else None
        if self.path:
            try:
                import config
                d = config.read_json(self.path)
                st = d.get('st')
                if isinstance(st, int) and not isinstance(st, bool) and 0 <= st <= ALARM:
                    self.st = st             # EXIT and ENTRY start their delay afresh
                    self.by = d.get('by')
                    self.member = d.get('member')
            except (OSError, ValueError, AttributeError):
                pass
        self.out('armed', 0 if self.st == DISARMED else 1)

    def bind(self, ctrls):
        """The runtime's controllers by name: find each member input (a bad one refuses the config)."""
        for m in self.members:
            c, _, sig = m.partition('.')
            ctrl = ctrls.get(c)
            if ctrl is None or sig not in ctrl.INPUTS or ctrl is self:
                raise ControllerError('zone %s: member %s is not an input of a controller on this board' % (
                    self.name, m))
            self.watch.append((ctrl, sig))

    def _go(self, new, now):
        self.st = self.go(ZONE_T, self.st, new)
        self.since = now
        self.out('armed', 0 if new == DISARMED else 1)
        if self.path:
            try:
                import config
                config.write_json(self.path, {'st': new, 'by': self.by, 'member': self.member})
            except OSError:
                pass

    def opening(self):
        """The first member or own sensor open now, or None."""
        for ctrl, sig in self.watch:
            if ctrl.opened(sig):
                return ctrl.name + '.' + sig
        for sig in OWN:
            if self.value(sig):
                return sig
        return None

    # --- inputs and time ----------------------------------------------------------------------
    def on_input(self, sig, v, now):
        if sig == 'arm' and v:
            self._arm(now, 'input')     # the key at the zone: one press arms, never disarms

    def on_tick(self, now):
        st = self.st
        if self.since is None:
            self.since = now
        age = ticks_diff(now, self.since)
        if st == EXIT and age >= self.exit_ms:
            self._go(ARMED, now)
            self.emit('zone.armed', SEV_INFO, {'by': self.by})
        elif st == ARMED:
            m = self.opening()
            if m is not None:
                self.member = m
                if self.entry_ms:
                    self._go(ENTRY, now)
                    self.emit('zone.entry', SEV_WARN, {'member': m, 's': self.entry_ms // 1000})
                else:
                    self._intrusion(now)
        elif st == ENTRY and age >= self.entry_ms:
            self._intrusion(now)

    def _intrusion(self, now):
        self._go(ALARM, now)
        self.alarm('zone.intrusion', True, {'member': self.member})

    # --- commands -----------------------------------------------------------------------------
    def _arm(self, now, by):
        if self.st != DISARMED:
            return
        self.by = by
        self.member = None
        self._go(EXIT, now)
        self.emit('zone.arming', SEV_INFO, {'by': by, 'exit_s': self.exit_ms // 1000})

    def _who(self, args):
        by = args.get('by')
        return by[:MAX_BY] if isinstance(by, str) and by else None

    def cmd_arm(self, args, now):
        by = self._who(args)
        if by is None:
            return "'by' must name who arms the zone"
        self._arm(now, by)
        return None

    def cmd_disarm(self, args, now):
        by = self._who(args)
        if by is None:
            return "'by' must name who disarms the zone"
        if self.st == DISARMED:
            return None
        was = self.st
        self.by = by
        self._go(DISARMED, now)
        if was == ALARM:
            self.alarm('zone.intrusion', False, {'member': self.member, 'by': by})
        self.emit('zone.disarmed', SEV_INFO, {'by': by})
        return None

    def state(self):
        return {'state': NAMES[self.st], 'armed': self.st != DISARMED, 'by': self.by,
                'member': self.member if self.st in (ENTRY, ALARM) else None,
                'open': self.opening()}


CONTROLLER = Zone
