"""The control room's lean reader over TLS: a TLS socket hands over one record per read,
and mosquitto writes one per message, so the reader gathers whatever else is readable
before handing a batch over (with one message a batch, a centre's journal committed once
per message: 4,600 events/s here against 10,000 with this)."""
import threading
import time

from edgectl.core import tls
from edgectl.core.broker import Broker
from edgectl.core.mqttc import connect
from edgectl.core.mqttraw import RawSubscriber


def test_a_tls_backlog_arrives_in_few_batches(tmp_path):
    ca, key = tls.make_ca(tmp_path / 'tls', 't')
    crt, k = tls.make_server(tmp_path / 'tls', ca, key, '127.0.0.1')
    with Broker(workdir=tmp_path / 'b', tls=(ca, crt, k)) as b:
        batches = []
        done = threading.Event()

        def on_batch(batch, release):
            batches.append(len(batch))
            release()
            if sum(batches) >= 500:
                done.set()
        sub = RawSubscriber(b.host, b.port, 'reader', ['t/#'], lambda x, r: None, clean=False, ca=ca)
        sub.close()                          # away: the broker queues what comes for the session
        p = connect(b.host, b.port, ca=ca)
        infos = [p.publish('t/%d' % (i % 7), b'x' * 50, qos=1) for i in range(500)]
        for i in infos:
            i.wait_for_publish(10)
        p.disconnect()
        p.loop_stop()
        sub = RawSubscriber(b.host, b.port, 'reader', ['t/#'], on_batch, clean=False, ca=ca)
        try:
            assert done.wait(10), sum(batches)
            assert len(batches) < 50, '%d batches for 500 messages' % len(batches)
        finally:
            sub.close()
