# Runtime pieces: debounce, command parsing against the shared vectors, the event queue,
# the MQTT packet codec. Run on CPython and on the MicroPython unix port.
import json
import asyncio
from debounce import Debounce
import command
import mqtt
import mqtt_packet
import topics
from harness import check, eq

VECTORS = 'protocols/vectors/'


def _vectors(name):
    with open(VECTORS + name + '.json') as f:
        return json.load(f)


def case_debounce_reports_once():
    d = Debounce(50)
    eq(d.feed(1, 0), None, 'at the edge')
    eq(d.feed(1, 49), None, 'before 50 ms')
    eq(d.poll(50), 1, 'at 50 ms')
    eq(d.poll(60), None, 'reported once')


def case_command_vectors_valid():
    for v in _vectors('cmd')['valid']:
        cid, op, args = command.parse(v['payload'])
        eq(cid, v['id'], v['payload'])
        eq(op, v['op'], v['payload'])


def case_command_vectors_invalid():
    for v in _vectors('cmd')['invalid']:
        try:
            command.parse(v['payload'])
        except command.CommandError as e:
            check(v['reason'] in e.reason, '%r: reason %r lacks %r' % (v['payload'], e.reason, v['reason']))
            continue
        raise AssertionError('accepted invalid command %r' % v['payload'])


def case_mqtt_remaining_length_encoding():
    # examples from MQTT 3.1.1 section 2.2.3
    eq(mqtt_packet.remaining(0), b'\x00', '0')
    eq(mqtt_packet.remaining(127), b'\x7f', '127')
    eq(mqtt_packet.remaining(128), b'\x80\x01', '128')
    eq(mqtt_packet.remaining(16383), b'\xff\x7f', '16383')
    eq(mqtt_packet.remaining(16384), b'\x80\x80\x01', '16384')
    eq(mqtt_packet.remaining(268435455), b'\xff\xff\xff\x7f', 'max')


def case_mqtt_remaining_length_decoding():
    for n in (0, 127, 128, 16383, 16384, 268435455):
        b = b'\x30' + mqtt_packet.remaining(n)
        eq(mqtt_packet.remaining_at(b, 1), (n, len(b)), 'round trip %d' % n)
    eq(mqtt_packet.remaining_at(b'\x30\x80\x80', 1), None, 'data ends inside it')
    try:
        mqtt_packet.remaining_at(b'\x30\xff\xff\xff\xff\x01', 1)
        raise AssertionError('a five-byte remaining length was taken')
    except mqtt_packet.MQTTError:
        pass


def case_mqtt_connect_packet_layout():
    p = mqtt_packet.connect_packet('a', 30)
    eq(p, b'\x10\x0d\x00\x04MQTT\x04\x02\x00\x1e\x00\x01a', 'CONNECT without will')
    p = mqtt_packet.connect_packet('a', 30, will=('t', b'x', 1, True))
    eq(p[9], 0x02 | 0x04 | 0x08 | 0x20, 'flags with will qos1 retained')
    check(p.endswith(b'\x00\x01t\x00\x01x'), 'will topic and message')


def case_mqtt_publish_round_trip():
    p = mqtt_packet.publish_packet('a/b', b'hi', 1, True, 7, True)
    eq(p[0], 0x30 | 0x08 | 0x02 | 0x01, 'header flags')
    topic, payload, qos, pid = mqtt_packet.parse_publish(p[0], p[2:])
    eq((topic, payload, qos, pid), ('a/b', b'hi', 1, 7), 'parsed')


def case_mqtt_malformed_publish_rejected():
    bad = (
        (0x30, b'\x00'),                       # shorter than the topic length
        (0x30, b'\x00\x09ab'),                 # topic length past the packet
        (0x30, b'\x00\x02\xff\xfe'),           # invalid UTF-8 topic
        (0x30, b'\x00\x02a\x00'),              # NUL in topic
        (0x34, b'\x00\x01a\x00\x01'),          # QoS 2
        (0x32, b'\x00\x01a\x00'),              # QoS 1 without a full packet id
    )
    for h, body in bad:
        try:
            mqtt_packet.parse_publish(h, body)
        except mqtt.MQTTError:
            continue
        raise AssertionError('accepted malformed PUBLISH %r' % body)


