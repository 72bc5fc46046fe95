"""`edgectl bench tls-heap`: the heap a board's TLS handshake takes (issue 16).

The real firmware of a board (default: full-1 of host/data/heap-site.yaml, all four
controllers, ROMFS layout) boots on a MicroPython unix port with ssl (`--vm`, e.g. the
32-bit one `tools/build_micropython32.sh SRC --mbedtls DIR --micropython-lib DIR` builds:
an ESP32's word size) with the site CA (ca.der), against mosquitto speaking TLS 1.2 with a
site CA and broker certificate as `edgectl broker` makes them (P-256 ECDSA,
host/core/tls.py). host/data/tls_probe.py wraps the board's first MQTT connect, which
drives the handshake, and reports the GC heap free right before it, the least free seen
while it ran, free after; with the counting build (module tlsmem) the bytes mbedtls holds
before, at its peak and after: the unix port's mbedtls allocates with calloc outside the
GC heap (an ESP32's from the ESP-IDF heap, beside the GC heap), so -X heapsize never sees
it; a VM built with --mbedtls-in-gc puts mbedtls in the GC heap instead (one heap, its
fragmentation included, as the config check counts a board). Then, by bisection (each run
a first boot from a fresh copy of the board's folder), the least GC heap the board still
connects with over TLS and without, and whether it connects with mbedtls held to its
counted peak (and not 1 KB under). Figures, never pass/fail."""
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from ..core import boards, paths, site as sitemod, tls
from ..core.broker import Broker, free_port
from ..core.errors import EdgeError
from ..core.procs import end as end_proc
from .benchkit import workspace
from .heapbench import DEFAULT_SITE, _provision, layout_env, vm_info

PROBE = paths.DATA / 'tls_probe.py'
LAYOUT = 'romfs'
DEFAULT_DEVICE = 'full-1'
RUNS = 26          # about: one, two heap bisections of 7, a cap bisection of 6 (progress)
NO_SSL = ('%s has no ssl module: build a VM with it (bash tools/build_micropython32.sh SRC --mbedtls DIR '
          '--micropython-lib DIR) and pass --vm PATH')


def vm_ssl(vm):
    """vm_info() of `vm` plus 'mbedtls_heap' (where its mbedtls allocates, when the VM says);
    EdgeError (exit 2) when the VM does not run or has no ssl."""
    if not vm:
        raise EdgeError('--vm PATH is required: a MicroPython unix port with ssl', 2)
    info = vm_info(vm)
    with tempfile.TemporaryDirectory() as d:
        try:
            r = subprocess.run([info['path'], '-c', 'import ssl\nprint("SSL")\nimport tlsmem\nprint("HEAP", tlsmem.HEAP)'],
                               cwd=d, capture_output=True, text=True, timeout=30,
                               env=dict(os.environ, MICROPYPATH='.frozen'))
        except (OSError, subprocess.TimeoutExpired) as e:
            raise EdgeError('--vm %s does not run: %s' % (vm, e), 2)
    lines = r.stdout.splitlines()
    if 'SSL' not in lines:
        raise EdgeError(NO_SSL % info['path'], 2)
    # where mbedtls allocates: 'calloc' counted (tlsmem), 'gc' the GC heap, None not known
    info['mbedtls_heap'] = {'HEAP calloc': 'calloc', 'HEAP gc': 'gc'}.get(lines[-1])
    return info


def device_cfg(site_path, device, broker):
    """The device's config from a site file, pointed at `broker` (host, port, tls)."""
    text = Path(site_path).read_text()
    s = sitemod.parse(text, str(site_path))
    sitemod.validate(s)
    if s.errors:
        raise EdgeError('site %s invalid: %s' % (site_path, s.errors), 2)
    if device not in (s.data.get('devices') or {}):
        raise EdgeError('no device %s in %s' % (device, site_path), 2)
    return sitemod.device_config(s, device, broker)


