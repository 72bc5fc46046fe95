"""`edgectl bench boot-heap`: where a board's heap goes, per firmware layout.

Two layouts: `romfs` (the firmware runs in place from a ROM partition; the simulator
holds the image in RAM and its size is taken off) and `lib` (`lib/*.mpy` on the
filesystem, loaded into the heap, as `edgectl deploy` leaves a board without a ROM
partition); a third, `frozen` (the firmware frozen into the MicroPython image, as a custom
ESP32 build would have it), with a VM built so (`--vm`, tools/build_micropython32.sh
--frozen). For each, the real firmware is started against a broker: heap in use after
boot (its boot line) and running (its `tele`, after a minute's worth of traffic); and a
probe (host/data/heap_probe.py) builds the same runtime part by part on the same VM and
heap, giving the bytes each subsystem and controller type leaves in the heap. Figures are
the MicroPython unix port's: the pip-installed one is 64-bit (object headers and pointers
are twice an ESP32's, so a board needs less); `--vm` runs another build, such as the 32-bit
one tools/build_micropython32.sh makes, whose figures are a board's word size."""
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from ..core import boards, paths, site as sitemod
from ..core.errors import EdgeError
from .benchkit import workspace

LAYOUTS = ('romfs', 'lib')          # what the default (pip-installed) VM measures
FROZEN = 'frozen'                    # needs a VM with the firmware frozen into it
DEFAULT_SITE = paths.DATA / 'heap-site.yaml'
PROBE = paths.DATA / 'heap_probe.py'
BENCH_SECRETS = {'cmd_key': '11' * 32, 'fire_key': '22' * 32}   # signing on, as on a deployed board


def vm_info(vm=None):
    """The VM a bench runs: {'path', 'bits', 'version', 'frozen_firmware'}; `vm` None is the
    default one (paths.micropython()). A path that is not a working MicroPython is an
    input error (exit 2)."""
    path = paths.micropython() if vm is None else os.path.abspath(os.path.expanduser(vm))
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise EdgeError('--vm %s is not an executable file' % vm, 2)
    code = ('import sys\ntry:\n from edge_frozen import SOURCES as f\nexcept ImportError:\n f="-"\n'
            'print("VM", sys.maxsize > 2**31, f, sys.version)')
    import tempfile
    with tempfile.TemporaryDirectory() as d:        # an empty folder: only frozen modules import
        try:
            r = subprocess.run([path, '-c', code], cwd=d, capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, MICROPYPATH='.frozen'))
        except (OSError, subprocess.TimeoutExpired) as e:
            raise EdgeError('--vm %s does not run: %s' % (path, e), 2)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith('VM ')), None)
    if line is None:
        raise EdgeError('%s is not a MicroPython unix port: %s' % (path, (r.stdout + r.stderr).strip()[-200:]), 2)
    _, wide, frozen, version = line.split(' ', 3)
    if frozen not in ('-', frozen_stamp()):
        raise EdgeError('the firmware frozen into %s is not this tree\'s (changed since it was built): '
                        'bash tools/build_micropython32.sh SRC --frozen' % path, 2)
    return {'path': path, 'bits': 64 if wide == 'True' else 32, 'version': version,
            'frozen_firmware': frozen != '-'}


def frozen_stamp():
    """sha256 of the firmware as tools/build_micropython32.sh --frozen freezes it (what goes
    onto a board but main.py, in build.sources() order)."""
    import hashlib
    from ..core.build import ENTRY, sources
    h = hashlib.sha256()
    for src, name in sources():
        if name != ENTRY:
            h.update(src.read_bytes())
    return h.hexdigest()


def layouts_for(vm, layout=None):
    """The layouts a VM measures: the frozen layout with a frozen-firmware VM (whose frozen
    modules would stand in for the lib layout's), else romfs and lib."""
    have = (FROZEN,) if vm['frozen_firmware'] else LAYOUTS
    if layout is None:
        return have
    if layout not in have:
        if layout == FROZEN:
            raise EdgeError('the frozen layout needs a VM with the firmware frozen into it: '
                            'bash tools/build_micropython32.sh SRC --frozen, then --vm PATH', 2)
        raise EdgeError('%s has the firmware frozen into it: it measures the frozen layout only' % vm['path'], 2)
    return (layout,)


