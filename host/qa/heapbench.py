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
one tools/build_micropython32.sh makes, whose figures are a board's word size. The bench
never scales: it gives the VM the profile's heap as it is and says in its JSON (`terms`)
whether the figures are a chip's.

The config check's table (protocols/heap_costs.json: every combination of controller types,
a further controller of a type, a card reader, per layout, on the 32-bit VM; and the ratio
of the 64-bit VM's figures to those, which the simulator scales a board's heap by) is
refreshed, all of it, by one command, to be run whenever the firmware's heap use changes:

    edgectl bench boot-heap --save-costs --vm /path/to/32-bit/micropython

(a few minutes: each table is measured on both VMs, JOBS boards at a time)."""
import json
import os
import shutil
import subprocess
import threading
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


_BUILD = threading.Lock()            # build() and build_romfs() write one output folder


def layout_env(layout, fs):
    """(env, extra heap KB) for running MicroPython in `fs` with this layout's firmware."""
    with _BUILD:
        return _layout_env(layout, fs)


def _layout_env(layout, fs):
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
    col = Collector(broker.host, broker.port, [topics.tele(cfg['site'], cfg['device'])],
                    'heap-bench-' + cfg['device'])
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
    with _BUILD:
        return build_romfs().stat().st_size


def terms(info):
    """What the bench's figures are: a chip's (a 32-bit VM) or the 64-bit VM's, with the
    stored ratio that turns them into a chip's. The bench itself never scales: it runs the
    profile's heap on the VM it is given."""
    if info['bits'] == 32:
        return '32-bit VM: a chip\'s figures (the config check\'s terms)'
    from ..core.heapfit import table
    ratio = ((table() or {}).get('vm64') or {}).get('ratio') or {}
    r = ', '.join('%s %.2f-%.2fx' % (lay, ratio[lay]['min'], ratio[lay]['max']) for lay in LAYOUTS if lay in ratio)
    return ('64-bit VM with the profile\'s heap unscaled: not a chip\'s figures; a chip uses them divided by the '
            'ratio measured for its layout (protocols/heap_costs.json vm64: %s)' % (r or 'none stored'))


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
    out['terms'] = terms(info)
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


