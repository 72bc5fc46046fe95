"""paho-mqtt helpers: a connected client, and a collector that waits for messages."""
import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt

from .errors import EdgeError
from .mqttraw import client_id_of
from .recorder import Recorder


class Endpoint:
    """Where a client connects and as whom: the broker's host and port, a login
    (user, password) or None, and the site CA's certificate (TLS, the broker's name
    checked) or None. The verbs make one (core/cliargs.py) and hand it down."""
    __slots__ = ('host', 'port', 'auth', 'ca')

    def __init__(self, host, port, auth=None, ca=None):
        self.host, self.port, self.auth, self.ca = host, port, auth, ca

    def as_user(self, auth):
        return Endpoint(self.host, self.port, auth, self.ca)

    def connect(self, name='edgectl', **kw):
        return connect(self.host, self.port, name, auth=self.auth, ca=self.ca, **kw)

    def collector(self, topics, name='collector', **kw):
        return Collector(self.host, self.port, topics, name, auth=self.auth, ca=self.ca, **kw)

    def __repr__(self):
        return 'Endpoint(%s:%d%s%s)' % (self.host, self.port, ' as %s' % self.auth[0] if self.auth else '',
                                         ' TLS' if self.ca else '')


def connect(host, port, name='edgectl', timeout=5.0, on_message=None, subscribe=(), client_id=None,
            clean_session=True, auth=None, ca=None):
    """A paho client connected to host:port with its network loop running. With a fixed
    client_id and clean_session=False the broker keeps what arrives while it is away."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id_of(client_id or '%s-%s' % (
                        name, uuid.uuid4().hex[:8])),
                    clean_session=clean_session)
    ready = threading.Event()
    result = {}

    def on_connect(client, userdata, flags, rc, props=None):
        result['rc'] = rc
        if not rc.is_failure:
            for t in subscribe:
                client.subscribe(t, 1)
        ready.set()

    c.on_connect = on_connect
    if auth:
        c.username_pw_set(*auth)
    if ca:
        import ssl
        c.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)   # and the host name is checked
    if on_message:
        c.on_message = on_message
    try:
        c.connect(host, port, keepalive=30)
    except ssl_errors() as e:
        raise EdgeError('TLS to the broker at %s:%d failed: %s (is its certificate from the site CA and for '
                        'the name %s?)' % (host, port, e, host))
    except OSError as e:
        raise EdgeError('cannot reach the MQTT broker at %s:%d (%s): start one with `edgectl broker`' % (host, port, e))
    c.loop_start()
    if not ready.wait(timeout) or result['rc'].is_failure:
        close(c)
        raise EdgeError('the MQTT broker at %s:%d did not accept the connection (%s)' % (host, port, result.get('rc', 'timeout')))
    return c


def close(c):
    """End a client started by connect(): disconnect first, then stop its network thread.
    In this order the thread ends at once (the DISCONNECT goes out and its loop sees the
    state); loop_stop() first waits for the thread's select to time out, up to 1 s, which
    every one-shot verb paid after its answer."""
    c.disconnect()
    c.loop_stop()


def ssl_errors():
    import ssl
    return (ssl.SSLError, ssl.CertificateError)


class Collector(Recorder):
    """Every message on the subscribed topics, with its arrival time; wait() for one."""

    def __init__(self, host, port, topics, name='collector', client_id=None, clean_session=True, auth=None,
                 ca=None):
        Recorder.__init__(self)
        self.msgs = self.items     # (arrival time, topic, JSON payload or None, retained)
        self.client = connect(host, port, name, on_message=self._on, subscribe=topics,
                              client_id=client_id, clean_session=clean_session, auth=auth, ca=ca)
        time.sleep(0.05)

    def _on(self, client, userdata, msg):
        t = time.time()
        try:
            payload = json.loads(msg.payload)
        except ValueError:
            payload = None
        self.record((t, msg.topic, payload, msg.retain))

    def wait(self, pred, timeout, start=0):
        """The first message from index `start` on with pred(topic, payload) true, or None."""
        return self.wait_for(lambda m: pred(m[1], m[2]), timeout, start)

    def event(self, etype, timeout=10, start=0, **match):
        """The first event of a type whose fields match (e.g. active=True), or None."""
        return self.wait(lambda t, p: '/evt/' in t and isinstance(p, dict) and p.get('type') == etype
                         and all(p.get(k) == v for k, v in match.items()), timeout, start)

    def events(self, etype=None):
        with self.cond:
            return [m[2] for m in self.msgs if '/evt/' in m[1] and isinstance(m[2], dict)
                    and (etype is None or m[2].get('type') == etype)]

    def close(self):
        close(self.client)
