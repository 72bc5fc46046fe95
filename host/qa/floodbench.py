"""`edgectl bench flood`: the fullest board (full-1 of host/data/heap-site.yaml: a door, a
barrier with its arm plant, a pump, a call station; ROMFS layout; the board profile's
heap) takes a command flood as the control room sends it (signed as `edgectl cmd` signs,
status and real operations and some meant to be refused), then loses its broker for a
while as it keeps raising events (its door forced open and held, calls at its call
station, driven on its wires), and gets it back. Figures: the lowest heap free the board
saw (its tele `heap_min`), commands acknowledged / refused / unanswered, events raised /
delivered / lost / duplicated, and what the outage took to drain. `vm`: another
MicroPython unix port (as `bench boot-heap --vm`), e.g. a 32-bit one, an ESP32's word size."""
import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt

from ..core import boards, site as sitemod
from ..core.broker import Broker, free_port
from ..core.errors import EdgeError
from ..core.mqttc import close as close_client, connect
from ..core.proto import signing, topics
from ..room.journal import Journal
from ..sim.sim import SimBoard
from ..sim.simio import SimIO
from .heapbench import BENCH_SECRETS, DEFAULT_SITE, vm_info
from .benchkit import workspace

DEVICE = 'full-1'


class VmBoard(SimBoard):
    """A simulated board run on another MicroPython unix port (None: the default one)."""
    vm = None

    def spawn(self, mode, reset='power'):
        argv, env, cwd = SimBoard.spawn(self, mode, reset)
        if self.vm:
            argv[0] = self.vm
        return argv, env, cwd


class Listener:
    """The control room's side: a persistent session (the broker keeps what comes while it
    is down or this client is away) taking the board's events into a Journal, its acks by
    id and its tele."""

    def __init__(self, broker, site, device):
        self.journal = Journal()
        self.acks = {}
        self.tele = []
        self.online = False
        base = topics.base(site, device)
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id='flood-room-%s' % uuid.uuid4().hex[:6],
                        clean_session=False)
        c.reconnect_delay_set(0.1, 1)
        subscribed = threading.Event()
        c.on_connect = lambda cl, u, f, rc, p=None: cl.subscribe(base + '#', 1)
        c.on_subscribe = lambda *a: subscribed.set()
        c.on_message = lambda cl, u, msg: self._on(base, msg)
        c.connect(broker.host, broker.port, keepalive=10)
        c.loop_start()
        if not subscribed.wait(5):
            raise EdgeError('the flood bench could not subscribe')
        self.client = c
        self.device = device

    def _on(self, base, msg):
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        kind = msg.topic[len(base):]
        if kind.startswith('evt/'):
            self.journal.add(self.device, body)
        elif kind.startswith('ack/') and isinstance(body, dict):
            self.acks[body.get('id')] = body
        elif kind == 'tele' and isinstance(body, dict):
            self.tele.append(body)
        elif kind == 'status' and isinstance(body, dict):
            self.online = bool(body.get('online'))

    def heap(self):
        """(lowest heap_min, lowest heap_free) over the tele so far."""
        mins = [t['heap_min'] for t in self.tele if isinstance(t.get('heap_min'), int)]
        frees = [t['heap_free'] for t in self.tele if isinstance(t.get('heap_free'), int)]
        return (min(mins) if mins else None), (min(frees) if frees else None)

    def close(self):
        close_client(self.client)


