# What every controller shares: inputs through debouncers, outputs as a dict the runtime
# applies, events queued for the event path, explicit state transitions, command dispatch.
from debounce import Debounce
import settings

SEV_INFO = 'info'
SEV_WARN = 'warn'
SEV_ALARM = 'alarm'


class ControllerError(Exception):
    pass


_OPS = {}       # controller type -> its ops (Controller.ops)


class Controller:
    TYPE = ''
    INPUTS = ()        # logical input names this controller reads
    OUTPUTS = ()       # logical output names it drives
    OPTIONAL = ()      # inputs/outputs that may be left unwired
    SAFE = {}          # output -> value on any error
    DEBOUNCE = 'debounce_ms'
    FAST = {}          # input -> its own debounce setting, or None: no debounce (react on the edge)
    SIGNED = ()        # ops that need a signed command when the board has a key (signing.py)
    FIRE_LINKED = False   # True: takes part in the site fire linkage (fire.py calls site_fire)
    boot = 0           # the board's boot count (the runtime sets it): ids unique across reboots
    online = False     # the board reaches the broker (the runtime keeps it current)
    access = None      # access.Access when the config wires a card reader (reader_d0/d1)

    @classmethod
    def analog_inputs(cls, cfg):
        """Inputs read as analog values (percent of full scale) under this config."""
        return tuple(getattr(cls, 'ANALOG', ())) + tuple(cls.supervised_inputs(cfg))

    @classmethod
    def supervised_inputs(cls, cfg):
        """Inputs on an end-of-line resistor line under this config: read analog through a
        LineSupervisor; a cut or shorted line is `<type>.fault`, never a reading."""
        return ()

    @classmethod
    def safe_values(cls, cfg):
        """Output values on any error, and in safe mode."""
        return cls.SAFE

    def __init__(self, name, cfg):
        self.SAFE = self.safe_values(cfg)
        self.name = name
        self.cfg = cfg
        self.outputs = {}
        self.events = []
        self.changed = True   # state snapshot needs publishing
        self.error = None
        self._deb = {}
        pins = cfg.get('pins')
        for sig in self.INPUTS:
            if pins is not None and sig not in pins and sig in self.OPTIONAL:
                continue        # an optional input left unwired: no debouncer held for it (heap, issue 16)
            fast = self.FAST.get(sig, self.DEBOUNCE)
            self._deb[sig] = Debounce(self.num(fast) if fast else 0)
        for sig in self.OUTPUTS:
            self.outputs[sig] = self.SAFE.get(sig, 0)
        self._sup = {}
        self.line_faults = {}      # supervised input -> 'open' / 'short'
        sups = self.supervised_inputs(cfg)
        if sups:       # only a board with end-of-line supervised inputs loads supervision
            import supervision
            for sig in sups:       # a line's own debounce (FAST) if it has one, else the controller's
                fast = self.FAST.get(sig, self.DEBOUNCE)
                self._sup[sig] = supervision.LineSupervisor(self.num(fast) if fast else 0)

    # --- the runtime calls these -------------------------------------------------------
    def input(self, sig, raw, now):
        """A raw sample or edge of an input. Debounced inputs reach on_input when stable."""
        sup = self._sup.get(sig)
        if sup is not None:      # a supervised line: the supervisor debounces its bands
            self._line(sig, sup.feed(raw, now), now)
            return
        d = self._deb.get(sig)
        if d is None:
            if sig == 'reader' and self.access is not None:     # a frame came in
                self.access.poll(now)
            return
        v = d.feed(raw, now)
        if v is not None:
            self.on_input(sig, v, now)

    def tick(self, now):
        for sig in self._sup:
            self._line(sig, self._sup[sig].poll(now), now)
        for sig in self._deb:
            if sig in self._sup:
                continue
            v = self._deb[sig].poll(now)
            if v is not None:
                self.on_input(sig, v, now)
        if self.access is not None:
            self.access.poll(now)
        self.on_tick(now)

    def _line(self, sig, cond, now):
        """A supervised line's new stable condition: faults raise and clear `<type>.fault`
        (reason `<sig>_line_open` / `_short`,
        or `line_open` for an input called line); a normal line passes idle/active on as 0/1."""
        if cond is None:
            return
        import supervision      # (loaded by __init__ for a supervised line)
        was = self.line_faults.get(sig)
        if cond == supervision.OPEN or cond == supervision.SHORT:
            why = (sig if sig == 'line' else sig + '_line') + '_' + supervision.NAMES[cond]
            if was != why:
                if was:
                    self.alarm(self.TYPE + '.fault', False, {'reason': was})
                self.line_faults[sig] = why
                self.alarm(self.TYPE + '.fault', True, {'reason': why})
                self.on_line_fault(sig, why, now)
            return
        if was:
            del self.line_faults[sig]
            self.alarm(self.TYPE + '.fault', False, {'reason': was})
        self.on_input(sig, 1 if cond == supervision.ACTIVE else 0, now)

    def line_faulted(self, sig):
        return sig in self.line_faults

    def line_fault(self):
        """The first active line fault (for state snapshots), or None."""
        for sig in self.line_faults:
            return self.line_faults[sig]
        return None

    def command(self, op, args, now):
        """Run a command; returns None when accepted, else the reason it was refused."""
        ops = self.ops()
        if op not in ops:       # before getattr: that would keep every name asked for (a qstr) for good
            return "unknown op '%s' for %s (ops: %s)" % (op, self.TYPE, ', '.join(ops))
        return getattr(self, 'cmd_' + op)(args, now)

    def ops(self):
        """The ops of this controller type, found once per type: dir() of an instance lists
        ~80 names (~0.75 KB of heap at 32 bits), too much to build for every command."""
        t = type(self)
        out = _OPS.get(t)
        if out is None:
            out = []
            for k in dir(t):
                if k.startswith('cmd_'):
                    out.append(k[4:])
            out.sort()
            out = _OPS[t] = tuple(out)
        return out

    def cmd_status(self, args, now):
        self.changed = True
        return None

    def safe(self, why):
        """Drive every output to its safe value; the controller stays faulted."""
        self.error = short(why)
        for sig in self.OUTPUTS:
            self.outputs[sig] = self.SAFE.get(sig, 0)
        self.changed = True

    def value(self, sig):
        d = self._deb.get(sig)
        return d.value if d is not None else 0

    def opened(self, sig):
        """Whether input `sig` reads open / active now (an intrusion zone watches it)."""
        return bool(self.value(sig))

    def bind(self, ctrls):
        """Every controller of the board is wired ({name: controller}): a controller that
        watches others finds them here."""
        pass

    # --- for subclasses ------------------------------------------------------------------
    def on_input(self, sig, value, now):
        pass

    def on_tick(self, now):
        pass

    def on_line_fault(self, sig, why, now):
        pass

    def site_fire(self, active, now):
        """For a FIRE_LINKED controller: the site's fire state is `active` (True at boot when the
        site is in fire, then on every change; False only after the control room's reset)."""
        pass

    def access_grant(self, now):
        """A card passed at this controller's reader: let the holder through; None, or why
        it cannot (the card is then refused with that reason, and keeps its uses)."""
        raise ControllerError('%s has no way to let a card holder through' % self.TYPE)

    def fire_input(self):
        """True while this controller's own fire input reports fire (it raises the site's)."""
        return False

    def state(self):
        return {}

    def snapshot(self):
        s = self.state()
        s['type'] = self.TYPE
        low = self.cfg.get('active_low')
        if low:     # the physical truth of inverted outputs: the pin's level beside the logical state
            pins = {}
            for sig in low:
                if sig in self.outputs:
                    pins[sig] = 0 if self.outputs[sig] else 1
            if pins:
                s['inverted_pins'] = pins
        if self.access is not None:
            s['access'] = self.access.state()
        if self.error:
            s['error'] = self.error
        return s

    def out(self, sig, v):
        if self.outputs.get(sig) != v:
            self.outputs[sig] = v
            self.changed = True

    def emit(self, etype, sev, fields=None):
        self.events.append((etype, sev, fields))
        self.changed = True

    def alarm(self, etype, active, fields=None):
        f = {'active': active}
        if fields:
            for k in fields:
                f[k] = fields[k]
        self.emit(etype, SEV_ALARM, f)

    def go(self, table, old, new):
        """Check a transition against the controller's table; an illegal one is a bug."""
        if (old, new) not in table:
            raise ControllerError('illegal transition %s -> %s in %s' % (old, new, self.name))
        self.changed = True
        return new

    def setting(self, key):
        """A setting of this controller: its value in the config, else the default that
        protocols/controllers.json declares (settings_spec)."""
        return settings.get(self.cfg, key, self.TYPE)

    def num(self, key):
        """A numeric setting; a wrong type is refused with its name (never half-applied)."""
        v = self.setting(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ControllerError('%s must be a number' % key)
        return v


def short(s, n=160):
    """Bound a message carried in an event or ack (errors can quote whole inputs)."""
    s = str(s)
    return s if len(s) <= n else s[:n - 3] + '...'