class Runner:
    """Boots the board with tls_probe.py on a VM at a given heap and reads its line."""

    def __init__(self, vm, cfg, work, ca_der, timeout=30.0):
        self.vm, self.cfg, self.timeout = vm, cfg, timeout
        name = 'tls-' + cfg['device'] + ('-tls' if cfg['broker'].get('tls') else '-plain')
        self.template, self.fs = Path(work) / (name + '-fs'), Path(work) / name
        _provision(self.template, cfg)
        if ca_der:
            (self.template / 'ca.der').write_bytes(ca_der)
        self.env, self.extra = layout_env(LAYOUT, self.template)
        self.env.pop('EDGE_IO_PORT', None)
        self.env['EDGE_FS_KB'] = str(boards.load(cfg['board']).get('fs_kb', 2048))

    def run(self, heap_kb, mbedtls_limit=None):
        """The probe's figures (dict) or None when the board did not connect; `log` tail kept."""
        env = dict(self.env)
        env.pop('EDGE_TLSMEM_LIMIT', None)
        if mbedtls_limit:
            env['EDGE_TLSMEM_LIMIT'] = str(mbedtls_limit)
        shutil.rmtree(self.fs, ignore_errors=True)      # every run a first boot: no boot log, outbox, crash
        shutil.copytree(self.template, self.fs)
        p = subprocess.Popen([self.vm, '-X', 'heapsize=%dK' % (heap_kb + self.extra), str(PROBE)], cwd=str(self.fs),
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             text=True, errors='replace')
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(ln) for ln in p.stdout] + [lines.put(None)], daemon=True).start()
        self.log, out = [], None
        try:
            while True:
                try:
                    ln = lines.get(timeout=self.timeout)
                except queue.Empty:
                    self.log.append('(no connection within %.0f s)' % self.timeout)
                    break
                if ln is None:
                    break
                self.log.append(ln.rstrip())
                if ln.startswith('TLS_PROBE '):
                    out = json.loads(ln[len('TLS_PROBE '):])
                    break
                if ln.startswith('TLS_PROBE_FAIL') or ln.startswith('edgectl: no connection'):
                    break
        finally:
            end_proc(p, grace=2)
        self.largest_blocks = self._largest_free()     # (also when it did not connect)
        if out:
            out['largest_free_blocks'] = self.largest_blocks
        return out

    def _largest_free(self):
        """'max free sz' (GC blocks) of the mem_info printed before the handshake, or None."""
        import re
        after = self.log[self.log.index('TLS_PROBE_MEMINFO'):] if 'TLS_PROBE_MEMINFO' in self.log else []
        m = next((re.search(r'max free sz: (\d+)', ln) for ln in after if 'max free sz' in ln), None)
        return int(m.group(1)) if m else None

    def log_tail(self, n=6):
        return '\n'.join(self.log[-n:])


def least_heap(runner, lo, hi, tick=None):
    """(the least heap in KB in (lo, hi] the board connects with, the probe's figures there):
    bisection, 1 KB steps; hi must connect."""
    at = None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        fig = runner.run(mid)
        if fig:
            hi, at = mid, fig
        else:
            lo = mid
        if tick:
            tick()
    return hi, at


