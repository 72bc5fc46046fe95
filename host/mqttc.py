"""paho-mqtt helpers: a connected client, and a collector that waits for messages."""
import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt

from .errors import EdgeError


def connect(host, port, name='edgectl', timeout=5.0, on_message=None, subscribe=()):
    """A paho client connected to host:port with its network loop running."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id='%s-%s' % (name, uuid.uuid4().hex[:8]))
    ready = threading.Event()
    result = {}

    def on_connect(client, userdata, flags, rc, props=None):
        result['rc'] = rc
        if not rc.is_failure:
            for t in subscribe:
                client.subscribe(t, 1)
        ready.set()

    c.on_connect = on_connect
    if on_message:
        c.on_message = on_message
    try:
        c.connect(host, port, keepalive=30)
    except OSError as e:
        raise EdgeError('cannot reach the MQTT broker at %s:%d (%s): start one with `edgectl broker`' % (host, port, e))
    c.loop_start()
    if not ready.wait(timeout) or result['rc'].is_failure:
        c.loop_stop()
        raise EdgeError('the MQTT broker at %s:%d did not accept the connection (%s)' % (host, port, result.get('rc', 'timeout')))
    return c


class Collector:
    """Every message on the subscribed topics, with its arrival time; wait() for one."""

    def __init__(self, host, port, topics, name='collector'):
        self.msgs = []
        self.cond = threading.Condition()
        self.client = connect(host, port, name, on_message=self._on, subscribe=topics)
        time.sleep(0.05)

    def _on(self, client, userdata, msg):
        t = time.time()
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            payload = None
        with self.cond:
            self.msgs.append((t, msg.topic, payload, msg.retain))
            self.cond.notify_all()

    def wait(self, pred, timeout, start=0):
        """The first message from index `start` on with pred(topic, payload) true, or None."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for m in self.msgs[start:]:
                    if pred(m[1], m[2]):
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def mark(self):
        with self.cond:
            return len(self.msgs)

    def events(self, etype=None):
        with self.cond:
            return [m[2] for m in self.msgs if '/evt/' in m[1] and isinstance(m[2], dict)
                    and (etype is None or m[2].get('type') == etype)]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()
