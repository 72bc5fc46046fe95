# MQTT 3.1.1 client for MicroPython asyncio, written for edgectl.
# CONNECT (with will), PUBLISH QoS 0/1 (PUBACK awaited), SUBSCRIBE, PINGREQ keepalive.
# Every wait has a timeout; a protocol error closes the connection (the link reconnects).
# A PUBLISH larger than `max_msg` is not a protocol error: it is read off the socket in
# small chunks and discarded, acknowledged (QoS 1, else the broker sends it again) and
# reported through `on_oversize(topic, size)`; the connection stays up. The packets themselves
# are built and parsed by protocols/mqtt_packet.py (shared with the host).
import asyncio
import gc
import struct
from compat import const
from clock import ticks_ms, ticks_diff
import mqtt_packet as mp
from mqtt_packet import MQTTError

CHUNK = const(256)          # bytes read at a time while discarding an oversized message
_MAX_TOPIC = const(256)      # longest topic kept from an oversized message (longer: None)
_STALL_MS = const(2000)      # an oversized message that pauses this long mid-packet is a broken link


def _room(n):
    """Heap for a message of n bytes (its body, then its payload cut from it: two blocks),
    tried before a byte of it is read: one that finds none is refused as an oversized one, the
    link stays up (reading it ran out of heap part-way: the link dropped, a retained one's on
    every reconnect)."""
    try:
        b = bytearray(n)
        bytearray(n)
        b = None
    except MemoryError:
        return False
    return True


def _close_stream(w):
    """Close a stream now. MicroPython's StreamWriter.close() does nothing (the socket is
    closed by wait_closed()), so close the socket itself."""
    try:
        w.close()
        s = getattr(w, 's', None)
        if s is not None:
            s.close()
    except Exception:
        pass


