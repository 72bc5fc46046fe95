# The network side of a board: keeps an MQTT session up (reconnect with capped, jittered
# backoff), publishes status/state/events/acks/tele, and routes commands to the app.
# Nothing here is awaited by the control loop: a dead network never stalls a controller.
import asyncio
import json
import random
from clock import ticks_ms, ticks_diff
import mqtt
import topics

BACKOFF_MIN_MS = 500
CA_FILE = 'ca.der'      # the site CA (DER), written over serial with the secrets


class TlsError(Exception):
    pass


def tls_context():
    """TLS that trusts only the site CA and checks the broker's name. Without the CA file
    the board does not connect at all (it never falls back to plain MQTT)."""
    import ssl
    try:
        with open(CA_FILE, 'rb') as f:
            ca = f.read()
    except OSError:
        raise TlsError('the config asks for TLS but the board has no %s: push it over serial' % CA_FILE)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=ca)
    return ctx


class Link:
    def __init__(self, app, cfg):
        self.app = app
        site, dev = cfg['site'], cfg['device']
        self.site, self.dev = site, dev
        b = cfg['broker']
        self.t_status = topics.status(site, dev)
        self.t_cmd = topics.base(site, dev) + 'cmd/'
        self.t_cfg = topics.cfg(site, dev)
        self.t_fire = topics.site_fire(site)
        self.client = mqtt.Client(
            site + '/' + dev, b['host'], b['port'], keepalive=cfg.get('keepalive_s', 30),
            will=(self.t_status, b'{"online": false}', 1, True),
            user=app.secrets.get('mqtt_user') or b.get('user'),
            password=app.secrets.get('mqtt_password') or b.get('password'),
            on_message=self._on_message, timeout_ms=cfg.get('net_timeout_ms', 5000),
            ssl=self._tls(b))
        self.tele_ms = cfg.get('tele_s', 60) * 1000
        self.backoff_max = cfg.get('backoff_max_s', 10) * 1000
        self.ntp = cfg.get('ntp_host', 'pool.ntp.org')
        self.acks_dropped = 0   # acks that could not be written (link lost meanwhile)
        self._sent = 0          # seq of the event last sent and not yet acknowledged
        self._kick = asyncio.Event()
        app.wake = self._kick.set
        self.connects = 0
        self.last_error = None

    async def _on_message(self, topic, payload):
        """Run by the reader for each message: a command is answered before the next is read,
        so a flood is paced by the board's own replies (TCP backpressure on the broker)."""
        if topic == self.t_fire:
            self.app.site_fire(payload)
            self._kick.set()
        elif topic == self.t_cfg:
            try:
                self.app.config_update(payload)
            except Exception as e:
                self.last_error = 'config update: %r' % (e,)
            self._kick.set()
        elif topic.startswith(self.t_cmd):
            ctrl = topic[len(self.t_cmd):]
            try:
                ack = self.app.command(ctrl, payload)
            except Exception as e:  # a bug here must not take the link down
                ack = {'id': None, 'ok': False, 'err': 'internal error: %r' % (e,)}
            try:    # pipelined QoS 1: an ack is a reply; a lost one makes the sender retry
                await self.client.publish(topics.ack(self.site, self.dev, ctrl), json.dumps(ack), 1, False,
                                          False, False)
            except Exception:
                self.acks_dropped += 1
                raise

    def _tls(self, b):
        self.blocked = None      # why this board must not connect (a TLS config without its CA)
        if not b.get('tls'):
            return None
        try:
            return tls_context()
        except Exception as e:
            self.blocked = str(e)
            print('edgectl: no connection:', e)
            return None

    async def run(self):
        backoff = BACKOFF_MIN_MS
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
                backoff = BACKOFF_MIN_MS
                await self._session()
            except Exception as e:
                self.last_error = repr(e)
            self.client.close()
            if self.app.debug:
                print('link down:', self.client.error or self.last_error)
            # capped exponential backoff; jitter spreads a whole site's boards over the
            # upper half of the window, so they do not all come back at once
            await asyncio.sleep_ms(backoff // 2 + random.getrandbits(16) % (backoff // 2 + 1))
            backoff = min(backoff * 2, self.backoff_max)

    async def _session(self):
        c = self.client
        reader = asyncio.create_task(c.run())
        pinger = asyncio.create_task(c.keep_alive())
        try:
            await c.subscribe(self.t_cmd + '+', 1)
            await c.subscribe(self.t_cfg, 1)
            await c.subscribe(self.t_fire, 1)      # the retained state arrives now: applied on boot
            if self.ntp:
                self.app.io.sync_time(self.ntp)     # the network is up: set the clock too
            await c.publish(self.t_status, json.dumps(self.app.status()), 1, True)
            self.app.set_online(True)
            self.app.events.report_drops()
            last_tele = ticks_ms() - self.tele_ms + 2000
            while c.connected:
                if not await self._send_one():
                    if ticks_diff(ticks_ms(), last_tele) >= self.tele_ms:
                        last_tele = ticks_ms()
                        await c.publish(topics.tele(self.site, self.dev),
                                        json.dumps(self.app.tele()), 0)
                        continue
                    self._kick.clear()
                    try:
                        await asyncio.wait_for_ms(self._kick.wait(), 250)
                    except asyncio.TimeoutError:
                        pass
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
        if app.fire_out is not None:   # this board's fire input raised the site's fire state
            await c.publish(self.t_fire, json.dumps(app.fire_out), 1, True)
            app.fire_out = None
            return True
        item = app.events.peek()
        if item is not None:
            seq, ctrl, data = item
            dup = seq == self._sent     # sent before, no PUBACK seen: resend flagged DUP
            self._sent = seq
            await c.publish(topics.evt(self.site, self.dev, ctrl), data, 1, False, dup)
            app.events.delivered(seq)
            return True
        return False
