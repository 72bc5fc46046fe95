"""Benchmarks (`edgectl bench NAME --json`): figures, never pass/fail."""
import re
import statistics
import tempfile
import time
from pathlib import Path

from . import site as sitemod
from .broker import Broker
from .errors import EdgeError
from .mqttc import Collector
from .proto import topics
from .sim import SimBoard
from .simio import SimIO

BENCH_SITE = """
site: bench
broker: {host: 127.0.0.1, port: 1883}
devices:
  bench-1:
    board: esp32-devkitc
    controllers:
      - name: front
        type: door
        pins: {contact: 4, rex: 13, fire: 14, lock: 25, buzzer: 26}
        held_open_s: %(held)s
        prealarm_s: 0
        debounce_ms: %(deb)d
"""


def _board(work, broker, held=1, deb=20):
    site = sitemod.parse(BENCH_SITE % {'held': held, 'deb': deb}, 'bench-site.yaml')
    sitemod.validate(site)
    if site.errors:
        raise EdgeError('bench site invalid: %s' % site.errors)
    cfg = sitemod.device_config(site, 'bench-1', {'host': broker.host, 'port': broker.port})
    return SimBoard(cfg, Path(work) / 'bench-1')


def _wait_online(col, timeout=10):
    return col.wait(lambda t, p: t.endswith('/status') and isinstance(p, dict) and p.get('online'), timeout)


def alarm_latency(n=20, held_s=1, debounce_ms=20, progress=None):
    """Door contact active -> door.held_open at an MQTT subscriber, minus held_open_s."""
    with tempfile.TemporaryDirectory(prefix='edgectl-bench-') as work, Broker(workdir=Path(work) / 'broker') as br:
        b = _board(work, br, held_s, debounce_ms).start()
        col = Collector(br.host, br.port, [topics.base('bench', 'bench-1') + '#'], 'bench')
        try:
            if not _wait_online(col):
                raise EdgeError('bench board did not come online:\n' + b.log_tail())
            io = SimIO(b.io_port)
            samples = []
            for i in range(n):
                m = col.mark()
                t0 = time.time()
                io.set('front.contact', 1)
                r = col.wait(lambda t, p: isinstance(p, dict) and p.get('type') == 'door.held_open' and p.get('active'),
                             held_s + 5, start=m)
                if r is None:
                    raise EdgeError('no held-open alarm in sample %d:\n%s' % (i, b.log_tail()))
                samples.append((r[0] - t0 - held_s) * 1000)
                m = col.mark()
                io.set('front.contact', 0)
                col.wait(lambda t, p: isinstance(p, dict) and p.get('type') == 'door.held_open'
                         and p.get('active') is False, 5, start=m)
                time.sleep(0.05)
                if progress:
                    progress(i + 1, n)
            io.close()
        finally:
            col.close()
            b.stop()
    s = sorted(samples)
    return {'name': 'alarm-latency', 'n': n, 'held_open_s': held_s, 'debounce_ms': debounce_ms,
            'median_ms': round(statistics.median(s), 2), 'p90_ms': round(s[int(0.9 * (n - 1))], 2),
            'min_ms': round(s[0], 2), 'max_ms': round(s[-1], 2),
            'note': 'includes debounce_ms (the held-open timer starts once the contact is debounced)',
            'samples_ms': [round(x, 2) for x in samples]}


def boot_heap():
    """Heap in use after boot (gc.collect() then gc.mem_alloc()) on the simulated board."""
    with tempfile.TemporaryDirectory(prefix='edgectl-bench-') as work, Broker(workdir=Path(work) / 'broker') as br:
        b = _board(work, br)
        t0 = time.monotonic()
        b.start()
        col = Collector(br.host, br.port, [topics.base('bench', 'bench-1') + '#'], 'bench')
        try:
            if not _wait_online(col):
                raise EdgeError('bench board did not come online:\n' + b.log_tail())
            t_online = time.monotonic() - t0
            tele = col.wait(lambda t, p: t.endswith('/tele'), 8)
            m = re.search(r'heap used (\d+) free (\d+)', b.log_tail(4000))
        finally:
            col.close()
            b.stop()
    if not m:
        raise EdgeError('the board did not print its heap at boot')
    from .build import build_romfs
    rom = build_romfs().stat().st_size     # held in RAM by the simulator, in flash on a board
    return {'name': 'boot-heap', 'heap_kb': b.heap_kb, 'romfs_image_bytes': rom,
            'heap_used_after_boot': int(m.group(1)) - rom,
            'heap_free_after_boot': int(m.group(2)),
            'heap_used_running': tele[2]['heap_used'] - rom if tele else None,
            'boot_to_online_s': round(t_online, 3),
            'note': 'gc.mem_alloc() after gc.collect(), less the ROMFS image (flash on a board, RAM here)'}


def outage(outage_s=30, boards=3, period_s=0.2, progress=None):
    """Events raised by boards under load during a broker outage; time from the broker's
    return to the last of them at a persistent-session subscriber; how many were lost."""
    from .faults import FaultRig, Load
    with tempfile.TemporaryDirectory(prefix='edgectl-bench-') as work:
        rig = FaultRig(work, n_boards=boards).start()
        try:
            rig.settle(30)
            load = Load(rig.boards, period_s).start()
            time.sleep(1)
            seq0 = sum(rig.board_info(b)['seq'] for b in rig.boards)
            rig.broker.stop()
            t_end = time.monotonic() + outage_s
            while time.monotonic() < t_end:
                time.sleep(min(1, t_end - time.monotonic()))
                if progress:
                    progress(outage_s - (t_end - time.monotonic()), outage_s)
            load.stop()                      # everything raised from here on was raised offline
            seq1 = sum(rig.board_info(b)['seq'] for b in rig.boards)
            pending = sum(rig.board_info(b)['outbox'] for b in rig.boards)
            rig.broker.start()
            t_back = time.monotonic()
            tally = rig.settle(120)
            drain_s = rig.last_arrival() - t_back
        finally:
            rig.stop()
    return {'name': 'outage', 'outage_s': outage_s, 'boards': boards,
            'raised_during_outage': seq1 - seq0, 'waiting_in_outboxes': pending,
            'broker_return_to_last_delivered_s': round(drain_s, 2),
            'delivery_rate_per_s': round((seq1 - seq0) / drain_s, 1) if drain_s > 0 else None,
            'lost': tally['lost'], 'duplicates_dropped': tally['duplicates_dropped'],
            'dropped_on_board': tally['dropped_on_board'],
            'note': 'reconnect backoff capped at backoff_max_s=4 with jitter; includes the reconnect wait'}


BENCHES = {'alarm-latency': alarm_latency, 'boot-heap': boot_heap, 'outage': outage}