def tls_heap(vm=None, site=None, device=None, bisect=True, progress=None):
    info = vm_ssl(vm)
    done = [0]

    def tick():
        done[0] += 1
        if progress:
            progress(min(done[0], RUNS), RUNS)
    site = site or DEFAULT_SITE
    device = device or DEFAULT_DEVICE
    with workspace(broker=False) as (work, _):
        ca, key = tls.make_ca(work / 'ca', 'bench')
        crt, k = tls.make_server(work / 'ca', ca, key, '127.0.0.1')
        secure = Broker(port=free_port(), workdir=work / 'broker-tls', tls=(ca, crt, k)).start()
        plain = Broker(port=free_port(), workdir=work / 'broker-plain').start() if bisect else None
        try:
            cfg = device_cfg(site, device, {'host': secure.host, 'port': secure.port, 'tls': True})
            heap_kb = boards.load(cfg['board'])['heap_kb']
            r = Runner(info['path'], cfg, work, tls.der(ca))
            fig, at_kb = r.run(heap_kb), heap_kb
            board_largest = r.largest_blocks
            if fig is None and info['mbedtls_heap'] == 'gc':    # one heap: it may want more than the board's
                for at_kb in (heap_kb * 3 // 2, heap_kb * 2):
                    fig = r.run(at_kb)
                    if fig:
                        break
            if fig is None or not fig.get('tls'):
                hint = ('' if info['bits'] != 64 else ' (a 64-bit VM: its objects are 1.5-1.8 times a chip\'s, so a '
                        'board that fits the chip may not fit here; measure with a 32-bit one, '
                        'tools/build_micropython32.sh --mbedtls)')
                raise EdgeError('the board did not connect over TLS on a %d KB heap%s:\n%s' % (at_kb, hint, r.log_tail()))
            out = _figures(info, device, cfg, at_kb, fig)
            out['connects_on_board_heap'] = at_kb == heap_kb
            if at_kb != heap_kb:
                out['gc_largest_free_before_on_board_heap_kb'] = _kb(board_largest * info['bits'] // 2) \
                    if board_largest else None
            if bisect:
                pcfg = device_cfg(site, device, {'host': plain.host, 'port': plain.port})
                _bisect(out, r, Runner(info['path'], pcfg, work, None), heap_kb, at_kb, fig, tick)
                out['one_heap_need_kb'] = _one_heap(out)
        finally:
            secure.stop()
            if plain:
                plain.stop()
    out['note'] = ('GC heap: the firmware\'s Python heap (-X heapsize of measured_at_heap_kb, %d KB on the board, plus '
                   'the ROMFS image the simulator holds); '
                   'its least free during the handshake is sampled without a collect (garbage included). mbedtls '
                   'allocates: %s' % (heap_kb, {'calloc': 'beside it, with calloc, counted (on an ESP32: the ESP-IDF '
                                                          'heap)',
                                                'gc': 'in it (--mbedtls-in-gc): the GC figures hold mbedtls'}.get(
                                          info['mbedtls_heap'], 'beside it, with calloc, not counted by this VM')))
    if out.get('one_heap_need_kb'):
        out['note'] += ('. one_heap_need_kb: free a single heap needs beyond the same board without TLS: handshake = '
                        'least heap with TLS - without (+ mbedtls\'s peak when beside); session = what TLS holds '
                        'afterwards, and with MIN_FREE_KB on top (host/core/heapfit.py)')
    return out


def _figures(info, device, cfg, at_kb, fig):
    """The bench's figures from the probe's at a heap of at_kb (the board's unless it did not
    connect with that)."""
    out = {'name': 'tls-heap', 'vm': info['path'], 'bits': info['bits'], 'version': info['version'],
           'mbedtls_heap': info['mbedtls_heap'] or 'calloc, not counted',
           'device': device, 'controllers': [c['type'] for c in cfg['controllers']], 'layout': LAYOUT,
           'heap_kb': boards.load(cfg['board'])['heap_kb'], 'measured_at_heap_kb': at_kb,
           'broker': 'mosquitto, TLS 1.2, site CA and broker certificate P-256 ECDSA (host/core/tls.py)',
           'gc_free_before_kb': _kb(fig['before']['free']),
           # a GC block is 4 words (MICROPY_BYTES_PER_GC_BLOCK)
           'gc_largest_free_before_kb': _largest_kb(fig, info['bits']),
           'gc_least_free_during_kb': _kb(fig['low_free']),
           'gc_free_after_kb': _kb(fig['after']['free']),
           'gc_kept_after_kb': _kb(fig['before']['free'] - fig['after']['free']),
           'mbedtls': None}
    mb = fig['before']['mbedtls']
    if mb is not None:
        during, after = fig['mbedtls_during'], fig['after']['mbedtls']
        out['mbedtls'] = {'held_before_kb': _kb(mb[0]), 'peak_kb': _kb(during[1]),
                          'held_after_kb': _kb(after[0]), 'allocations': during[2],
                          'largest_block_kb': _kb(during[3]), 'peak_bytes': during[1],
                          'blocks_at_peak': during[4] if len(during) > 4 else None}
    elif info['mbedtls_heap'] is None:
        out['note_mbedtls'] = ('this VM does not count mbedtls\'s bytes (outside the GC heap): build it with '
                               'tools/build_micropython32.sh --mbedtls for them')
    return out


def _bisect(out, r, rp, heap_kb, at_kb, fig, tick):
    """The least heap with TLS (below at_kb, where `fig` was measured) and without (rp: the same
    board on the plain broker), what TLS holds against the plain board, and the least cap on
    mbedtls's bytes in use it still connects with (128-byte steps)."""
    least, at = least_heap(r, 8 if at_kb == heap_kb else heap_kb, at_kb, tick)
    at = at or fig                  # (no smaller heap connected)
    out['least_heap_kb'] = {'tls': least}
    out['gc_free_before_at_least_kb'] = _kb(at['before']['free'])
    out['gc_largest_free_before_at_least_kb'] = _largest_kb(at, out['bits'])
    pfig = rp.run(at_kb)
    if pfig is None:
        raise EdgeError('the board did not connect without TLS on a %d KB heap:\n%s' % (at_kb, rp.log_tail()))
    out['plain_gc_free_before_kb'] = _kb(pfig['before']['free'])
    # what TLS keeps in the GC heap for the session, against the same board without it
    out['gc_tls_held_kb'] = _kb(pfig['before']['free'] - fig['after']['free'])
    out['least_heap_kb']['plain'] = least_heap(rp, 8, heap_kb, tick)[0]
    if out['mbedtls']:
        peak = out['mbedtls']['peak_bytes']
        lo, hi = peak - 4096, peak + 1024
        if r.run(heap_kb, hi) is None:
            out['mbedtls']['least_cap_bytes'] = None
            return
        while hi - lo > 128:
            mid = (lo + hi) // 2
            if r.run(heap_kb, mid):
                hi = mid
            else:
                lo = mid
            tick()
        out['mbedtls']['least_cap_bytes'] = hi      # the handshake's peak varies a little run to run


def _one_heap(out):
    """One heap for GC and mbedtls (the config check's model): what a TLS board needs free
    beyond the same board without TLS, in its handshake and for the session it keeps."""
    from ..core.heapfit import MIN_FREE_KB
    least, m = out['least_heap_kb'], out['mbedtls'] or {}
    if not m and out['mbedtls_heap'] != 'gc':
        return None                 # mbedtls beside the GC heap, not counted: no figure
    session = out['gc_tls_held_kb'] + m.get('held_after_kb', 0)
    return {'handshake': round(least['tls'] - least['plain'] + m.get('peak_kb', 0), 1),
            'session': round(session, 1), 'session_and_min_free': round(session + MIN_FREE_KB, 1)}


def _largest_kb(fig, bits):
    """The largest free run of the GC heap before the handshake in KB (a GC block is 4 words,
    MICROPY_BYTES_PER_GC_BLOCK), or None."""
    n = fig.get('largest_free_blocks')
    return _kb(n * bits // 2) if n else None


def _kb(n):
    return round(n / 1024, 1)
