"""A monitoring centre on one machine, for tests and `edgectl bench central`: a central
mosquitto (TLS, its own CA, logins and ACLs from a centre file written here) and a
mosquitto per site bridged to it, each bridge through a cuttable TCP link (`WanLink`), so a
WAN outage of one site can be made and ended while every broker keeps running."""
import json
import socket
import threading
import time
from pathlib import Path

from ..core.broker import Broker, free_port
from ..core import centre


class WanLink:
    """A TCP forwarder 127.0.0.1:port -> target: what a site's bridge dials. cut() drops
    every connection through it and refuses new ones (nothing listens) until restore()."""

    def __init__(self, target_port, host='127.0.0.1'):
        self.target = (host, target_port)
        self.host = host
        self.port = 0
        self.conns = []
        self._lock = threading.Lock()
        self.lsock = None
        self.restore()

    def restore(self):
        """Listen (again, on the same port) and forward."""
        if self.lsock is not None:
            return
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(16)
        self.port = s.getsockname()[1]
        self.lsock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    @property
    def up(self):
        return self.lsock is not None

    def _accept(self, lsock):
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            u.settimeout(None)
            with self._lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """The WAN goes: connections through it dropped, new ones refused."""
        lsock, self.lsock = self.lsock, None
        if lsock is not None:
            try:
                lsock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            lsock.close()
        with self._lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self):
        self.cut()


class CentreRig:
    def __init__(self, folder, sites=('north', 'south', 'east'), tls=True, retry_s=1, inflight=None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port(pair=True)
        self.centre_file = self.folder / 'centre.yaml'
        self.centre_file.write_text('centre: hq\nbroker: {host: 127.0.0.1, port: %d}\nsites: [%s]\n' % (
            self.port, ', '.join(sites)))
        self.centre = centre.load(self.centre_file)
        self.secrets, _ = centre.ensure_secrets(self.centre_file, list(sites))
        self.tls = centre.tls_files(self.centre) if tls else None
        self.ca = self.tls[0] if tls else None
        self.room = (self.secrets['room']['user'], self.secrets['room']['password'])
        self.broker = centre.CentreBroker(self.centre, self.secrets, workdir=self.folder / 'centre', tls=self.tls)
        self.sites = {}
        self.links = {}
        self.retry_s = retry_s
        self.inflight = inflight      # the site brokers' max_inflight_messages (`edgectl broker`: 1000)

    def login(self, site):
        return centre.bridge_user(site), self.secrets['sites'][site]['password']

    def start(self):
        self.broker.start()
        for s in self.centre['sites']:
            link = self.links[s] = WanLink(self.port)
            b = Broker(workdir=self.folder / s, persistence=True)
            b.max_inflight = self.inflight or b.max_inflight
            b.bridge = centre.bridge_lines(s, {'host': '127.0.0.1', 'port': link.port}, self.login(s), self.ca,
                                           (self.retry_s, self.retry_s))
            self.sites[s] = b.start()
        return self

    def room_endpoint(self):
        """The centre's control-room listener, as the central tools log in to it."""
        from ..core.mqttc import Endpoint
        return Endpoint('127.0.0.1', self.broker.room_port, self.room, self.ca)

    def room_client(self, topics_=('edge/v1/#',), **kw):
        from ..core.mqttc import Collector
        return Collector('127.0.0.1', self.broker.room_port, list(topics_), auth=self.room, ca=self.ca, **kw)

    def publisher(self, site):
        from ..core.mqttc import connect
        return connect('127.0.0.1', self.sites[site].port, 'rig-%s' % site)

    @staticmethod
    def event(seq, ctrl='gate', etype='door.opened', sev='info', **extra):
        return json.dumps(dict(extra, seq=seq, log=1, ts=1000 + seq, type=etype, sev=sev, ctrl=ctrl))

    def publish_events(self, site, device, seqs, client=None):
        """Publish events seqs of `device` at `site` (QoS 1, each confirmed by the site broker)."""
        c = client or self.publisher(site)
        try:
            infos = [c.publish('edge/v1/%s/%s/evt/gate' % (site, device), self.event(n), qos=1) for n in seqs]
            for i in infos:
                i.wait_for_publish(10)
        finally:
            if client is None:
                c.disconnect()
                c.loop_stop()

    def wait_bridges(self, timeout=10.0, sites=None):
        """True once every site's bridge (or those of `sites`) says it is up at the centre."""
        col = self.room_client(['edge/v1/+/_site/%s' % centre.BRIDGE_STATE])
        try:
            want = set(sites or self.centre['sites'])
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                last = {}
                for _, t, m, _r in list(col.items):
                    last[t.split('/')[2]] = m
                if all(last.get(s) == 1 for s in want):
                    return True
                time.sleep(0.05)
            return False
        finally:
            col.close()

    def stop(self):
        for b in self.sites.values():
            b.stop()
        for link in self.links.values():
            link.close()
        self.broker.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
