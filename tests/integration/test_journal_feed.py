"""The headless journal's intake against real mosquitto: a batch is acknowledged to the
broker only after its commit, so a journal whose disk fails loses nothing (the broker
gives the same events to the next run); a broker restart is ridden out by reconnecting;
duplicates are journaled once."""
import json
import time

import paho.mqtt.client as mqtt

from edgectl.core.broker import Broker, free_port
from edgectl.core.errors import EdgeError
from edgectl.room.monitor import Monitor
from edgectl.core.proto import topics
from edgectl.room.store import Store


def publish(br, seqs, dev='d1'):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id='pub')
    c.connect(br.host, br.port)
    c.loop_start()
    infos = [c.publish(topics.evt('jf', dev, 'front'), json.dumps({'seq': s, 'ts': 1, 'type': 'door.opened', 'sev': 'info',
                                                                   'ctrl': 'front'}), qos=1) for s in seqs]
    for i in infos:
        i.wait_for_publish(5)
    c.loop_stop()
    c.disconnect()


def journal(br, store, cid):
    """The headless journal's intake, as `edgectl journal run` sets it up."""
    mon = Monitor('jf', store=store)
    mon.show = lambda rec: None
    return mon.attach(br.endpoint(), client_id=cid, persistent=True, publish=False)


def wait(pred, timeout=10):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


def test_a_failed_commit_acknowledges_nothing_and_the_next_run_gets_everything(tmp_path):
    with Broker(port=free_port(), workdir=tmp_path / 'broker', persistence=True) as br:
        bad = Store(tmp_path / 'bad.sqlite3')
        bad.SQL = dict(bad.SQL, event='INSERT INTO gone VALUES (?,?,?,?,?,?,?,?,?)')    # the disk "fails"
        feed = journal(br, bad, 'journal-jf')
        publish(br, range(1, 51))
        # unacknowledged, the broker stops at its in-flight window (20) and keeps the rest
        assert wait(lambda: feed.received >= 20 and bad.error)
        time.sleep(0.3)
        assert feed.received == 20
        try:
            feed.check_link()
            raise AssertionError('a journal that cannot write must stop')
        except EdgeError as e:
            assert 'cannot write' in str(e) and 'broker keeps' in str(e)
        feed.detach()
        bad.close()

        good = Store(tmp_path / 'good.sqlite3')
        feed = journal(br, good, 'journal-jf')     # the same session
        publish(br, [50, 51, 52])                          # 50 again: a duplicate
        assert wait(lambda: good.flush() and good.count() == 52), good.count()
        assert feed.duplicates >= 1
        feed.detach()
        good.close()


def test_the_journal_reconnects_after_a_broker_restart(tmp_path):
    port = free_port()
    br = Broker(port=port, workdir=tmp_path / 'broker', persistence=True).start()
    st = Store(tmp_path / 'j.sqlite3')
    feed = journal(br, st, 'journal-jf2')
    try:
        publish(br, range(1, 11))
        assert wait(lambda: st.flush() and st.count() == 10)
        br.stop()
        assert wait(lambda: not feed.sub.t.is_alive(), 5)
        br = Broker(port=port, workdir=tmp_path / 'broker', persistence=True).start()
        assert wait(lambda: feed.check_link(), 10), 'never reconnected'
        publish(br, range(11, 21))
        assert wait(lambda: st.flush() and st.count() == 20), st.count()
        assert [r['seq'] for r in st.query()] == list(range(1, 21))
    finally:
        feed.detach()
        st.close()
        br.stop()
