"""`edgectl bench boot-heap`: where a board's heap goes, per firmware layout.

Two layouts: `romfs` (the firmware runs in place from a ROM partition; the simulator
holds the image in RAM and its size is taken off) and `lib` (`lib/*.mpy` on the
filesystem, loaded into the heap, as `edgectl deploy` leaves a board without a ROM
partition). For each, the real firmware is started against a broker: heap in use after
boot (its boot line) and running (its `tele`, after a minute's worth of traffic); and a
probe (host/data/heap_probe.py) builds the same runtime part by part on the same VM and
heap, giving the bytes each subsystem and controller type leaves in the heap. Figures are
the MicroPython unix port's (64-bit: object headers and pointers are twice an ESP32's, so
a board needs less; the goals are stated in these figures)."""
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from . import boards, paths, site as sitemod
from .broker import Broker
from .errors import EdgeError

LAYOUTS = ('romfs', 'lib')
DEFAULT_SITE = paths.DATA / 'heap-site.yaml'
PROBE = paths.DATA / 'heap_probe.py'
BENCH_SECRETS = {'cmd_key': '11' * 32, 'fire_key': '22' * 32}   # signing on, as on a deployed board


def layout_env(layout, fs):
    """(env, extra heap KB) for running MicroPython in `fs` with this layout's firmware."""
    env = dict(os.environ)
    if layout == 'romfs':
        from .build import build_romfs
        rom = build_romfs()
        env.update(MICROPYPATH=paths.micropython_path(), EDGE_ROMFS=str(rom))
        return env, (rom.stat().st_size + 1023) // 1024
    from .build import build
    folder, _ = build(None)
    lib = Path(fs) / 'lib'
    lib.mkdir(parents=True, exist_ok=True)
    for f in folder.glob('*.mpy'):
        shutil.copy(f, lib / f.name)
    shutil.copy(paths.FIRMWARE / 'main.py', Path(fs) / 'main.py')
    env.pop('EDGE_ROMFS', None)
    env['MICROPYPATH'] = ':.frozen:lib'
    return env, 0


def _provision(fs, cfg):
    fs = Path(fs)
    fs.mkdir(parents=True, exist_ok=True)
    (fs / 'config.json').write_text(json.dumps(cfg))
    (fs / 'secrets.json').write_text(json.dumps(BENCH_SECRETS))


def probe(cfg, layout, heap_kb, work):
    """The probe's breakdown: {'base', 'booted', 'free', 'parts': [[group, what, bytes]]}."""
    fs = Path(work) / ('probe-' + layout)
    _provision(fs, cfg)
    env, extra = layout_env(layout, fs)
    # a heap large enough that a board which does not fit is still taken apart
    r = subprocess.run([paths.micropython(), '-X', 'heapsize=%dK' % (4 * heap_kb + extra), str(PROBE)], cwd=str(fs),
                       env=env, capture_output=True, text=True, timeout=60)
    for line in r.stdout.splitlines():
        if line.startswith('HEAP_PROBE '):
            return json.loads(line[len('HEAP_PROBE '):])
    raise EdgeError('the heap probe did not finish (%s layout): %s' % (layout, (r.stdout + r.stderr).strip()[-600:]))


def _groups(p):
    """Bytes by subsystem and by controller type from a probe's parts; the App line loses
    what was measured inside it (outbox, verifiers, fire state), so nothing counts twice."""
    inside = sum(n for g, what, n in p['parts'] if 'in App' in what)
    out = {}
    for g, what, n in p['parts']:
        if what.startswith('App ('):
            n -= inside
        out[g] = out.get(g, 0) + n
    return out


def run_firmware(cfg, layout, heap_kb, work, broker, settle_s=3.0):
    """The real firmware: heap in use after boot (boot line) and running (tele)."""
    from .mqttc import Collector
    from .proto import topics
    fs = Path(work) / ('fw-' + layout)
    cfg = dict(cfg, tele_s=1, broker={'host': broker.host, 'port': broker.port})
    _provision(fs, cfg)
    env, extra = layout_env(layout, fs)
    env['EDGE_IO_PORT'] = str(_free_port())
    main = str(paths.FIRMWARE / 'main.py') if layout == 'romfs' else 'main.py'
    col = Collector(broker.host, broker.port, [topics.tele(cfg['site'], cfg['device'])], 'heap-bench')
    log = fs / 'board.log'
    with open(log, 'wb') as lf:
        t0 = time.monotonic()
        p = subprocess.Popen([paths.micropython(), '-X', 'heapsize=%dK' % (heap_kb + extra), main], cwd=str(fs),
                             env=env, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        teles = []
        end = time.monotonic() + settle_s + 10
        while time.monotonic() < end and p.poll() is None:
            teles = [m for m in col.msgs if isinstance(m[2], dict) and 'heap_used' in m[2]]
            if teles and time.monotonic() - t0 >= settle_s:
                break
            time.sleep(0.1)
    finally:
        col.close()
        from .procs import end as end_proc
        end_proc(p)
    text = log.read_text(errors='replace')
    rom = _rom_bytes(layout)
    out = {'layout': layout, 'log_tail': text[-600:]}
    import re
    m = re.search(r'heap used (\d+) free (\d+)', text)
    if m:
        out['used_after_boot'] = int(m.group(1)) - rom
        out['free_after_boot'] = int(m.group(2))
    if teles:
        t = teles[-1][2]
        out['used_running'] = t['heap_used'] - rom
        out['free_running'] = t['heap_free']
    if 'MemoryError' in text:
        out['memory_error'] = [ln for ln in text.splitlines() if 'MemoryError' in ln][-1].strip()
    return out


def _rom_bytes(layout):
    if layout != 'romfs':
        return 0
    from .build import build_romfs
    return build_romfs().stat().st_size


def _free_port():
    from .broker import free_port
    return free_port()


def boot_heap(site_path=None, device=None, layouts=LAYOUTS):
    """The bench: for each layout, the firmware's own figures and the probe's breakdown."""
    site = sitemod.load_valid(site_path or DEFAULT_SITE)
    devices = [device] if device else sorted(site.devices)
    out = {'name': 'boot-heap', 'site': str(site_path or DEFAULT_SITE), 'devices': {},
           'note': 'gc.mem_alloc() after gc.collect() on the MicroPython unix port (64-bit: an ESP32 needs less) '
                   'with the board profile\'s heap; the ROMFS image is taken off (flash on a board). Parts: bytes '
                   'each part leaves in the heap as the probe builds the runtime one part at a time.'}
    with tempfile.TemporaryDirectory(prefix='edgectl-bench-') as work, Broker(workdir=Path(work) / 'broker') as br:
        for dev in devices:
            cfg = sitemod.device_config(site, dev)
            heap_kb = boards.load(cfg['board'])['heap_kb']
            d = {'board': cfg['board'], 'heap_kb': heap_kb,
                 'controllers': [c['type'] for c in cfg['controllers']], 'layouts': {}}
            for layout in layouts:
                w = Path(work) / dev
                fw = run_firmware(cfg, layout, heap_kb, w, br)
                if 'used_after_boot' in fw:
                    fw.pop('log_tail')
                try:
                    p = probe(cfg, layout, heap_kb, w)
                except EdgeError as e:
                    p = {'error': str(e)}
                entry = dict(fw)
                if 'parts' in p:
                    entry['probe_used_after_boot'] = p['booted']
                    entry['by_part'] = _groups(p)
                    entry['parts'] = p['parts']
                else:
                    entry['probe_error'] = p['error']
                d['layouts'][layout] = entry
            out['devices'][dev] = d
    return out
