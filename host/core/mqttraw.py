"""A lean MQTT 3.1.1 subscriber for the control room (the monitor and the headless
journal): a plain socket, no per-message callbacks into a client library. Messages are
read in batches; each batch is handed over, the journal commits it, and only then are its
QoS 1 PUBACKs sent, so with a persistent session a journal that dies mid-batch gets that
batch again from the broker: nothing is lost. Parsing the next batch overlaps committing
the last one."""
import socket
import ssl
import threading
import time

from .errors import EdgeError
from .proto import topics


def varint(n):
    """MQTT's variable-length integer (remaining length)."""
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def mqtt_str(s):
    """An MQTT UTF-8 string: 2-byte length, then the bytes."""
    b = s.encode()
    return len(b).to_bytes(2, 'big') + b


def client_id_of(name):
    """The client id to connect with: topics.CLIENT_PREFIX + name (a secured broker asks for it)."""
    return name if name.startswith(topics.CLIENT_PREFIX) else topics.CLIENT_PREFIX + name


def connect_packet(client_id, clean=True, keepalive=30, auth=None):
    """CONNECT (MQTT 3.1.1) for client_id, with a login when auth = (user, password)."""
    flags = 0x02 if clean else 0x00
    payload = mqtt_str(client_id_of(client_id))
    if auth:
        flags |= 0xC0
        payload += mqtt_str(auth[0]) + mqtt_str(auth[1])
    body = mqtt_str('MQTT') + bytes([4, flags]) + keepalive.to_bytes(2, 'big') + payload
    return bytes([0x10]) + varint(len(body)) + body


def packet_at(data, pos):
    """The whole packet starting at data[pos] as (body start, end), or None when data
    does not hold all of it yet."""
    n = len(data)
    if n - pos < 2:
        return None
    rl, mult, i = 0, 1, pos + 1
    while i < n:
        b = data[i]
        rl += (b & 0x7F) * mult
        mult <<= 7
        i += 1
        if not b & 0x80:
            return (i, i + rl) if i + rl <= n else None
    return None


def packets(data, pos=0):
    """(start, first byte, body start, end) of each whole packet from data[pos] on."""
    while True:
        pkt = packet_at(data, pos)
        if pkt is None:
            return
        yield pos, data[pos], pkt[0], pkt[1]
        pos = pkt[1]


class RawSubscriber:
    def __init__(self, host, port, client_id, topics, on_batch, clean=False, auth=None, ca=None, keepalive=30):
        """on_batch([(topic, payload bytes, retained)], release) is called from the reader
        thread; release() sends that batch's PUBACKs and must be called once the batch is
        safe (e.g. by the journal's writer after its commit). Reading goes on meanwhile:
        the next batch is parsed while the last one is being committed. If on_batch raises,
        the reader stops (`failed` says why; the thread ends, which check_link sees)
        rather than reading on past a batch it never acknowledged."""
        self.on_batch = on_batch
        self.keepalive = keepalive
        self.received = 0
        self.failed = None        # why the reader stopped on its own (on_batch raised), else None
        self._stop = threading.Event()
        self._tx = threading.Lock()       # PUBACKs (writer thread) and PINGREQs (reader)
        self.last_tx = time.monotonic()
        try:
            sock = socket.create_connection((host, port), timeout=5)
            if ca:
                ctx = ssl.create_default_context(cafile=str(ca))
                sock = ctx.wrap_socket(sock, server_hostname=host)
        except (OSError, ssl.SSLError) as e:
            raise EdgeError('cannot reach the MQTT broker at %s:%d (%s)' % (host, port, e))
        sock.sendall(connect_packet(client_id, clean, keepalive, auth))
        ack = self._recv_exact(sock, 4)
        if ack[0] != 0x20 or ack[3] != 0:
            sock.close()
            raise EdgeError('the MQTT broker refused the connection (CONNACK code %d: %s)' % (
                ack[3], 'bad login' if ack[3] in (4, 5) else 'see its log'))
        subs = b''.join(mqtt_str(t) + b'\x01' for t in topics)
        sub = (1).to_bytes(2, 'big') + subs
        sock.sendall(bytes([0x82]) + varint(len(sub)) + sub)
        try:
            self._early = self._until_suback(sock)     # subscribed when this returns
        except OSError as e:
            sock.close()
            raise EdgeError('the MQTT broker at %s:%d did not confirm the subscription (%s)' % (host, port, e))
        sock.settimeout(1.0)
        self.sock = sock
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    @staticmethod
    def _recv_exact(sock, n):
        buf = b''
        while len(buf) < n:
            d = sock.recv(n - len(buf))
            if not d:
                raise EdgeError('the MQTT broker closed the connection')
            buf += d
        return buf

    def _until_suback(self, sock):
        """Read until the SUBACK; returns what came with or before it (a persistent
        session's queued messages may) for the reader to handle first."""
        buf = b''
        while True:
            d = sock.recv(65536)
            if not d:
                sock.close()
                raise EdgeError('the MQTT broker closed the connection before confirming the subscription')
            buf += d
            for pos, h, i, end in packets(buf):
                if h >> 4 == 9:                # SUBACK
                    if 0x80 in buf[i + 2:end]:
                        sock.close()
                        raise EdgeError('the MQTT broker refused the subscription (not allowed for this login?)')
                    return buf[:pos] + buf[end:]

    def _send(self, data):
        with self._tx:
            try:
                self.sock.sendall(data)
                self.last_tx = time.monotonic()
            except OSError:
                pass            # the reader sees the link drop; unacknowledged ones come again

    @staticmethod
    def parse(data):
        """Every whole packet at the start of `data`: ([(topic, payload, retained)],
        PUBACK bytes for the QoS 1 ones, bytes used)."""
        batch, acks = [], []
        used = 0
        for _, h, i, end in packets(data):
            used = end
            if h >> 4 == 3:          # PUBLISH
                tl = (data[i] << 8) | data[i + 1]
                pos = i + 2 + tl
                topic = data[i + 2:pos].decode('utf-8', 'replace')
                if h & 0x06:         # QoS 1 (2 is never subscribed to)
                    acks.append(data[pos:pos + 2])
                    pos += 2
                batch.append((topic, data[pos:end], bool(h & 1)))
        return batch, b'\x40\x02' + b'\x40\x02'.join(acks) if acks else b'', used

    def _run(self):
        buf = b''
        early, self._early = self._early, b''
        while not self._stop.is_set():
            try:
                d = early or self.sock.recv(262144)
                early = b''
                if not d:
                    return
                buf = buf + d if buf else d
            except socket.timeout:
                pass
            except OSError:
                return
            batch, acks, used = self.parse(buf)
            buf = buf[used:]
            if batch:
                try:
                    self.on_batch(batch, (lambda a=acks: self._send(a)) if acks else (lambda: None))
                except Exception as e:       # unacknowledged, the batch stays with the broker
                    self.failed = repr(e)
                    return
                self.received += len(batch)   # counted once handed over: whoever sees it can flush the store
            if time.monotonic() - self.last_tx > self.keepalive / 2:
                self._send(b'\xc0\x00')      # PINGREQ

    def close(self):
        self._stop.set()
        self._send(b'\xe0\x00')
        try:
            self.sock.shutdown(socket.SHUT_RDWR)     # wakes the reader now, not at its timeout
        except OSError:
            pass
        self.t.join(3)
        try:
            self.sock.close()
        except OSError:
            pass
