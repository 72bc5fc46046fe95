"""`edgectl bench web`: a door forced open on a simulated board -> the alarm in the live
push of every open page of `edgectl web` (the server-sent events a browser reads; the
page's own drawing is not counted: the browser test stamps that). Optionally under a burst
of events from other publishers, to see that the server keeps up and pages still get the
alarm promptly. All in one process and one clock (time.time())."""
import http.client
import json
import threading
import time

from ..core.errors import EdgeError
from ..core.mqttc import connect
from ..core.proto import topics
from ..sim.simio import SimIO
from .benchkit import board, percentiles, workspace

SITE = """\
site: bench
broker: {host: 127.0.0.1, port: 1883}
devices:
  bench-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}, debounce_ms: 0, held_open_s: 3600}
"""
KEY = '"key": ["bench-1", "front", "door.forced"]'


class Reader(threading.Thread):
    """One open page: reads the push stream and stamps when the alarm first appears and when
    it is gone again."""

    def __init__(self, port, cookie):
        threading.Thread.__init__(self, daemon=True)
        self.conn = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
        self.conn.request('GET', '/api/events', headers={'Cookie': 'edgectl_session=%s' % cookie})
        self.r = self.conn.getresponse()
        if self.r.status != 200:
            raise EdgeError('the page could not open its stream: %d' % self.r.status)
        self.seen = threading.Event()
        self.gone = threading.Event()
        self.at = None
        self.messages = 0

    def run(self):
        try:
            while True:
                line = self.r.fp.readline()
                if not line:
                    return
                if not line.startswith(b'data: '):
                    continue
                self.messages += 1
                if line.find(b'"alarms"') < 0:
                    continue
                if KEY.encode() in line:
                    if not self.seen.is_set():
                        self.at = time.time()
                        self.seen.set()
                else:
                    self.gone.set()
        except OSError:
            return


def _burst(ep, site, stop, rate, sent):
    """Events of other devices at `rate` a second until `stop` (the journal's and pushes' load)."""
    c = connect(ep.host, ep.port, 'burst')
    try:
        seq, t0 = 0, time.time()
        while not stop.is_set():
            seq += 1
            ev = {'seq': seq, 'ts': seq, 'type': 'door.opened', 'sev': 'info', 'ctrl': 'front'}
            c.publish(topics.evt(site, 'busy-%d' % (seq % 50), 'front'), json.dumps(ev), qos=0)
            sent[0] = seq
            ahead = seq / float(rate) - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
    finally:
        c.disconnect()
        c.loop_stop()


def web_latency(n=50, pages=20, burst=0, progress=None):
    from ..room.store import Store
    from ..room.web.hub import Hub, WebMonitor
    from ..room.web.server import App, serve
    from ..core.broker import hash_password
    with workspace() as (work, br):
        b = board(work, br, SITE, 'bench-1').start()
        store = Store(work / 'journal.sqlite3')
        mon = WebMonitor('bench', operator='web', store=store)
        hub = Hub(None, mon, store)
        passwd = hash_password('bench', 'bench-password')
        app = App(hub, lambda: {'bench': passwd})
        httpd = serve(app, '127.0.0.1', 0)
        port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True).start()
        mon.attach(br.endpoint())
        hub.start()
        stop = threading.Event()
        sent = [0]
        readers = []
        try:
            c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
            c.request('POST', '/api/login', json.dumps({'name': 'bench', 'password': 'bench-password'}),
                      {'Content-Type': 'application/json', 'Origin': 'http://127.0.0.1:%d' % port,
                       'Host': '127.0.0.1:%d' % port})
            r = c.getresponse()
            cookie = r.getheader('Set-Cookie').split(';')[0].split('=', 1)[1]
            r.read()
            readers = [Reader(port, cookie) for _ in range(pages)]
            for rd in readers:
                rd.start()
            end = time.time() + 15
            while not (mon.devices.get('bench-1') or {}).get('online'):
                if time.time() > end:
                    raise EdgeError('bench board did not come online:\n' + b.log_tail())
                time.sleep(0.05)
            if burst:
                threading.Thread(target=_burst, args=(br.endpoint(), 'bench', stop, burst, sent), daemon=True).start()
                time.sleep(1)
            io = SimIO(b.io_port)
            slowest, every = [], []
            for i in range(n):
                for rd in readers:
                    rd.seen.clear()
                    rd.gone.clear()
                t0 = time.time()
                io.set('front.contact', 1)
                for rd in readers:
                    if not rd.seen.wait(5):
                        raise EdgeError('a page never got door.forced in sample %d' % i)
                lat = [(rd.at - t0) * 1000 for rd in readers]
                slowest.append(max(lat))
                every.extend(lat)
                io.set('front.contact', 0)
                for rd in readers:
                    if not rd.gone.wait(5):
                        raise EdgeError('door.forced never cleared on a page in sample %d' % i)
                if progress:
                    progress(i + 1, n)
            io.close()
            stop.set()
            backlog_s = _drained(store)
        finally:
            stop.set()
            hub.stop()
            httpd.shutdown()
            httpd.server_close()
            mon.detach()
            store.close()
            b.stop()
    out = {'name': 'web', 'n': n, 'pages': pages, 'burst_events_per_s': burst, 'burst_events_sent': sent[0],
           'path': 'input edge -> board -> mosquitto -> edgectl web (intake, journal, snapshot) -> the push '
                   'stream of every open page (server-sent events, read in this process; the browser\'s drawing '
                   'is not counted)',
           'backlog_after_s': backlog_s,
           'slowest_page': percentiles(slowest, '_ms', 2), 'every_page': percentiles(every, '_ms', 2)}
    return out


def _drained(store):
    """Seconds until the journal has caught up after the samples (the server kept up: ~0)."""
    t0 = time.time()
    store.flush(60)
    return round(time.time() - t0, 3)
