"""A lean MQTT 3.1.1 subscriber for the control room (the monitor and the headless
journal): a plain socket, no per-message callbacks into a client library. Messages are
read in batches; each batch is handed over, the journal commits it, and only then are its
QoS 1 PUBACKs sent, so with a persistent session a journal that dies mid-batch gets that
batch again from the broker: nothing is lost. Parsing the next batch overlaps committing
the last one."""
import select
import socket
import ssl
import threading
import time

from .errors import EdgeError
from .proto import mqtt_packet as mp, topics


def client_id_of(name):
    """The client id to connect with: topics.CLIENT_PREFIX + name (a secured broker asks for it)."""
    return name if name.startswith(topics.CLIENT_PREFIX) else topics.CLIENT_PREFIX + name


def connect_packet(client_id, clean=True, keepalive=30, auth=None):
    """CONNECT (MQTT 3.1.1) for client_id, with a login when auth = (user, password)."""
    user, password = auth or (None, None)
    return mp.connect_packet(client_id_of(client_id), keepalive, None, user, password, clean)


def packet_at(data, pos):
    """The whole packet starting at data[pos] as (body start, end), or None when data
    does not hold all of it yet (mp.MQTTError: a remaining length past four bytes)."""
    r = mp.remaining_at(data, pos + 1)
    if r is None or r[0] + r[1] > len(data):
        return None
    return r[1], r[0] + r[1]


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
        if ack[0] != mp.CONNACK or ack[3] != 0:
            sock.close()
            raise EdgeError('the MQTT broker refused the connection (CONNACK code %d: %s)' % (
                ack[3], 'bad login' if ack[3] in (4, 5) else 'see its log'))
        sock.sendall(mp.subscribe_packet(1, topics, 1))
        try:
            self._early = self._until_suback(sock)     # subscribed when this returns
        except (OSError, mp.MQTTError) as e:
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
                if h & 0xF0 == mp.SUBACK:
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
        PUBACK bytes for the QoS 1 ones, bytes used). A malformed PUBLISH (a broker lets
        none through) is passed over unacknowledged."""
        batch, acks = [], []
        used = 0
        for _, h, i, end in packets(data):
            used = end
            if h & 0xF0 == mp.PUBLISH:
                try:
                    topic, payload, qos, pid = mp.parse_publish(h, data, i, end)
                except mp.MQTTError:
                    continue
                if qos:
                    acks.append(mp.puback(pid))
                batch.append((topic, payload, bool(h & 1)))
        return batch, b''.join(acks), used

    def _run(self):
        buf = b''
        early, self._early = self._early, b''
        while not self._stop.is_set():
            try:
                d = early or self.sock.recv(262144)
                early = b''
                if not d:
                    return
                buf = self._more(buf + d if buf else d)
            except socket.timeout:
                pass
            except OSError:
                return
            try:
                batch, acks, used = self.parse(buf)
            except mp.MQTTError:        # a remaining length past four bytes: the stream is lost
                return
            buf = buf[used:]
            if batch:
                try:
                    self.on_batch(batch, (lambda a=acks: self._send(a)) if acks else (lambda: None))
                except Exception as e:       # unacknowledged, the batch stays with the broker
                    self.failed = repr(e)
                    return
                self.received += len(batch)   # counted once handed over: whoever sees it can flush the store
            if time.monotonic() - self.last_tx > self.keepalive / 2:
                self._send(mp.PINGREQ)

    READ_MAX = 262144

    def _more(self, buf):
        """buf and whatever else is readable now, up to READ_MAX: a TLS socket hands over
        one record a call, which mosquitto writes per message (a batch, and a commit, of
        one message each without this)."""
        sock = self.sock
        pending = getattr(sock, 'pending', None)
        parts, size = [buf], len(buf)
        while size < self.READ_MAX and ((pending and pending()) or select.select([sock], [], [], 0)[0]):
            try:
                d = sock.recv(self.READ_MAX)
            except socket.timeout:
                break
            if not d:
                break          # closed: the next recv says so
            parts.append(d)    # joined once: adding up a TLS record at a time copied the batch each time
            size += len(d)
        return b''.join(parts) if len(parts) > 1 else buf

    def close(self):
        self._stop.set()
        self._send(mp.DISCONNECT)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)     # wakes the reader now, not at its timeout
        except OSError:
            pass
        self.t.join(3)
        try:
            self.sock.close()
        except OSError:
            pass
