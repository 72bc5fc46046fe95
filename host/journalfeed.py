"""The headless journal's intake (`edgectl journal run`, and the ingest benchmark): every
message of the site read by the lean MQTT reader, judged by the Monitor (dedup, gaps,
alarms, offline boards) and committed to the SQLite store; each batch is acknowledged to
the broker only after its commit, and never if the commit failed."""
import time

from .errors import EdgeError
from .monitor import Monitor
from .mqttraw import RawSubscriber
from .proto import topics


class JournalFeed:
    def __init__(self, site, host, port, store, tele_s=None, client_id=None, auth=None, ca=None):
        self.store = store
        self.mon = Monitor(site, store=store, tele_s=tele_s)
        self.mon.show = lambda rec: None
        self._connect = lambda: RawSubscriber(host, port, client_id or 'journal-%s' % site,
                                              [topics.site_filter(site)], self._batch, auth=auth, ca=ca)
        self.sub = self._connect()
        self.reconnects = 0
        self._received = 0

    def _batch(self, batch, release):
        self.mon.handle_batch(batch)
        self.store.then(release)

    @property
    def received(self):
        return self._received + self.sub.received

    def check(self):
        """Raise when the journal can no longer keep what it receives (the broker keeps
        every unacknowledged event for the next run); reconnect when the link dropped (the
        broker sends the unacknowledged ones again; duplicates are dropped by seq)."""
        if self.store.error:
            raise EdgeError('the journal cannot write %s (%s): stopped without acknowledging; '
                            'the broker keeps the events for the next run' % (self.store.path, self.store.error))
        if self.sub.t.is_alive():
            return False
        self.store.flush()
        self._received += self.sub.received
        self.sub.received = 0
        self.sub.close()
        try:
            self.sub = self._connect()
        except EdgeError:
            time.sleep(1.0)
            return False          # the dead one is kept: the next check tries again
        self.reconnects += 1
        return True

    def close(self):
        self.sub.close()
