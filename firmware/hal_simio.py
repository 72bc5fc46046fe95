# The simulated board's I/O line protocol (protocols/sim-io.md) for hal_sim.SimHal, loaded
# for each request and then dropped (a board has no such server; the simulator's heap stays
# a board's).
import asyncio
import json
import os
from clock import ticks_us, wall_ms, set_wall_ms
from hal_sim import FAULT_BOOT, _hang


def handle(self, line, w=None):
    """A request of protocols/sim-io.md on a SimHal: the reply line(s)."""
    parts = line.split()
    if not parts:
        return ''
    op = parts[0]
    if op == 'get' and len(parts) == 2:
        s = self.signals.get(parts[1])
        if s is None:
            return _unknown(self, parts[1])
        return '= %s %d\n' % (s.name, s.value())
    if op == 'set' and len(parts) == 3:
        s = self.signals.get(parts[1])
        if s is None:
            return _unknown(self, parts[1])
        if s.is_output:
            return 'err %s is an output: only the firmware drives it\n' % s.name
        if hasattr(s, 'is_reader'):
            return 'err %s is a card reader: it takes frames (bits)\n' % s.name
        analog = getattr(s, 'analog', False)
        if not (parts[2] in ('0', '1') or analog and parts[2].isdigit() and int(parts[2]) <= 100):
            return 'err value must be %s\n' % ('0..100' if analog else '0 or 1')
        v = int(parts[2])
        if analog:
            s.raw.level = v     # an analog wire carries the number, not a logic level
        else:
            s.value(v)
        self._notify('edge %s %d %d\n' % (s.name, v, ticks_us()))
        if self._edge is not None:
            self._edge(s)       # the reaction first, as an interrupt would run it
        self._save()
        return 'ok %s %d\n' % (s.name, v)
    if op == 'bits' and len(parts) == 3:
        return _bits(self, parts[1], parts[2])
    if op == 'list':
        out = ''
        names = sorted(self.signals)
        for n in names:
            s = self.signals[n]
            out += '= %s %d %s\n' % (n, s.value(), 'out' if s.is_output else 'reader' if hasattr(s, 'is_reader') else 'in')
        return out + '.\n'
    if op == 'watch':
        if w is not None:
            self._watchers.append(w)
        return 'ok watch\n'
    if op == 'clock':
        if len(parts) == 2:
            try:
                set_wall_ms(int(parts[1]))
            except ValueError:
                return 'err clock needs milliseconds since 1970\n'
        return '= clock %d\n' % wall_ms()
    if op == 'fault' and len(parts) == 2:
        return _fault(self, parts[1])
    if op == 'info':
        d = dict(self.info)
        if self.info_fn is not None:
            d.update(self.info_fn())
        return '= info %s\n' % json.dumps(d)
    return 'err unknown request %r (get, set, bits, list, watch, clock, fault, info)\n' % line[:40]


def _bits(self, name, bits):
    """One frame from a card reader, as its D0/D1 pulses: '0'/'1' each, 2 ms apart."""
    r = self.signals.get(name)
    if r is None or not hasattr(r, 'is_reader'):
        return 'err no reader %s\n' % name[:40]
    if not bits or len(bits) > 64 or bits.strip('01'):
        return 'err bits must be 1..64 of 0 and 1\n'
    t = ticks_us()
    for c in bits:
        r.bit(1 if c == '1' else 0, t)
        t += 2000
    r.end()
    if self._edge is not None:
        self._edge(r)       # decided at once, as the board's loop does on the frame's end
    return 'ok %s %d\n' % (name, len(bits))

def _fault(self, kind):
    """Fault injection for tests: only the simulated board has these."""
    if kind == 'hang':          # the control loop's thread stops: only the watchdog helps
        asyncio.create_task(_hang())
        return 'ok fault hang\n'
    if kind == 'crash_boot':    # every boot from now on dies wiring its inputs
        with open(FAULT_BOOT, 'w') as f:
            f.write('1')
        return 'ok fault crash_boot\n'
    if kind == 'clear':
        try:
            os.remove(FAULT_BOOT)
        except OSError:
            pass
        return 'ok fault clear\n'
    return 'err fault must be hang, crash_boot or clear\n'

def _unknown(self, name):
    return 'err no signal %s (known: %s)\n' % (name, ' '.join(sorted(self.signals)))