# one controller of each type, on pins of the simulated board (the table's figures do not
# depend on the pins)
TABLE_CONTROLLERS = {
    'door': {'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'rex': 13, 'fire': 14, 'lock': 16, 'buzzer': 17}},
    'barrier': {'name': 'bar', 'type': 'barrier', 'pins': {'beam': 34, 'loop': 35, 'up_limit': 32, 'down_limit': 33,
                                                           'motor_up': 25, 'motor_down': 26, 'eye_tx': 27}},
    'pump': {'name': 'pool', 'type': 'pump', 'pins': {'low_level': 36, 'pump': 18},
             'schedule': [{'on': '18:00', 'off': '22:30', 'days': 'mon-fri'}]},
    'intercom': {'name': 'call', 'type': 'intercom', 'pins': {'call': 39, 'strike': 19, 'led': 21}},
    'genset': {'name': 'gen', 'type': 'genset', 'pins': {'mains_ok': 0, 'gen_running': 1, 'gen_fault': 2,
                                                         'gen_start': 3}},
    'lift_recall': {'name': 'lift', 'type': 'lift_recall', 'pins': {'recalled': 5, 'recall': 6}},
    'zone': {'name': 'perim', 'type': 'zone', 'pins': {'arm': 7, 's1': 8, 's2': 9, 'armed': 10}},
}
# a second controller of a type, on pins of its own (the simulated board has 64)
SECOND_PINS = {'door': {'contact': 40, 'rex': 41, 'lock': 42, 'buzzer': 43},
               'barrier': {'beam': 44, 'loop': 45, 'up_limit': 46, 'down_limit': 47, 'motor_up': 48,
                           'motor_down': 49, 'eye_tx': 50},
               'pump': {'low_level': 51, 'pump': 52}, 'intercom': {'call': 53, 'strike': 54, 'led': 55},
               'genset': {'mains_ok': 56, 'gen_running': 57, 'gen_fault': 58, 'gen_start': 59},
               'lift_recall': {'recalled': 60, 'recall': 61}, 'zone': {'arm': 62, 's1': 63, 's2': 15, 'armed': 20}}
# a card reader on the door (its code and objects: access, cardstore, wiegand, cardsync's names)
READER_PINS = {'reader_d0': 22, 'reader_d1': 23}
JOBS = 6                  # boards measured at once: each mostly waits for its tele


def _site_with(ctrls, heap_board='sim', device='t-1'):
    import yaml
    text = yaml.safe_dump({'site': 'heap', 'broker': {'host': '127.0.0.1', 'port': 1883},
                           'devices': {device: {'board': heap_board, 'controllers': ctrls}}}, sort_keys=False)
    site = sitemod.parse(text, 'heap-table.yaml')
    sitemod.validate(site)
    errs = [p for p in site.problems if p.level == 'error' and 'do not fit' not in p.msg]
    if errs:
        raise EdgeError('table site invalid: %s' % errs)
    return sitemod.device_config(site, device)


def cost_table(vm=None, progress=None, big_heap_kb=512, jobs=JOBS):
    """Measure the table host/core/heapfit.py predicts from, on one VM (None: the default):
    for each layout, the real firmware's heap in use after boot and running for every
    combination of controller types (one of each), what a second controller of a type adds,
    and what a card reader on a door adds. Run on a heap large enough for any combination
    (the bytes in use do not depend on the heap's size), `jobs` boards at a time."""
    from concurrent.futures import ThreadPoolExecutor
    from itertools import combinations
    info = vm_info(vm)
    types = sorted(TABLE_CONTROLLERS)
    combos = [c for n in range(1, len(types) + 1) for c in combinations(types, n)]
    jobs_list = []              # (layout, what, name, controllers)
    for layout in LAYOUTS:
        for c in combos:
            jobs_list.append((layout, 'combos', '+'.join(c), [TABLE_CONTROLLERS[t] for t in c]))
        for t in types:
            second = dict(TABLE_CONTROLLERS[t], name=TABLE_CONTROLLERS[t]['name'] + '2', pins=SECOND_PINS[t])
            jobs_list.append((layout, 'two', t, [TABLE_CONTROLLERS[t], second]))
        door = TABLE_CONTROLLERS['door']
        jobs_list.append((layout, 'reader', 'door', [dict(door, pins=dict(door['pins'], **READER_PINS))]))
    done = [0]
    with workspace() as (work, br):
        def measure(i):
            layout, what, name, ctrls = jobs_list[i]
            cfg = _site_with(ctrls, device='t-%d' % i)
            r = run_firmware(cfg, layout, big_heap_kb, Path(work) / ('m%d' % i), br, vm=info['path'])
            if 'used_running' not in r:
                r = run_firmware(cfg, layout, big_heap_kb, Path(work) / ('r%d' % i), br, vm=info['path'])
            done[0] += 1
            if progress:
                progress(done[0], len(jobs_list))
            if 'used_running' not in r:
                raise EdgeError('no figure for %s (%s layout, %s): %s' % (name, layout, info['path'],
                                                                          r.get('log_tail')))
            return {'after_boot': r['used_after_boot'], 'running': r['used_running']}

        with ThreadPoolExecutor(max_workers=jobs) as ex:
            got = list(ex.map(measure, range(len(jobs_list))))
    out = {'bits': info['bits'], 'vm': info['version'], 'layouts': {}}
    for (layout, what, name, _), fig in zip(jobs_list, got):
        lay = out['layouts'].setdefault(layout, {'combos': {}, 'instance': {}})
        if what == 'combos':
            lay['combos'][name] = fig
    for (layout, what, name, _), fig in zip(jobs_list, got):
        lay = out['layouts'][layout]
        if what in ('two', 'reader'):
            one = lay['combos'][name]
            extra = max(fig['running'] - one['running'], fig['after_boot'] - one['after_boot'])
            if what == 'two':
                lay['instance'][name] = extra
            else:
                lay['reader'] = extra
    return out


def combo_key_of(ctrls):
    return '+'.join(sorted(c['type'] for c in ctrls))


def word_ratio(wide, narrow):
    """Per layout, how many times the bytes in use on the wide (64-bit) VM are the narrow
    (32-bit) VM's, over every combination both measured: {'max', 'min'}. The simulator
    scales a board's heap by 'max', so a board that fits the chip boots in it."""
    out = {}
    for layout, lay in narrow['layouts'].items():
        rs = [wide['layouts'][layout]['combos'][k][ph] / v[ph]
              for k, v in lay['combos'].items() for ph in ('after_boot', 'running')]
        out[layout] = {'max': round(max(rs), 3), 'min': round(min(rs), 3)}
    return out


REFRESH = 'edgectl bench boot-heap --save-costs --vm VM32'


def save_costs(vm, progress=None):
    """`edgectl bench boot-heap --save-costs --vm VM32`: the one command that refreshes
    protocols/heap_costs.json (run it whenever the firmware's heap use changes). It measures
    the table with `vm`, a 32-bit MicroPython unix port (an ESP32's word size:
    tools/build_micropython32.sh builds one), and the same table with the default 64-bit
    VM, keeping the 32-bit table (the config check's figures: a chip's) and the ratio
    64-bit/32-bit per layout (how far the simulator scales a board's heap)."""
    from ..core.heapfit import TABLE
    narrow_info = vm_info(vm)
    wide_info = vm_info(None)
    if narrow_info['bits'] != 32 or narrow_info['frozen_firmware']:
        raise EdgeError('--save-costs needs --vm a 32-bit MicroPython unix port without the firmware frozen in '
                        '(an ESP32\'s word size: bash tools/build_micropython32.sh SRC); %s is %d-bit%s' % (
                            narrow_info['path'], narrow_info['bits'],
                            ', frozen' if narrow_info['frozen_firmware'] else ''), 2)
    if wide_info['bits'] != 64:
        raise EdgeError('the default MicroPython (%s) is not 64-bit: nothing to scale the simulator from'
                        % wide_info['path'], 2)
    steps = [0, 0]

    def part(k):
        def tick(i, n):
            steps[k] = i
            if progress:
                progress(steps[0] + steps[1], 2 * n)
        return tick

    narrow = cost_table(narrow_info['path'], part(0))
    wide = cost_table(None, part(1))
    t = {'note': 'bytes in use (gc.mem_alloc() after gc.collect()) by the firmware on the MicroPython unix port '
                 'built 32-bit (an ESP32\'s word size: the config check\'s figures are a chip\'s), the ROMFS '
                 'image not counted; combos: after boot and running, one controller of each type; instance: what '
                 'a further controller of a type adds; reader: what a card reader on a door adds. vm64: the '
                 'same combinations on the 64-bit unix port and the ratio of its figures to these per layout (the '
                 'simulator runs the 64-bit VM with the profile\'s heap times the max). Refresh all of it: ' + REFRESH,
         'bits': 32, 'vm': narrow['vm'], 'layouts': narrow['layouts'],
         'vm64': {'vm': wide['vm'], 'ratio': word_ratio(wide, narrow),
                  'layouts': {lay: {'combos': v['combos']} for lay, v in wide['layouts'].items()}}}
    TABLE.write_text(json.dumps(t, indent=1, sort_keys=True) + '\n')
    return t
