# Rig pins on an ESP32: outputs drive the DUT's inputs; inputs take an edge interrupt
# that stamps time.ticks_us() in the handler (hard IRQ, no allocation) into a ring.
import machine
import time
from rigfw import RigError

RING = 64


class Pins:
    def __init__(self):
        self.outs = {}
        self.ins = {}
        self.dacs = {}
        self._pin = [0] * RING
        self._val = [0] * RING
        self._t = [0] * RING  # type: list
        self._w = 0
        self._r = 0

    def output(self, n):
        self.outs[n] = machine.Pin(n, machine.Pin.OUT, value=0)

    def watch(self, n):
        p = machine.Pin(n, machine.Pin.IN)
        self.ins[n] = p
        def handler(pin, n=n):
            self._irq(n, pin)
        p.irq(handler=handler, trigger=machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING, hard=True)

    def _irq(self, n, pin):
        i = self._w % RING
        self._pin[i] = n
        self._val[i] = pin.value()
        self._t[i] = time.ticks_us()
        self._w += 1

    def set(self, n, v):
        p = self.outs.get(n)
        if p is None:
            raise RigError('pin %d is not an OUT pin' % n)
        p.value(v)
        return time.ticks_us()

    def level(self, n, pct):
        # an analog DUT input from the 8-bit DAC (GPIO25/26 on an ESP32): 0..100 % of 3.3 V
        if n not in self.outs:
            raise RigError('pin %d is not an OUT pin' % n)
        d = self.dacs.get(n)
        if d is None:
            try:
                d = machine.DAC(machine.Pin(n))
            except ValueError:
                raise RigError('pin %d has no DAC (GPIO25, GPIO26)' % n)
            self.dacs[n] = d
        d.write(pct * 255 // 100)
        return time.ticks_us()

    def get(self, n):
        p = self.ins.get(n) or self.outs.get(n)
        if p is None:
            raise RigError('pin %d is not configured' % n)
        return p.value(), time.ticks_us()

    def service(self):
        pass

    def edges(self):
        out = []
        while self._r < self._w:
            i = self._r % RING
            out.append((self._pin[i], self._val[i], self._t[i]))
            self._r += 1
        return out