def command_mix(n, device, key, now_ms=None):
    """n commands as (ctrl, body, meant_ok): per ten, a status to each controller, the door
    unlocked (signed) and locked, the call station's LED state asked again, and three meant
    to be refused: an unlock without a signature, an unknown op, a controller the board
    lacks. Signed ones carry a rising counter from this host's clock, as `edgectl cmd`."""
    ctr = now_ms or int(time.time() * 1000)
    out = []
    for i in range(n):
        k = i % 10
        cid = 'fl-%d' % i
        ctrl, body, ok = {
            0: ('front', {'op': 'status'}, True), 1: ('bar', {'op': 'status'}, True),
            2: ('pool', {'op': 'status'}, True), 3: ('call', {'op': 'status'}, True),
            4: ('front', {'op': 'unlock', 's': 1}, True), 5: ('front', {'op': 'lock'}, True),
            6: ('system', {'op': 'status'}, True),
            7: ('front', {'op': 'unlock'}, False), 8: ('bar', {'op': 'fly'}, False),
            9: ('lift', {'op': 'status'}, False)}[k]
        body = dict(body, id=cid)
        if k == 4:
            ctr += 1
            body['ctr'] = ctr
            body['sig'] = signing.sign(key, device, ctrl, body)
        out.append((ctrl, body, ok))
    return out


def _info(b):
    io = SimIO(b.io_port, timeout=2)
    try:
        return io.info()
    finally:
        io.close()


def _raise_events(b, halt, period_s):
    """Drive the board's inputs until `halt`: the door forced open and held (then closed),
    a call at the call station. Returns nothing; survives a board that does not answer."""
    io = None
    level = 0
    while not halt.is_set():
        try:
            if io is None:
                io = SimIO(b.io_port, timeout=1)
            level ^= 1
            io.set('front.contact', level)
            io.set('call.call', level)
        except (EdgeError, OSError):
            if io:
                io.close()
            io = None
        halt.wait(period_s)
    try:
        io = io or SimIO(b.io_port, timeout=1)
        io.set('front.contact', 0)
        io.set('call.call', 0)
        io.close()
    except (EdgeError, OSError):
        pass


def _next_tele(room, timeout=5):
    """Wait for a tele newer than those heard so far."""
    n = len(room.tele)
    end = time.monotonic() + timeout
    while len(room.tele) == n and time.monotonic() < end:
        time.sleep(0.05)


def _settle(b, room, timeout):
    """Until the board's outbox is empty, every event it raised is in the journal and it is
    online; returns its info then (or the last one on timeout)."""
    end = time.monotonic() + timeout
    info = None
    while time.monotonic() < end:
        try:
            info = _info(b)
        except (EdgeError, OSError):
            time.sleep(0.2)
            continue
        if not info['outbox'] and room.online and not room.journal.gaps(room.device, info['seq']):
            return info, True
        time.sleep(0.1)
    return info, False