class Client:
    def __init__(self, client_id, host, port, keepalive=30, will=None, user=None,
                 password=None, on_message=None, max_packet=8192, timeout_ms=5000, ssl=None,
                 max_msg=None, on_oversize=None):
        self.client_id = client_id
        self.ssl = ssl          # an ssl.SSLContext (CA loaded, CERT_REQUIRED): TLS, host name checked
        self.host = host
        self.port = port
        self.keepalive = keepalive
        self.will = will
        self.user = user
        self.password = password
        self.on_message = on_message
        self.max_packet = max_packet    # any packet but PUBLISH beyond this is a protocol error
        self.max_msg = max_msg or max_packet    # a PUBLISH beyond this is discarded, not read
        self.on_oversize = on_oversize
        self.oversized = 0      # messages discarded for their size
        self.no_heap = False    # the last one discarded was not too big but found no heap (_room)
        self.timeout_ms = timeout_ms
        self._r = None
        self._w = None
        self._pid = 0
        self._acks = {}         # pid -> asyncio.Event awaiting PUBACK/SUBACK
        self._last_rx = 0
        self._last_tx = 0
        self._wlock = asyncio.Lock()   # reader (PUBACK, replies), sender and pinger all write
        self.connected = False
        self.error = None

    def _next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    async def connect(self):
        self.close()
        self.error = None
        if self.ssl is not None:
            op = asyncio.open_connection(self.host, self.port, ssl=self.ssl)
        else:
            op = asyncio.open_connection(self.host, self.port)
        r, w = await asyncio.wait_for_ms(op, self.timeout_ms)
        self._r, self._w = r, w
        await self._send(mp.connect_packet(self.client_id, self.keepalive, self.will,
                                        self.user, self.password))
        h, body = await asyncio.wait_for_ms(self._read_packet(), self.timeout_ms)
        if h != mp.CONNACK or len(body) != 2:
            raise MQTTError('expected CONNACK, got 0x%02x' % h)
        if body[1] != 0:
            raise MQTTError('broker refused the connection (code %d)' % body[1])
        self.connected = True
        self._last_rx = ticks_ms()

    def close(self):
        self.connected = False
        for pid in self._acks:
            self._acks[pid].set()   # wake waiters; they see the connection is gone
        self._acks = {}
        if self._w is not None:
            _close_stream(self._w)
        self._r = self._w = None

    async def disconnect(self):
        if self.connected:
            try:
                await self._send(mp.DISCONNECT)
            except Exception:
                pass
        self.close()

    async def _send(self, pkt):
        # One write per packet. A PUBLISH written as header, then payload, goes out as two TCP
        # segments; Nagle's algorithm holds the second until the first is acknowledged, and the
        # broker delays that ACK: 44.9 ms per QoS 1 publish against 0.08 ms (measured on
        # loopback with the unix port; lwIP on an ESP32 runs Nagle too).
        async with self._wlock:     # one writer at a time: packets never interleave
            w = self._w
            if w is None:
                raise MQTTError('not connected')
            written = False
            try:
                w.write(pkt)        # (one that runs out of heap may have sent part of it)
                written = True
                await asyncio.wait_for_ms(w.drain(), self.timeout_ms)
            except MemoryError:
                # the session may go on only if the packet is whole on the wire: written and
                # the stream's buffer empty (a drain cut short sends it again from its start)
                if not written or getattr(w, 'out_buf', b'?'):
                    self.error = 'short of memory in the middle of a packet'
                    self.close()
                    raise MQTTError(self.error)
                raise
            self._last_tx = ticks_ms()

    async def _read_exact(self, n):
        data = await self._r.readexactly(n)
        if len(data) != n:
            raise MQTTError('connection closed')
        return data

    async def _read_head(self):
        """(fixed header byte, remaining length) of the next packet."""
        h = (await self._read_exact(1))[0]
        b = await self._read_exact(1)
        while True:
            r = mp.remaining_at(b, 0)
            if r is not None:
                return h, r[0]
            b += await self._read_exact(1)

    async def _read_body(self, h, n):
        if n > self.max_packet:
            raise MQTTError('packet of %d bytes exceeds %d' % (n, self.max_packet))
        body = await self._read_exact(n) if n else b''
        self._last_rx = ticks_ms()
        return body

    async def _read_packet(self):
        h, n = await self._read_head()
        return h, await self._read_body(h, n)

    async def _skip(self, n):
        """Read n bytes off the socket and drop them, CHUNK at a time (never n at once)."""
        k = CHUNK
        while n > 0:
            try:    # a broker never pauses mid-packet: a truncated one must not eat the next packets
                got = await asyncio.wait_for_ms(self._r.read(k if n > k else n), _STALL_MS)
            except asyncio.TimeoutError:
                raise MQTTError('message stalled with %d bytes to come' % n)
            except MemoryError:     # (one read: none of it taken) a short heap: in small pieces
                if k == 32:
                    raise
                k = 32
                gc.collect()
                continue
            if not got:
                raise MQTTError('connection closed')
            n -= len(got)
            self._last_rx = ticks_ms()

    async def _discard_publish(self, h, n):
        """An oversized PUBLISH: keep its topic (if short), drop its payload, acknowledge it,
        then report it. Returns nothing; the connection stays usable."""
        qos = (h >> 1) & 3
        if qos > 1:
            raise MQTTError('unsupported QoS %d' % qos)
        tl = struct.unpack('!H', await self._read_exact(2))[0]
        if 2 + tl + (2 if qos else 0) > n:
            raise MQTTError('PUBLISH topic length past the packet')
        if tl <= _MAX_TOPIC:
            try:
                topic = mp.decode_utf8(await self._read_exact(tl))
            except MQTTError:
                topic = None
        else:
            await self._skip(tl)
            topic = None
        pid = struct.unpack('!H', await self._read_exact(2))[0] if qos else 0
        size = n - 2 - tl - (2 if qos else 0)
        await self._skip(size)
        self.oversized += 1
        if qos:
            await self._send(mp.puback(pid))
        if self.on_oversize:
            try:
                r = self.on_oversize(topic, size)
                if r is not None:
                    await r
            except MemoryError:     # its refusal found no heap: the message is gone all the same, the link stays
                gc.collect()

    async def publish(self, topic, payload, qos=0, retain=False, dup=False, wait=True):
        """Send a PUBLISH; with qos=1 returns only after PUBACK (MQTTError on timeout/loss),
        unless wait=False: then QoS 1 on the wire, pipelined, nobody waits for the PUBACK."""
        if not qos:
            await self._send(mp.publish_packet(topic, payload, 0, retain))
            return
        if not wait:
            await self._send(mp.publish_packet(topic, payload, 1, retain, self._next_pid(), dup))
            return
        pid = self._next_pid()
        ev = asyncio.Event()
        self._acks[pid] = ev
        try:
            await self._send(mp.publish_packet(topic, payload, 1, retain, pid, dup))
            await asyncio.wait_for_ms(ev.wait(), self.timeout_ms)
        except asyncio.TimeoutError:
            raise MQTTError('no PUBACK for packet %d' % pid)
        finally:
            self._acks.pop(pid, None)
        if not self.connected:
            raise MQTTError('connection lost before PUBACK')

    async def subscribe(self, topic, qos=1):
        pid = self._next_pid()
        ev = asyncio.Event()
        self._acks[pid] = ev
        try:
            await self._send(mp.subscribe_packet(pid, (topic,), qos))
            await asyncio.wait_for_ms(ev.wait(), self.timeout_ms)
        except asyncio.TimeoutError:
            raise MQTTError('no SUBACK for %s' % topic)
        finally:
            self._acks.pop(pid, None)
        if not self.connected:
            raise MQTTError('connection lost before SUBACK')

    def _acked(self, body):
        if len(body) < 2:
            raise MQTTError('short ack')
        pid = struct.unpack_from('!H', body, 0)[0]
        ev = self._acks.get(pid)
        if ev is not None:
            ev.set()

    async def run(self):
        """Read packets until the connection fails; raises MQTTError with the reason."""
        try:
            while True:
                h, n = await self._read_head()
                t = h & 0xF0
                if t == mp.PUBLISH and (n > self.max_msg or not _room(n)):
                    self.no_heap = n <= self.max_msg
                    await self._discard_publish(h, n)
                    continue
                body = await self._read_body(h, n)
                if t == mp.PUBLISH:
                    topic, payload, qos, pid = mp.parse_publish(h, body)
                    if qos:
                        await self._send(mp.puback(pid))
                    if self.on_message:
                        r = self.on_message(topic, payload)
                        if r is not None:       # an async handler: its reply goes out now
                            await r
                elif t == mp.PUBACK or t == mp.SUBACK:
                    self._acked(body)
                elif t == mp.PINGRESP:
                    pass
                else:
                    raise MQTTError('unexpected packet 0x%02x' % h)
        except MQTTError as e:
            self.error = str(e)
            raise
        except Exception as e:
            self.error = 'connection lost: %r' % (e,)
            raise MQTTError(self.error)
        finally:
            self.close()

    async def keep_alive(self):
        """Send PINGREQ when idle; close the link if the broker stays silent too long."""
        ka = self.keepalive * 1000
        while self.connected:
            await asyncio.sleep_ms(min(1000, ka // 4))
            if not self.connected:
                return
            now = ticks_ms()
            if ticks_diff(now, self._last_rx) > ka + ka // 2:
                self.error = 'keepalive: broker silent for %d ms' % ticks_diff(now, self._last_rx)
                self.close()
                return
            if ticks_diff(now, self._last_tx) >= ka // 2:
                try:
                    await self._send(mp.PINGREQ)
                except MemoryError:     # the stream is whole (_send): the next round pings
                    gc.collect()
                except Exception:
                    self.close()
                    return
