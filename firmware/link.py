# The network side of a board: keeps an MQTT session up (reconnect with capped, jittered
# backoff), publishes status/state/events/acks/tele, and routes commands to the app.
# Nothing here is awaited by the control loop: a dead network never stalls a controller.
import asyncio
import gc
import json
import random
from clock import ticks_ms, ticks_diff
from ctrl_base import SEV_WARN
from ratelimit import RateLimit
import mqtt
import topics
from settings import get

from compat import const

_BACKOFF_MIN_MS = const(500)
_MSG_MIN = const(2048)      # the largest message taken: 1/32 of the free heap, in these bounds
_MSG_MAX = const(16384)
_SHORT_MAX = const(30)       # sends in a row that find no heap (100 ms apart) before the session ends


class Link:
    def __init__(self, app, cfg):
        self.app = app
        site, dev = cfg['site'], cfg['device']
        self.site, self.dev = site, dev
        b = cfg['broker']
        self.t_status = topics.status(site, dev)
        self.t_cmd = topics.base(site, dev) + 'cmd/'
        self.t_cfg = topics.cfg(site, dev)
        self.t_log = topics.log(site, dev)
        self.t_ota = topics.ota(site, dev)
        self.max_msg = max_msg()
        self.too_big = RateLimit(3, 10000)   # reports of oversized cfg/fire messages
        self.client = mqtt.Client(
            topics.CLIENT_PREFIX + site + '/' + dev, b['host'], b['port'], keepalive=get(cfg, 'keepalive_s'),
            will=(self.t_status, b'{"online": false}', 1, True),
            user=app.secrets.get('mqtt_user') or b.get('user'),
            password=app.secrets.get('mqtt_password') or b.get('password'),
            on_message=self._on_message, timeout_ms=get(cfg, 'net_timeout_ms'),
            ssl=self._tls(b), max_msg=self.max_msg, on_oversize=self._on_oversize)
        self.tele_ms = get(cfg, 'tele_s') * 1000
        self.backoff_max = get(cfg, 'backoff_max_s') * 1000
        self.ntp = get(cfg, 'ntp_host')
        self.acks_dropped = 0   # acks that could not be written (link lost meanwhile)
        self._sent = 0          # seq of the event last sent and not yet acknowledged
        self._kick = asyncio.Event()
        app.wake = self._kick.set
        self.connects = 0
        self.last_error = None

    async def _on_message(self, topic, payload):
        """Run by the reader for each message: a command is answered before the next is read,
        so a flood is paced by the board's own replies (TCP backpressure on the broker)."""
        f = self.app.fire      # its raise topics (raises prefix) and its own reset (firmware/fire.py)
        if topic == f.reset_topic or topic.startswith(f.raises):
            try:
                self.app.fire.heard(topic, payload)
            except Exception as e:      # the last fire state heard stays in force
                self.last_error = 'site fire: %r' % (e,)
            self._kick.set()
        elif topic == self.t_cfg:
            try:
                self.app.config_update(payload)
            except Exception as e:
                self.last_error = 'config update: %r' % (e,)
            self._kick.set()
        elif topic == self.t_ota:
            try:
                self.app.ota_message(payload, self)
            except Exception as e:
                self.last_error = 'ota: %r' % (e,)
        elif topic.startswith(self.t_cmd):
            ctrl = topic[len(self.t_cmd):]
            try:
                ack = self.app.command(ctrl, payload)
            except Exception as e:  # a bug here must not take the link down
                ack = {'id': None, 'ok': False, 'err': 'internal error: %r' % (e,)}
            cid = ack.get('id')
            try:
                text = json.dumps(ack)
            except MemoryError:     # a big ack (config pull) on a fragmented heap: said in a small one
                ack = None
                gc.collect()
                text = '{"id": %s, "ok": false, "err": "the board is short of memory for this answer"}' % (
                    json.dumps(cid),)
            try:    # pipelined QoS 1: an ack is a reply; a lost one makes the sender retry
                await self.client.publish(topics.ack(self.site, self.dev, ctrl), text, 1, False,
                                          False, False)
            except MemoryError:     # no heap even for that: the ack is lost, the session (and alarms) stay
                self.acks_dropped += 1
                gc.collect()
            except Exception:
                self.acks_dropped += 1
                raise

    async def _on_oversize(self, topic, size):
        """A message too big for this board was read off, discarded and acknowledged by the
        client: refuse it as its topic's kind of message is refused, and stay online."""
        why = 'message of %d bytes is over this board\'s limit of %d' % (size, self.max_msg)
        if self.client.no_heap:
            why = 'message of %d bytes: the board is short of memory for it now' % size
        app = self.app
        f = app.fire
        fire = topic is not None and (topic == f.reset_topic or topic.startswith(f.raises))
        if fire and self.client.no_heap:
            # a fire state is never missed for want of heap: the session ends, and the retained
            # raise or reset comes again with the next one (refused, it waited for a reconnect)
            raise mqtt.MQTTError(why)
        if topic == self.t_ota:
            import ota
            ota.oversized(app, size)
            return
        if topic == self.t_cfg or fire:
            n = self.too_big.take(ticks_ms())       # a flood of them cannot fill the outbox
            if n < 0:
                return
            f = {'err': why, 'size': size}
            if n:
                f['suppressed'] = n
            if topic == self.t_cfg:
                f['rev'] = None
                f['kept'] = app.rev
                app.event('system.config_rejected', SEV_WARN, f)
            else:           # the fire state last heard stays in force
                app.event('system.site_fire_rejected', SEV_WARN, f)
            return
        # a command (or a topic too long to keep: only cmd/+ can be that long)
        cmd = topic is not None and topic.startswith(self.t_cmd)
        ctrl = topic[len(self.t_cmd):] if cmd else '?'
        app.reject(ctrl, None, why, {'size': size})     # rate-limited like every refusal
        if cmd:
            try:
                await self.client.publish(topics.ack(self.site, self.dev, ctrl),
                                          json.dumps({'id': None, 'ok': False, 'err': why}), 1, False, False, False)
            except Exception:
                self.acks_dropped += 1
                raise

    def _tls(self, b):
        self.blocked = None      # why this board must not connect (a TLS config without its CA)
        if not b.get('tls'):
            return None
        try:
            import tlsctx       # only a TLS board loads it
            return tlsctx.make()
        except Exception as e:
            self.blocked = str(e)
            print('edgectl: no connection:', e)
            return None

    async def run(self):
        backoff = _BACKOFF_MIN_MS
        while self.blocked:      # offline on purpose: the controllers run, the outbox keeps events
            self.last_error = self.blocked
            await asyncio.sleep_ms(10000)
        while True:
            if not self.app.io.net_up():    # Wi-Fi/Ethernet not up yet: no point dialling
                await asyncio.sleep_ms(500)
                continue
            try:
                await self.client.connect()
                self.connects += 1
                backoff = _BACKOFF_MIN_MS
                await self._session()
            except Exception as e:
                self.last_error = e
            self.client.close()
            try:    # (its text needs heap: the line may be lost, never the link's task)
                e = self.client.error or self.last_error
                self.last_error = e if isinstance(e, str) else repr(e)     # its text: not its traceback
                self.app.logline(2, 'link down: ' + self.last_error)
                if self.app.debug:
                    print('link down:', self.last_error)
            except MemoryError:
                self.last_error = None
                gc.collect()
            # capped exponential backoff; jitter spreads a whole site's boards over the
            # upper half of the window, so they do not all come back at once
            await asyncio.sleep_ms(backoff // 2 + random.getrandbits(16) % (backoff // 2 + 1))
            backoff = min(backoff * 2, self.backoff_max)

    async def _read(self):
        """The reader task: ends when the connection does, never with an exception nobody
        takes (the session sees `connected` drop and reconnects)."""
        try:
            await self.client.run()
        except Exception as e:
            self.client.close()     # (a reader that could not even start: the session must not wait on it)
            self.last_error = self.client.error or repr(e)

    async def _session(self):
        c = self.client
        reader = asyncio.create_task(self._read())
        pinger = asyncio.create_task(c.keep_alive())
        try:
            await c.subscribe(self.t_cmd + '+', 1)
            await c.subscribe(self.t_cfg, 1)
            await c.subscribe(self.t_ota, 0)
            # the retained raises arrive first, then the reset, which is judged against them
            await c.subscribe(self.app.fire.raises + '+', 1)
            await c.subscribe(self.app.fire.reset_topic, 1)
            if self.ntp:
                self.app.io.sync_time(self.ntp)     # the network is up: set the clock too
            await c.publish(self.t_status, json.dumps(self.app.status()), 1, True)
            self.app.set_online(True)
            self.app.events.report_drops()
            last_tele = ticks_ms() - self.tele_ms + 2000
            short = 0       # sends in a row that found no heap
            while c.connected:
                try:
                    sent = await self._send_one()
                    if not sent and ticks_diff(ticks_ms(), last_tele) >= self.tele_ms:
                        last_tele = ticks_ms()
                        await c.publish(topics.tele(self.site, self.dev),
                                        json.dumps(self.app.tele()), 0)
                        sent = True
                    short = 0
                    if sent:
                        continue
                    self._kick.clear()
                    try:
                        await asyncio.wait_for_ms(self._kick.wait(), 250)
                    except asyncio.TimeoutError:
                        pass
                except MemoryError:
                    # a short heap (an update refused, a burst): what was being sent stays
                    # pending and goes once the heap is swept; the session stays up. (A
                    # MemoryError that may have cut a packet short closes it: mqtt._send.)
                    # For 3 s in a row: the session ends (its buffers freed, the will says
                    # offline), not a board that looks online and sends nothing
                    gc.collect()
                    short += 1
                    if short >= _SHORT_MAX:
                        raise
                    await asyncio.sleep_ms(100)
        finally:
            self.app.set_online(False)
            reader.cancel()
            pinger.cancel()

    async def _send_one(self):
        """Send the most urgent pending message; False when nothing is pending."""
        c = self.client
        app = self.app
        if app.dirty:
            name = next(iter(app.dirty))
            del app.dirty[name]
            ctrl = app.ctrls[name]
            try:    # pipelined too: a lost snapshot is re-sent on the next change and on reconnect
                await c.publish(topics.state(self.site, self.dev, name),
                                json.dumps(ctrl.snapshot()), 1, True, False, False)
            except Exception:
                app.dirty[name] = True
                raise
            return True
        out = app.fire.pending()       # this board's fire input raised the site's fire state
        if out is not None:
            await c.publish(out[0], out[1], 1, True)
            app.fire.out = None
            return True
        item = app.events.peek()
        if item is not None:
            seq, ctrl, data = item
            dup = seq == self._sent     # sent before, no PUBACK seen: resend flagged DUP
            self._sent = seq
            await c.publish(topics.evt(self.site, self.dev, ctrl), data, 1, False, dup)
            app.events.delivered(seq)
            return True
        line = app.blog.next()      # the least urgent: log lines, QoS 0
        if line is not None:
            await c.publish(self.t_log, line, 0)
            return True
        return False


def max_msg():
    """The largest MQTT message this board reads: 2 KB on an ESP32's ~110 KB heap (a 5-8 KB
    one ran it out of memory), more where the heap allows, at most 16 KB."""
    gc.collect()
    n = gc.mem_free() // 32 if hasattr(gc, 'mem_free') else _MSG_MIN
    return _MSG_MIN if n < _MSG_MIN else _MSG_MAX if n > _MSG_MAX else n