def flood(commands=1000, outage_s=30, vm=None, event_period_s=0.25, backoff_max_s=4, heap_kb=None, progress=None):
    """heap_kb: the board's heap (default: its profile's); the rest as the module says."""
    info = vm_info(vm)
    site = sitemod.load_valid(DEFAULT_SITE)
    heap_kb = heap_kb or boards.load(site.devices[DEVICE]['board'])['heap_kb']
    key = bytes.fromhex(BENCH_SECRETS['cmd_key'])
    out = {'name': 'flood', 'device': DEVICE, 'site': str(DEFAULT_SITE), 'layout': 'romfs', 'heap_kb': heap_kb,
           'vm': info, 'commands': commands, 'outage_s': outage_s}
    with workspace(broker=False) as (work, _):
        br = Broker(port=free_port(), workdir=work / 'broker', persistence=True)
        br.start()
        cfg = sitemod.device_config(site, DEVICE, {'host': br.host, 'port': br.port})
        cfg.update(tele_s=1, backoff_max_s=backoff_max_s)
        b = VmBoard(cfg, work / DEVICE, heap_kb=heap_kb, secret=BENCH_SECRETS)
        b.vm = None if vm is None else info['path']
        room = cmd = None
        try:
            room = Listener(br, cfg['site'], DEVICE)
            b.provision().start()
            b.start_plants()
            end = time.monotonic() + 20
            while not (room.online and room.tele) and time.monotonic() < end:
                time.sleep(0.05)
            if not room.online:
                raise EdgeError('the flood bench board did not come online:\n' + b.log_tail())
            out['heap_min_before'], _ = room.heap()

            # the flood: every command published at once (QoS 1), the board paces itself
            cmd = connect(br.host, br.port, 'flood-cmd')
            mix = command_mix(commands, DEVICE, key)
            t0 = time.monotonic()
            for ctrl, body, _ in mix:
                cmd.publish(topics.cmd(cfg['site'], DEVICE, ctrl), json.dumps(body), qos=1)
            end = time.monotonic() + 30 + commands / 20
            while len(room.acks) < commands and time.monotonic() < end:
                time.sleep(0.05)
                if progress:
                    progress(len(room.acks), commands + 1)
            flood_s = time.monotonic() - t0
            ok = sum(1 for _, body, _ in mix if room.acks.get(body['id'], {}).get('ok') is True)
            refused = sum(1 for _, body, _ in mix if room.acks.get(body['id'], {}).get('ok') is False)
            astray = sum(1 for _, body, meant in mix if body['id'] in room.acks and
                         room.acks[body['id']].get('ok') is not meant)
            wrong = [room.acks[body['id']] for _, body, meant in mix if body['id'] in room.acks and
                     room.acks[body['id']].get('ok') is not meant]
            out['flood'] = {'acknowledged': ok, 'refused': refused, 'unanswered': commands - ok - refused,
                            'not_as_meant': astray, 'not_as_meant_acks': wrong[:5], 'seconds': round(flood_s, 2),
                            'commands_per_s': round((ok + refused) / flood_s, 1) if flood_s > 0 else None}
            _next_tele(room)                          # one sent after the flood
            out['heap_min_after_flood'], _ = room.heap()

            # the outage: the broker stops, the board keeps raising events, then it returns
            halt = threading.Event()
            driver = threading.Thread(target=_raise_events, args=(b, halt, event_period_s), daemon=True)
            driver.start()
            time.sleep(0.5)
            seq0 = _info(b)['seq']
            br.stop()
            t_end = time.monotonic() + outage_s
            while time.monotonic() < t_end:
                time.sleep(min(0.5, max(0, t_end - time.monotonic())))
            during = _info(b)
            br.start()
            t_back = time.monotonic()
            time.sleep(1)
            halt.set()
            driver.join(5)
            fin, settled = _settle(b, room, 60 + outage_s)
            drain_s = time.monotonic() - t_back
            _next_tele(room)                          # the last one: the low since boot
            if fin is None:
                raise EdgeError('the flood bench board stopped answering:\n' + b.log_tail())
            j = room.journal
            lost = sum(last - first + 1 for first, last in j.gaps(DEVICE, fin['seq']))
            out['outage'] = {'raised_during_outage': during['seq'] - seq0, 'waiting_in_outbox': during['outbox'],
                             'broker_return_to_drained_s': round(drain_s, 2), 'settled': settled}
            delivered = sum(1 for s in range(1, fin['seq'] + 1) if j.has(DEVICE, s))    # (more may follow: timers)
            out['events'] = {'raised': fin['seq'], 'delivered': delivered, 'lost': lost,
                             'duplicated': j.duplicates, 'dropped_on_board': fin['dropped']}
            out['heap_min'], out['heap_free_lowest_tele'] = room.heap()
            evs = j.events.get(DEVICE, {}).values()
            out['controller_faults'] = [[e.get('ctrl'), e.get('reason')] for e in evs
                                        if str(e.get('type', '')).endswith('.fault') and e.get('active')]
            out['tele'] = len(room.tele)
            out['board_restarts'] = b.starts - 1
            if not b.alive():
                out['board_log_tail'] = b.log_tail()
            if progress:
                progress(commands + 1, commands + 1)
        finally:
            if cmd is not None:
                close_client(cmd)
            if room is not None:
                room.close()
            b.stop_plants()
            b.stop()
            br.stop()
    out['note'] = ('heap_min: the board\'s own low-water mark (tele), the heap free just after a collection at the '
                   'fullest moments (a command answered, the health check), at most one a second; the %d-bit VM%s'
                   % (info['bits'], ': an ESP32\'s word size' if info['bits'] == 32 else
                      ' (objects take 1.5-1.8x an ESP32\'s: a board has more free)'))
    return out
