# What the board takes off the wire: strict JSON (firmware/strictjson.py) and oversized MQTT
# messages read off and discarded by the client (firmware/mqtt.py). On CPython and on the
# MicroPython unix port.
import asyncio
import json
import command
import mqtt
import mqtt_packet
import strictjson
from harness import check, eq

# each one is accepted by MicroPython's json (some by CPython's too) and refused by a strict parser
MALFORMED = (
    b'{"id": "j3" "op": "unlock"}',         # missing ','
    b'{"id": "j3", "op" "unlock"}',         # missing ':'
    b'{"id": "j3",, "op": "unlock"}',       # doubled ','
    b'{"id": "j3", "op": "unlock",}',       # trailing ','
    b'{"id": "j3", "op": "unlock", "s": [1}]',  # crossed brackets
    b'{"id": "j3", "op": "unlock", "s": 05}',   # leading zero
    b'{"id": "j3", "op": "unlock", "s": 1.}',   # no digit after '.'
    b'{"id": "j\x013", "op": "unlock"}',    # raw control character
    b'{"id": "j\\q3", "op": "unlock"}',     # unknown escape
    b'{"id": "j3", "op": "lock", "op": "unlock"}',   # duplicate key: which one counts?
    b'{"id": "\xc0\xafj3", "op": "unlock"}',    # overlong UTF-8
    b'{"id": "\\ud800", "op": "unlock"}',   # lone surrogate escape
    b'{"id": "j3", "op": "unlock"} x',      # text after the value
    b'{"id": "j3", "op": "unlock", "s": NaN}',
    b'{"id": "j3", "op": "unlock", "a": [[[[[[[[1]]]]]]]]}',   # deeper than MAX_DEPTH
)
VALID = (
    b'{"id": "c-1", "op": "unlock", "s": 5}',
    b' {"id" : "c-1" ,"op":"unlock","by":"Jos\xc3\xa9 \\u00e9\\n\\"","x":-0.5e+3,"t":true,"f":false,"n":null} ',
    b'[]', b'{}', b'0', b'-0', b'"x"', b'[[[[[[[1]]]]]]]',
)


def case_strict_json_refuses_what_micropython_json_takes():
    for s in MALFORMED:
        try:
            strictjson.loads(s)
        except ValueError as e:
            check(str(e).startswith('malformed JSON'), '%r: %s' % (s, e))
            continue
        raise AssertionError('accepted %r' % s)


def case_strict_json_reads_valid_json_as_json_does():
    for s in VALID:
        eq(strictjson.loads(s), json.loads(s), s)
    eq(strictjson.loads('{"a": "\u00e9"}'), {'a': '\u00e9'}, 'a str as well as bytes')


def case_a_command_with_a_missing_comma_is_refused():
    for s in MALFORMED:
        try:
            command.parse(s)
        except command.CommandError as e:
            check('malformed JSON' in e.reason, '%r: %s' % (s, e.reason))
            continue
        raise AssertionError('command accepted: %r' % s)
    try:
        command.parse(b'{"id": "j3" "op": "unlock"}')
    except command.CommandError as e:
        eq(e.reason, "malformed JSON: ',' or '}' expected at byte 12", 'the ack says where')


class _Sock:
    """Both ends of a fake connection: what the broker sends, what the client wrote."""

    def __init__(self, data):
        self.data = data
        self.out = b''
        self.biggest = 0        # the largest single read the client asked for
        self.stall = False

    async def readexactly(self, n):
        self.biggest = max(self.biggest, n)
        out = self.data[:n]
        self.data = self.data[n:]
        return out

    async def read(self, n):
        if not self.data and self.stall:
            await asyncio.sleep(10)         # the broker went quiet mid-packet
        return await self.readexactly(min(n, len(self.data)))

    def write(self, b):
        self.out += b

    async def drain(self):
        pass

    def close(self):
        pass


def _run_client(data, max_msg, stall=False):
    if not hasattr(asyncio, 'wait_for_ms'):     # CPython: the MicroPython call the client uses
        asyncio.wait_for_ms = lambda aw, ms: asyncio.wait_for(aw, ms / 1000)
    c = mqtt.Client('t', '127.0.0.1', 1, max_msg=max_msg)
    s = _Sock(data)
    s.stall = stall
    c._r = c._w = s
    c.connected = True
    got, big = [], []
    c.on_message = lambda t, p: got.append((t, p))
    c.on_oversize = lambda t, n: big.append((t, n))

    async def go():
        try:
            await c.run()
        except mqtt.MQTTError as e:
            return str(e)
    err = asyncio.run(go())
    return c, s, got, big, err


def case_an_oversized_message_is_discarded_acknowledged_and_the_link_stays_up():
    fire = 'edge/v1/s/_site/fire'
    huge = b'{"active": true, "pad": "' + b'x' * 9200 + b'"}'
    data = (mqtt_packet.publish_packet(fire, huge, 1, True, 7) +                   # 9 KB retained, QoS 1
            mqtt_packet.publish_packet('edge/v1/s/d/cmd/front', b'y' * 9000, 0) +   # 9 KB, QoS 0
            mqtt_packet.publish_packet(fire, b'{"active": false}', 1, True, 8))     # then a normal one
    c, s, got, big, err = _run_client(data, 2048)
    eq(big, [(fire, len(huge)), ('edge/v1/s/d/cmd/front', 9000)], 'both reported with their size')
    eq(got, [(fire, b'{"active": false}')], 'the next message still arrives')
    eq(s.out, b'\x40\x02\x00\x07\x40\x02\x00\x08', 'PUBACK for the discarded one and the next')
    eq(c.oversized, 2, 'counted')
    check(s.biggest <= mqtt.CHUNK, 'read in chunks, never whole: %d' % s.biggest)
    eq(err, 'connection closed', 'the client ran until the broker closed, not before')


def case_a_message_within_the_bound_is_delivered_whole():
    p = b'z' * 2000
    c, s, got, big, err = _run_client(mqtt_packet.publish_packet('a/b', p, 0), 2048)
    eq((got, big), ([('a/b', p)], []), 'delivered')


def case_an_oversized_message_with_a_long_topic_is_still_discarded():
    t = 'edge/v1/s/d/cmd/' + 'q' * 400
    data = mqtt_packet.publish_packet(t, b'w' * 3000, 1, False, 9) + mqtt_packet.publish_packet('a/b', b'ok', 0)
    c, s, got, big, err = _run_client(data, 2048)
    eq(big, [(None, 3000)], 'a topic too long to keep is None')
    eq(got, [('a/b', b'ok')], 'next message')
    eq(s.out, b'\x40\x02\x00\x09', 'acknowledged')


def case_an_oversized_message_that_stops_coming_closes_the_link():
    data = mqtt_packet.publish_packet('a/b', b'v' * 5000, 0)[:1000]      # truncated: the rest never comes
    c, s, got, big, err = _run_client(data, 2048, stall=True)
    check(err is not None and 'stalled' in err, 'closed after STALL_MS: %r' % err)
    eq((got, big, c.connected), ([], [], False), 'nothing delivered, link closed')
