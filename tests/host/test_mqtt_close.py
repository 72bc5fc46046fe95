"""A one-shot verb ends as soon as it has its answer: its MQTT client is disconnected first,
then its network thread stopped (mqttc.close). In the other order loop_stop() waits for the
thread's select to time out (up to 1 s), which `edgectl cmd` paid after every answer."""
import json
import time

from edgectl.core import commands, mqttc


class Spy:
    """A paho client's stand-in: records the calls, answers a command with its ack."""

    def __init__(self, on_message, calls):
        self.on_message, self.calls = on_message, calls

    def publish(self, topic, payload, qos=0):
        self.calls.append('publish')
        msg = type('Msg', (), {'topic': topic, 'payload': json.dumps({'id': json.loads(payload)['id'], 'ok': True})})
        self.on_message(self, None, msg)

    def disconnect(self):
        self.calls.append('disconnect')

    def loop_stop(self):
        self.calls.append('loop_stop')


class Ep:
    def __init__(self):
        self.calls = []

    def connect(self, name, on_message=None, subscribe=()):
        return Spy(on_message, self.calls)


def test_cmd_disconnects_before_it_stops_the_network_thread():
    ep = Ep()
    assert commands.send(ep, 's', 'd', 'front', 'status')['ok'] is True
    assert ep.calls == ['publish', 'disconnect', 'loop_stop']


def test_closing_a_client_takes_no_wait(broker):
    ep = mqttc.Endpoint(broker.host, broker.port)
    took = []
    for _ in range(3):
        c = ep.connect('close-test')
        time.sleep(0.1)             # its network thread is inside its 1 s select
        t0 = time.monotonic()
        mqttc.close(c)
        took.append(time.monotonic() - t0)
        assert not c._thread, 'the network thread has ended'
    col = ep.collector(['nothing/#'])
    time.sleep(0.1)
    t0 = time.monotonic()
    col.close()
    took.append(time.monotonic() - t0)
    assert max(took) < 0.3, took        # loop_stop() first: 0.9 s each here


def test_no_client_is_stopped_before_it_is_disconnected():
    import re
    from pathlib import Path
    import edgectl
    late = []
    for p in Path(edgectl.__file__).parent.rglob('*.py'):
        for m in re.finditer(r'(\w[\w.]*)\.loop_stop\(\)\s*\n\s*\1\.disconnect\(\)', p.read_text()):
            late.append('%s: %s' % (p.name, m.group(1)))
    assert late == [], 'use mqttc.close(): ' + ', '.join(late)
