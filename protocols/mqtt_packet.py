# MQTT 3.1.1 packets (the OASIS standard's sections 2 and 3), built and parsed in one place:
# the board's client (firmware/mqtt.py) and the control room's subscriber (host/mqttraw.py)
# both use this file. MicroPython subset; it lives in the board's heap: no tables, nothing
# built at import, few names.
import struct

CONNACK = 0x20      # packet types (the first byte, flags masked off) the readers tell apart
PUBLISH = 0x30
PUBACK = 0x40
SUBACK = 0x90
PINGRESP = 0xD0
PINGREQ = b'\xc0\x00'      # whole packets: a type and no remaining length
DISCONNECT = b'\xe0\x00'


class MQTTError(Exception):
    pass


def string(s):
    """An MQTT UTF-8 string: 2-byte length, then the bytes (section 1.5.3)."""
    b = s.encode() if isinstance(s, str) else s
    return struct.pack('!H', len(b)) + b


def remaining(n):
    """The remaining length `n` as MQTT's variable-length integer (section 2.2.3)."""
    out = bytearray()
    while True:
        d = n & 0x7F
        n >>= 7
        out.append(d | 0x80 if n else d)
        if not n:
            return bytes(out)


def remaining_at(data, i):
    """The remaining length encoded at data[i]: (length, index past it), or None while data
    ends inside it; MQTTError when it runs past four bytes."""
    n = 0
    shift = 0
    while i < len(data):
        d = data[i]
        n |= (d & 0x7F) << shift
        i += 1
        if not d & 0x80:
            return n, i
        shift += 7
        if shift == 28:
            raise MQTTError('bad remaining length')
    return None


def _packet(h, body):
    return bytes((h,)) + remaining(len(body)) + body


def connect_packet(client_id, keepalive, will=None, user=None, password=None, clean=True):
    """CONNECT (0x10); will = (topic, message, qos, retain) or None."""
    flags = 0x02 if clean else 0
    payload = string(client_id)
    if will:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += string(topic) + string(msg)
    if user is not None:
        flags |= 0x80
        payload += string(user)
        if password is not None:
            flags |= 0x40
            payload += string(password)
    return _packet(0x10, b'\x00\x04MQTT\x04' + bytes((flags,)) + struct.pack('!H', keepalive) + payload)


def publish_head(topic, size, qos=0, retain=False, pid=0, dup=False):
    """A PUBLISH's fixed and variable header for a payload of `size` bytes: a board sends the
    payload after it as it is, never copied into one buffer with it (a tight heap)."""
    var = string(topic)
    if qos:
        var += struct.pack('!H', pid)
    return bytes((PUBLISH | (qos << 1) | (1 if retain else 0) | (8 if dup else 0),)) + remaining(len(var) + size) + var


def publish_packet(topic, payload, qos=0, retain=False, pid=0, dup=False):
    p = payload.encode() if isinstance(payload, str) else payload
    return publish_head(topic, len(p), qos, retain, pid, dup) + p


def subscribe_packet(pid, topics, qos):
    """SUBSCRIBE to each topic of `topics` (a list or tuple) at `qos`."""
    body = struct.pack('!H', pid)
    for t in topics:
        body += string(t) + bytes((qos,))
    return _packet(0x82, body)     # SUBSCRIBE


def puback(pid):
    return struct.pack('!BBH', PUBACK, 2, pid)


def decode_utf8(b):
    """A topic must be valid UTF-8 without NUL (section 1.5.3)."""
    try:
        s = b.decode()
    except Exception:
        raise MQTTError('topic is not valid UTF-8')
    if '\x00' in s:
        raise MQTTError('topic contains NUL')
    return s


def parse_publish(h, data, i=0, end=None):
    """(topic, payload, qos, pid) of the PUBLISH with first byte h whose body is data[i:end]
    (end None: to the end of data); MQTTError if it is malformed."""
    if end is None:
        end = len(data)
    qos = (h >> 1) & 3
    if qos > 1:
        raise MQTTError('unsupported QoS %d' % qos)
    if end - i < 2:
        raise MQTTError('short PUBLISH')
    t = i + 2 + struct.unpack_from('!H', data, i)[0]
    if t + (2 if qos else 0) > end:
        raise MQTTError('PUBLISH topic length past the packet')
    topic = decode_utf8(data[i + 2:t])
    pid = 0
    if qos:
        pid = struct.unpack_from('!H', data, t)[0]
        t += 2
    return topic, data[t:end], qos, pid
