"""A rig for fault injection: a persistent mosquitto, several simulated boards producing
events continuously, a persistent-session journal subscriber, and a tally of what was
raised, delivered, duplicated and lost. Used by the fault suite and `edgectl bench outage`."""
import json
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt

from ..core import site as sitemod
from ..core.broker import Broker, free_port
from ..core.errors import EdgeError
from ..room.journal import Journal
from ..core.proto import topics
from ..sim.sim import SimBoard, Supervisor
from ..sim.simio import SimIO

SITE = 'fi'


def site_text(n, outbox_max=3000):
    devs = ''.join('''
  f%d:
    board: esp32-devkitc
    outbox_max: %d
    backoff_max_s: 4
    healthy_s: 5
    controllers:
      - name: front
        type: door
        pins: {contact: 4, rex: 13, lock: 25, buzzer: 26}
        debounce_ms: 10
''' % (i + 1, outbox_max) for i in range(n))
    return 'site: %s\nbroker: {host: 127.0.0.1, port: 1883}\ndevices:%s' % (SITE, devs)


class Load:
    """Toggles every board's door contact: each open/close cycle raises four events
    (opened, forced, closed, forced cleared). Survives boards going away and coming back."""

    def __init__(self, boards, period_s=0.2):
        self.boards = boards
        self.period = period_s
        self.halt = threading.Event()
        self.cycles = 0
        self.t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.t.start()
        return self

    def _run(self):
        ios = {}
        level = 0
        while not self.halt.is_set():
            level ^= 1
            for b in self.boards:
                try:
                    io = ios.get(b.device)
                    if io is None:
                        io = ios[b.device] = SimIO(b.io_port, timeout=0.5)
                    io.set('front.contact', level)
                except (EdgeError, OSError):
                    io = ios.pop(b.device, None)
                    if io:
                        io.close()
            self.cycles += level
            self.halt.wait(self.period)
        for b in self.boards:        # leave every door closed
            try:
                io = ios.get(b.device) or SimIO(b.io_port, timeout=0.5)
                io.set('front.contact', 0)
                io.close()
            except (EdgeError, OSError):
                pass

    def stop(self):
        self.halt.set()
        self.t.join(5)


class FaultRig:
    def __init__(self, work, n_boards=3, outbox_max=3000):
        self.work = Path(work)
        self.broker = Broker(port=free_port(), workdir=self.work / 'broker', persistence=True)
        self.site = sitemod.parse(site_text(n_boards, outbox_max), 'fault-site.yaml')
        sitemod.validate(self.site)
        if self.site.errors:
            raise EdgeError(str(self.site.errors))
        self.boards = []
        self.journal = Journal()
        self.arrivals = {}        # device -> time of the last new event
        self.online = {}
        self.sup = None
        self.client = None
        self.n = n_boards

    # --- setup ----------------------------------------------------------------------------
    def start(self):
        self.broker.start()
        self._journal_connect()      # the control room is listening before any board speaks
        addr = {'host': self.broker.host, 'port': self.broker.port}
        for i in range(self.n):
            dev = 'f%d' % (i + 1)
            cfg = sitemod.device_config(self.site, dev, addr)
            self.boards.append(SimBoard(cfg, self.work / dev).provision().start())
        self.sup = Supervisor(self.boards)
        return self

    def _journal_connect(self):
        # a persistent session: the broker keeps what arrives while the journal is away
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id='journal-%s' % uuid.uuid4().hex[:6],
                        clean_session=False)
        c.reconnect_delay_set(0.1, 1)

        def on_connect(client, userdata, flags, rc, props=None):
            client.subscribe([(topics.base(SITE, '+') + 'evt/+', 1), (topics.base(SITE, '+') + 'status', 1)])

        def on_message(client, userdata, msg):
            p = topics.parse(msg.topic)
            try:
                body = json.loads(msg.payload)
            except ValueError:
                return
            if p[2] == 'status':
                self.online[p[1]] = bool(body.get('online'))
            elif self.journal.add(p[1], body) == 'new':
                self.arrivals[p[1]] = time.monotonic()

        subscribed = threading.Event()
        c.on_connect = on_connect
        c.on_message = on_message
        c.on_subscribe = lambda *a: subscribed.set()
        c.connect(self.broker.host, self.broker.port, keepalive=10)
        c.loop_start()
        if not subscribed.wait(5):
            raise EdgeError('the journal could not subscribe')
        self.client = c

    def stop(self):
        if self.client:
            from ..core.mqttc import close
            close(self.client)
        if self.sup:
            self.sup.stop()
        for b in self.boards:
            b.stop()
        self.broker.stop()

    # --- measuring ------------------------------------------------------------------------
    def board_info(self, b):
        io = SimIO(b.io_port, timeout=2)
        try:
            return io.info()
        finally:
            io.close()

    def tally(self, infos=None):
        """Raised, delivered, lost per the boards' own counters. `infos` (device -> board
        info) makes it the tally of that one snapshot: events raised after it are not yet
        counted as raised, so one still in flight is not taken for lost."""
        out = {'raised': 0, 'delivered': 0, 'lost': 0, 'dropped_on_board': 0}
        for b in self.boards:
            info = infos[b.device] if infos else self.board_info(b)
            raised = info['seq']
            gaps = self.journal.gaps(b.device, raised)
            lost = sum(last - first + 1 for first, last in gaps)
            out['raised'] += raised
            out['delivered'] += sum(1 for s in range(1, raised + 1) if self.journal.has(b.device, s))
            out['lost'] += lost
            out['dropped_on_board'] += info['dropped']
        out['duplicates_dropped'] = self.journal.duplicates
        out['out_of_order'] = self.journal.out_of_order
        return out

    def settle(self, timeout=60):
        """Wait until every board's outbox is empty, every raised event is in the journal and
        every board is online. Returns the tally of that moment; raises EdgeError with it on
        timeout."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            try:
                infos = {}
                ok = True
                for b in self.boards:
                    info = infos[b.device] = self.board_info(b)
                    if info['outbox'] or self.journal.gaps(b.device, info['seq']) or not self.online.get(b.device):
                        ok = False
                        break
                if ok:
                    return self.tally(infos)
            except (EdgeError, OSError) as e:
                last = e
            time.sleep(0.2)
        try:
            t = self.tally()
        except (EdgeError, OSError) as e:
            t = {'error': str(e)}
        raise EdgeError('not settled in %.0f s: %s (last error: %s); logs: %s' % (
            timeout, t, last, ', '.join(str(b.log) for b in self.boards)))

    def last_arrival(self):
        return max(self.arrivals.values()) if self.arrivals else None