class _Reader:
    def __init__(self, data):
        self.data = data

    async def readexactly(self, n):
        out = self.data[:n]
        self.data = self.data[n:]
        return out


def _read(data, max_packet=100):
    c = mqtt.Client('t', '127.0.0.1', 1, max_packet=max_packet)
    c._r = _Reader(data)
    result = []

    async def go():
        try:
            result.append(await c._read_packet())
        except mqtt.MQTTError as e:
            result.append(e)
    asyncio.run(go())
    return result[0]


def case_mqtt_reader_limits():
    eq(_read(b'\xd0\x00'), (0xd0, b''), 'PINGRESP')
    check(isinstance(_read(b'\x30\xff\xff\xff\xff\x01'), mqtt.MQTTError), 'five-byte remaining length')
    check(isinstance(_read(b'\x30\xe9\x07' + b'x' * 1001), mqtt.MQTTError), 'oversized packet')
    check(isinstance(_read(b'\x30\x05ab'), mqtt.MQTTError), 'connection closed mid-packet')


def case_topics():
    eq(topics.evt('s', 'd', 'front'), 'edge/v1/s/d/evt/front', 'evt')
    eq(topics.status('s', 'd'), 'edge/v1/s/d/status', 'status')
    eq(topics.parse('edge/v1/s/d/cmd/front'), ('s', 'd', 'cmd', 'front'), 'parse')
    eq(topics.parse('other/v1/s/d/cmd'), None, 'not ours')


def case_rate_limit_counts_refusals():
    from ratelimit import RateLimit
    r = RateLimit(2, 1000)
    eq([r.take(t) for t in (0, 10, 20, 30)], [0, 0, -1, -1], 'within the window')
    eq(r.take(1000), 2, 'next window reports the refused')
    eq(r.take(1001), 0, 'then none')


def case_board_log_keeps_its_level_rate_queue_and_heap_bounds():
    import json as _json
    from app import BoardLog
    b = BoardLog(2)
    eq(b.add(3, 'info'), False, 'above the level: not kept')
    eq(b.add(4, 'debug'), False, 'debug neither')
    eq(b.next(), None, 'nothing waiting')
    eq(b.add(1, 'error one'), True, 'an error is kept')
    eq(b.add(2, 'x' * 500), True, 'a warning is kept')
    first = _json.loads(b.next())
    eq((first['lvl'], first['msg']), (1, 'error one'), 'oldest first')
    check(isinstance(first['ts'], int) and 'dropped' not in first, 'stamped, nothing dropped: %r' % (first,))
    eq(len(_json.loads(b.next())['msg']), 200, 'a long line is cut')
    for i in range(8):                  # 10 per 10 s: 2 used above, 8 more fit the window
        b.add(1, 'line %d' % i)
    eq(b.add(1, 'over the rate'), False, 'the 11th line in 10 s is dropped')
    eq(len(b.q), 8, 'eight waiting')
    b.start -= 10000               # the next window
    eq(b.add(1, 'ninth waiting'), True, 'a new window')
    eq(len(b.q), 8, 'the queue stays at 8: the oldest went')
    line = _json.loads(b.next())
    eq((line['msg'], line['dropped']), ('line 1', 2), 'the next line says how many were lost')
    b.min_free = 1 << 30                # the heap is short (on MicroPython: gc.mem_free)
    b.start -= 10000
    import gc
    if hasattr(gc, 'mem_free'):
        eq(b.add(1, 'no heap for me'), False, 'dropped first when the heap is short')
    b.level = 0
    eq(b.add(1, 'off'), False, 'level 0: nothing')
