# QA rig firmware: runs on a second ESP32 wired to the board under test (DUT). It drives
# the DUT's inputs, timestamps the DUT's outputs' edges in microseconds, and talks to the
# host over its serial console with the line protocol in protocols/rig-serial.md.
# In simulation the same code runs on the MicroPython unix port over a pty, with its
# "pins" wired to a simulated DUT's virtual wires (rig_pins_sim).
import sys
import select
import time

FW = 'rig-0.2.0'
MAX_LINE = 120


class RigError(Exception):
    pass


def _pins():
    if sys.platform == 'esp32':
        import rig_pins_esp32
        return rig_pins_esp32.Pins()
    import rig_pins_sim
    return rig_pins_sim.Pins()


class Rig:
    def __init__(self, pins, out):
        self.pins = pins
        self.out = out

    def reply(self, line):
        self.out.write(line + '\n')

    def handle(self, line):
        p = line.split()
        if not p:
            return
        op = p[0].upper()
        try:
            if op == 'PING':
                self.reply('OK PONG %s' % FW)
            elif op == 'CLOCK' and len(p) == 1:
                self.reply('OK %d' % time.ticks_us())
            elif op == 'OUT' and len(p) == 2:          # this rig pin drives a DUT input
                self.pins.output(int(p[1]))
                self.reply('OK')
            elif op == 'IN' and len(p) == 2:           # this rig pin watches a DUT output
                self.pins.watch(int(p[1]))
                self.reply('OK')
            elif op == 'SET' and len(p) == 3 and p[2] in ('0', '1'):
                t = self.pins.set(int(p[1]), int(p[2]))
                self.reply('OK %d' % t)
            elif op == 'LEVEL' and len(p) == 3 and p[2].isdigit() and int(p[2]) <= 100:
                t = self.pins.level(int(p[1]), int(p[2]))   # analog DUT input, % of full scale
                self.reply('OK %d' % t)
            elif op == 'GET' and len(p) == 2:
                v, t = self.pins.get(int(p[1]))
                self.reply('OK %d %d' % (v, t))
            else:
                self.reply('ERR unknown or malformed request (PING, CLOCK, OUT n, IN n, SET n 0|1, LEVEL n 0..100, GET n)')
        except (ValueError, RigError, OSError) as e:
            self.reply('ERR %s' % e)

    def pump_edges(self):
        for pin, v, t in self.pins.edges():
            self.reply('E %d %d %d' % (pin, v, t))


def main():
    pins = _pins()
    rig = Rig(pins, sys.stdout)
    poll = select.poll()
    poll.register(sys.stdin, select.POLLIN)
    buf = ''
    rig.reply('READY %s' % FW)
    while True:
        if poll.poll(1):
            c = sys.stdin.read(1)
            if c == '':
                return                      # the host closed the line (simulation)
            if c in '\r\n':
                if buf:
                    rig.handle(buf)
                buf = ''
            elif len(buf) < MAX_LINE:
                buf += c
        pins.service()
        rig.pump_edges()
