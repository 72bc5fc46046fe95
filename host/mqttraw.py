"""A lean MQTT 3.1.1 subscriber for the journal: a plain socket, no per-message callbacks
into a client library. Messages are read in batches; each batch is handed over, the
journal commits it, and only then are its QoS 1 PUBACKs sent, so with a persistent session
a journal that dies mid-batch gets that batch again from the broker: nothing is lost."""
import socket
import ssl
import threading
import time

from .errors import EdgeError


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


class RawSubscriber:
    def __init__(self, host, port, client_id, topics, on_batch, commit=None, clean=False, auth=None, ca=None,
                 keepalive=30):
        """on_batch([(topic, payload bytes, retained)]) is called from the reader thread;
        commit() (e.g. the journal's flush) runs before the batch's PUBACKs go out."""
        self.on_batch = on_batch
        self.commit = commit
        self.keepalive = keepalive
        self.received = 0
        self._stop = threading.Event()
        try:
            sock = socket.create_connection((host, port), timeout=5)
            if ca:
                ctx = ssl.create_default_context(cafile=str(ca))
                sock = ctx.wrap_socket(sock, server_hostname=host)
        except (OSError, ssl.SSLError) as e:
            raise EdgeError('cannot reach the MQTT broker at %s:%d (%s)' % (host, port, e))
        flags = 0x02 if clean else 0x00
        payload = mqtt_str(client_id)
        if auth:
            flags |= 0xC0
            payload += mqtt_str(auth[0]) + mqtt_str(auth[1])
        body = mqtt_str('MQTT') + bytes([4, flags]) + keepalive.to_bytes(2, 'big') + payload
        sock.sendall(bytes([0x10]) + varint(len(body)) + body)
        ack = self._recv_exact(sock, 4)
        if ack[0] != 0x20 or ack[3] != 0:
            sock.close()
            raise EdgeError('the MQTT broker refused the journal (CONNACK code %d)' % ack[3])
        subs = b''.join(mqtt_str(t) + b'\x01' for t in topics)
        sub = (1).to_bytes(2, 'big') + subs
        sock.sendall(bytes([0x82]) + varint(len(sub)) + sub)
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

    def _run(self):
        buf = bytearray()
        last_tx = time.monotonic()
        while not self._stop.is_set():
            try:
                d = self.sock.recv(262144)
                if not d:
                    return
                buf += d
            except socket.timeout:
                pass
            except OSError:
                return
            batch, acks, used = [], bytearray(), 0
            while True:              # every whole packet in the buffer
                if len(buf) - used < 2:
                    break
                mult, rl, i = 1, 0, used + 1
                while i < len(buf):
                    b = buf[i]
                    rl += (b & 0x7F) * mult
                    mult <<= 7
                    i += 1
                    if not b & 0x80:
                        break
                else:
                    break
                if len(buf) - i < rl:
                    break
                h = buf[used]
                body = bytes(buf[i:i + rl])
                used = i + rl
                if h >> 4 == 3:      # PUBLISH
                    qos = (h >> 1) & 3
                    tl = int.from_bytes(body[:2], 'big')
                    topic = body[2:2 + tl].decode('utf-8', 'replace')
                    pos = 2 + tl
                    if qos:
                        acks += b'\x40\x02' + body[pos:pos + 2]
                        pos += 2
                    batch.append((topic, body[pos:], bool(h & 1)))
            del buf[:used]
            if batch:
                self.received += len(batch)
                self.on_batch(batch)
                if self.commit:
                    self.commit()     # committed before the broker may forget them
            now = time.monotonic()
            try:
                if acks:
                    self.sock.sendall(bytes(acks))
                    last_tx = now
                elif now - last_tx > self.keepalive / 2:
                    self.sock.sendall(b'\xc0\x00')      # PINGREQ
                    last_tx = now
            except OSError:
                return

    def close(self):
        self._stop.set()
        try:
            self.sock.sendall(b'\xe0\x00')
        except OSError:
            pass
        self.t.join(3)
        try:
            self.sock.close()
        except OSError:
            pass