def layout_env(layout, fs):
    """(env, extra heap KB) for running MicroPython in `fs` with this layout's firmware."""
    env = dict(os.environ)
    if layout == FROZEN:                # the firmware is in the VM: only main.py on the filesystem
        Path(fs).mkdir(parents=True, exist_ok=True)
        shutil.copy(paths.FIRMWARE / 'main.py', Path(fs) / 'main.py')
        env.pop('EDGE_ROMFS', None)
        env['MICROPYPATH'] = '.frozen'
        return env, 0
    if layout == 'romfs':
        from ..core.build import build_romfs
        rom = build_romfs()
        env.update(MICROPYPATH=paths.micropython_path(), EDGE_ROMFS=str(rom))
        return env, (rom.stat().st_size + 1023) // 1024
    from ..core.build import build
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


def probe(cfg, layout, heap_kb, work, vm=None):
    """The probe's breakdown: {'base', 'booted', 'free', 'parts': [[group, what, bytes]]}."""
    fs = Path(work) / ('probe-' + layout)
    _provision(fs, cfg)
    env, extra = layout_env(layout, fs)
    # a heap large enough that a board which does not fit is still taken apart
    r = subprocess.run([vm or paths.micropython(), '-X', 'heapsize=%dK' % (4 * heap_kb + extra), str(PROBE)], cwd=str(fs),
                       env=env, capture_output=True, text=True, timeout=60)
    qstr = None
    for line in r.stdout.splitlines():
        if line.startswith('qstr pool:'):       # n_pool=6, n_qstr=674, n_str_data_bytes=..., n_total_bytes=...
            qstr = dict((k.strip(), int(v)) for k, v in (x.split('=') for x in line[len('qstr pool:'):].split(',')))
        if line.startswith('HEAP_PROBE '):
            out = json.loads(line[len('HEAP_PROBE '):])
            out['qstr'] = qstr
            return out
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


