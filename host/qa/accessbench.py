"""`edgectl bench access`: card access on simulated boards (the firmware on the MicroPython
VM with a board's heap): a swipe's last bit to the lock released with 10,000 cards on the
board (the `bits` request's round trip on the reader wire: the board answers after the
decision and the lock output), and the heap in use with 0, 0 + a reader's code, and 10,000
cards (the board's telemetry, after a collection)."""
import random
import secrets as rnd
import time
from pathlib import Path

from ..core import site as sitemod
from ..core.errors import EdgeError
from ..core.mqttc import Collector
from ..core.proto import cardrec, topics
from ..sim.sim import SimBoard
from ..sim.simio import SimIO
from .benchkit import percentiles, workspace

SITE = """
site: bench
broker: {host: 127.0.0.1, port: 1883}
devices:
  bench-1:
    board: esp32-devkitc
    tele_s: 1
    controllers:
      - name: front
        type: door
        pins: {contact: 4, lock: 25%s}
        unlock_s: 600
"""
READER = ', reader_d0: 16, reader_d1: 17'


def _store(path, n, salt):
    """cards.db with n cards W26:0..n-1, as the front desk's deltas build it."""
    recs = sorted(cardrec.pack(cardrec.key(salt, 'W26:%d' % i), holder=i + 1, groups=1) for i in range(n))
    with open(path, 'wb') as f:
        f.write(cardrec.header(1, n, salt))
        f.writelines(recs)


def _board(work, broker, name, reader, cards):
    site = sitemod.parse(SITE % (READER if reader else ''), 'bench-site.yaml')
    sitemod.validate(site)
    if site.errors:
        raise EdgeError('bench site invalid: %s' % site.errors)
    cfg = sitemod.device_config(site, 'bench-1', {'host': broker.host, 'port': broker.port})
    fs = Path(work) / name
    fs.mkdir(parents=True)
    if cards is not None:
        _store(fs / 'cards.db', cards, b'bench-salt-16byt')
    return SimBoard(cfg, fs, secret={'cmd_key': rnd.token_hex(32)})


def _heap(col, since, samples=3, timeout=15):
    """The lowest heap_used of the next telemetry messages."""
    seen = []
    end = time.monotonic() + timeout
    while len(seen) < samples and time.monotonic() < end:
        m = col.wait(lambda t, p: t.endswith('/tele') and isinstance(p, dict), end - time.monotonic(), since)
        if m is None:
            break
        seen.append(m[2]['heap_used'])
        with col.cond:
            since = col.base + col.items.index(m) + 1
    return min(seen) if seen else None


def access(trials=200, cards=10000, progress=None):
    n = trials
    rng = random.Random(19)
    out = {'name': 'access', 'cards': cards, 'swipes': n}
    with workspace() as (work, br):
        heaps = {}
        for name, reader, count in (('no-reader', False, None), ('empty', True, 0), ('full', True, cards)):
            b = _board(work, br, name, reader, count)
            col = Collector(br.host, br.port, [topics.tele('bench', 'bench-1')], 'bench')
            b.start()
            io = SimIO(b.io_port)
            try:
                if reader:      # swipes: known cards (granted), some unknown (denied)
                    ms = []
                    F = _frames()
                    for i in range(n if name == 'full' else 20):
                        card = rng.randrange(count or 1) if rng.random() < 0.9 else 16000000 + i
                        bits = F.card(26, card)
                        t0 = time.perf_counter()
                        io.request('bits front.reader %s' % bits)
                        ms.append((time.perf_counter() - t0) * 1000)
                        if progress and name == 'full':
                            progress(i + 1, n)
                    if name == 'full':
                        out['swipe_to_lock'] = percentiles(ms, '_ms', 2)
                    if count and io.get('front.lock') != 0:
                        raise EdgeError('no card was granted on the %s board' % name)
                heaps[name] = _heap(col, col.mark())
            finally:
                io.close()
                col.close()
                b.stop()
        out['heap_used'] = heaps
        if heaps.get('full') is not None and heaps.get('empty') is not None:
            out['heap_10000_minus_0'] = heaps['full'] - heaps['empty']
        if heaps.get('empty') is not None and heaps.get('no-reader') is not None:
            out['reader_code_heap'] = heaps['empty'] - heaps['no-reader']
    return out


def _frames():
    from ..core.proto import _load
    return _load('readerframes')
