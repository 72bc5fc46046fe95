# Rig pins in simulation: each rig pin is wired to a simulated DUT's signal through the
# DUT's virtual wires (protocols/sim-io.md). rig-wiring.json in the rig's folder says
# {"dut_io_port": N, "pins": {"<rig pin>": "<ctrl>.<signal>"}}. An edge reported by the
# DUT is stamped with the rig's own clock on arrival, as the ESP32 rig's interrupt does.
import json
import socket
import select
import time
from rigfw import RigError


class Pins:
    def __init__(self, path='rig-wiring.json'):
        with open(path) as f:
            w = json.load(f)
        self.wire = {}
        for k in w['pins']:
            self.wire[int(k)] = w['pins'][k]
        self.by_name = {}
        for n in self.wire:
            self.by_name[self.wire[n]] = n
        self.ctl = self._connect(w['dut_io_port'])
        self.ev = self._connect(w['dut_io_port'])
        self.ev.send(b'watch\n')
        self._evbuf = b''
        self._wait_line(self.ev)
        self.outs = {}
        self.ins = {}
        self.levels = {}
        self._edges = []
        self._poll = select.poll()
        self._poll.register(self.ev, select.POLLIN)

    def _connect(self, port):
        s = socket.socket()
        s.connect(socket.getaddrinfo('127.0.0.1', port)[0][-1])
        return s

    def _wait_line(self, s):
        data = b''
        while not data.endswith(b'\n'):
            c = s.recv(1)
            if not c:
                raise RigError('DUT wires closed')
            data += c
        return data.decode().strip()

    def _req(self, line):
        self.ctl.send(line.encode() + b'\n')
        r = self._wait_line(self.ctl)
        if r.startswith('err '):
            raise RigError('DUT: ' + r[4:])
        return r

    def _name(self, n):
        name = self.wire.get(n)
        if name is None:
            raise RigError('rig pin %d is not wired to the DUT' % n)
        return name

    def output(self, n):
        self._name(n)
        self.outs[n] = True
        self.set(n, 0)

    def watch(self, n):
        self.ins[n] = True
        self.levels[n] = int(self._req('get ' + self._name(n)).split()[2])

    def set(self, n, v):
        if n not in self.outs:
            raise RigError('pin %d is not an OUT pin' % n)
        t = time.ticks_us()
        self._req('set %s %d' % (self._name(n), v))
        return t

    def level(self, n, pct):
        return self.set(n, pct)          # virtual wires carry analog values as they are

    def get(self, n):
        return int(self._req('get ' + self._name(n)).split()[2]), time.ticks_us()

    def service(self):
        while self._poll.poll(0):
            chunk = self.ev.recv(256)
            if not chunk:
                raise RigError('DUT wires closed')
            self._evbuf += chunk
            t = time.ticks_us()
            while b'\n' in self._evbuf:
                line, self._evbuf = self._evbuf.split(b'\n', 1)
                q = line.decode().split()
                if len(q) == 4 and q[0] == 'edge':
                    n = self.by_name.get(q[1])
                    if n is not None and n in self.ins:
                        v = int(q[2])
                        if self.levels.get(n) != v:
                            self.levels[n] = v
                            self._edges.append((n, v, t))

    def edges(self):
        out = self._edges
        self._edges = []
        return out