def run_firmware(cfg, layout, heap_kb, work, broker, settle_s=3.0, vm=None):
    """The real firmware: heap in use after boot (boot line) and running (tele)."""
    from ..core.mqttc import Collector
    from ..core.proto import topics
    fs = Path(work) / ('fw-' + layout)
    cfg = dict(cfg, tele_s=1, broker={'host': broker.host, 'port': broker.port})
    _provision(fs, cfg)
    env, extra = layout_env(layout, fs)
    env.pop('EDGE_IO_PORT', None)     # no virtual wire server: a board has none (its code is not the board's)
    env['EDGE_FS_KB'] = str(boards.load(cfg['board']).get('fs_kb', 2048))
    main = str(paths.FIRMWARE / 'main.py') if layout == 'romfs' else 'main.py'
    col = Collector(broker.host, broker.port, [topics.tele(cfg['site'], cfg['device'])], 'heap-bench')
    log = fs / 'board.log'
    with open(log, 'wb') as lf:
        t0 = time.monotonic()
        p = subprocess.Popen([vm or paths.micropython(), '-X', 'heapsize=%dK' % (heap_kb + extra), main], cwd=str(fs),
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
        from ..core.procs import end as end_proc
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
    from ..core.build import build_romfs
    return build_romfs().stat().st_size


def boot_heap(site_path=None, device=None, layouts=None, vm=None):
    """The bench: for each layout, the firmware's own figures and the probe's breakdown.
    `vm`: another MicroPython unix port to run (default: the pip-installed one); `layouts`
    None: those the VM measures (layouts_for)."""
    info = vm_info(vm)
    layouts = layouts or layouts_for(info)
    for lay in layouts:
        layouts_for(info, lay)
    site = sitemod.load_valid(site_path or DEFAULT_SITE)
    devices = [device] if device else sorted(site.devices)
    words = ('64-bit: object headers and pointers twice an ESP32\'s, which needs less' if info['bits'] == 64 else
             '32-bit, as an ESP32: its figures are a board\'s but for the port\'s own modules')
    out = {'name': 'boot-heap', 'site': str(site_path or DEFAULT_SITE), 'devices': {}, 'vm': info,
           'note': 'gc.mem_alloc() after gc.collect() on the MicroPython unix port (%s) '
                   'with the board profile\'s heap; the ROMFS image is taken off (flash on a board). Parts: bytes '
                   'each part leaves in the heap as the probe builds the runtime one part at a time.' % words}
    vm = info['path']
    with workspace() as (work, br):
        for dev in devices:
            cfg = sitemod.device_config(site, dev)
            heap_kb = boards.load(cfg['board'])['heap_kb']
            d = {'board': cfg['board'], 'heap_kb': heap_kb,
                 'controllers': [c['type'] for c in cfg['controllers']], 'layouts': {}}
            for layout in layouts:
                w = Path(work) / dev
                fw = run_firmware(cfg, layout, heap_kb, w, br, vm=vm)
                if 'used_after_boot' in fw:
                    fw.pop('log_tail')
                try:
                    p = probe(cfg, layout, heap_kb, w, vm)
                except EdgeError as e:
                    p = {'error': str(e)}
                entry = dict(fw)
                if 'parts' in p:
                    entry['probe_used_after_boot'] = p['booted']
                    entry['qstr_pool'] = p['qstr']
                    entry['by_part'] = _groups(p)
                    entry['parts'] = p['parts']
                else:
                    entry['probe_error'] = p['error']
                d['layouts'][layout] = entry
            out['devices'][dev] = d
    return out


# one controller of each type, pins that suit the esp32-devkitc (the table's figures do
# not depend on the pins)
TABLE_CONTROLLERS = {
    'door': {'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'rex': 13, 'fire': 14, 'lock': 16, 'buzzer': 17}},
    'barrier': {'name': 'bar', 'type': 'barrier', 'pins': {'beam': 34, 'loop': 35, 'up_limit': 32, 'down_limit': 33,
                                                           'motor_up': 25, 'motor_down': 26, 'eye_tx': 27}},
    'pump': {'name': 'pool', 'type': 'pump', 'pins': {'low_level': 36, 'pump': 18},
             'schedule': [{'on': '18:00', 'off': '22:30', 'days': 'mon-fri'}]},
    'intercom': {'name': 'call', 'type': 'intercom', 'pins': {'call': 39, 'strike': 19, 'led': 21}},
}
# a second controller of a type, on pins of its own (the simulated board has 64)
SECOND_PINS = {'door': {'contact': 40, 'rex': 41, 'lock': 42, 'buzzer': 43},
               'barrier': {'beam': 44, 'loop': 45, 'up_limit': 46, 'down_limit': 47, 'motor_up': 48,
                           'motor_down': 49, 'eye_tx': 50},
               'pump': {'low_level': 51, 'pump': 52}, 'intercom': {'call': 53, 'strike': 54, 'led': 55}}


def _site_with(ctrls, heap_board='sim'):
    import yaml
    text = yaml.safe_dump({'site': 'heap', 'broker': {'host': '127.0.0.1', 'port': 1883},
                           'devices': {'t-1': {'board': heap_board, 'controllers': ctrls}}}, sort_keys=False)
    site = sitemod.parse(text, 'heap-table.yaml')
    sitemod.validate(site)
    errs = [p for p in site.problems if p.level == 'error' and 'do not fit' not in p.msg]
    if errs:
        raise EdgeError('table site invalid: %s' % errs)
    return sitemod.device_config(site, 't-1')


def cost_table(progress=None, big_heap_kb=512):
    """Measure the table host/heapfit.py predicts from: for each layout, the real firmware's
    heap in use after boot and running for every combination of controller types (one of
    each), and what a second controller of a type adds. Run on a heap large enough for
    any combination (the bytes in use do not depend on the heap's size)."""
    from itertools import combinations
    types = sorted(TABLE_CONTROLLERS)
    combos = [c for n in range(1, len(types) + 1) for c in combinations(types, n)]
    out = {'note': 'bytes in use (gc.mem_alloc() after gc.collect()) on the MicroPython unix port, measured by '
                   '`edgectl bench boot-heap --save-costs`; the ROMFS image is not counted',
           'layouts': {}}
    with workspace() as (work, br):
        step = [0]
        total = len(LAYOUTS) * (len(combos) + len(types))

        def measure(ctrls, layout):
            cfg = _site_with(ctrls)
            r = run_firmware(cfg, layout, big_heap_kb, Path(work) / ('m%d' % step[0]), br)
            step[0] += 1
            if progress:
                progress(step[0], total)
            if 'used_running' not in r:
                raise EdgeError('no figure for %s (%s layout): %s' % (combo_key_of(ctrls), layout, r.get('log_tail')))
            return {'after_boot': r['used_after_boot'], 'running': r['used_running']}

        for layout in LAYOUTS:
            lay = {'combos': {}, 'instance': {}}
            for c in combos:
                lay['combos']['+'.join(c)] = measure([TABLE_CONTROLLERS[t] for t in c], layout)
            for t in types:
                one = lay['combos'][t]
                second = dict(TABLE_CONTROLLERS[t], name=TABLE_CONTROLLERS[t]['name'] + '2', pins=SECOND_PINS[t])
                two = measure([TABLE_CONTROLLERS[t], second], layout)
                lay['instance'][t] = max(two['running'] - one['running'], two['after_boot'] - one['after_boot'])
            out['layouts'][layout] = lay
    return out


def combo_key_of(ctrls):
    return '+'.join(sorted(c['type'] for c in ctrls))


def save_costs(progress=None):
    from ..core.heapfit import TABLE
    t = cost_table(progress)
    TABLE.write_text(json.dumps(t, indent=1, sort_keys=True) + '\n')
    return t
