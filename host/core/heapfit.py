"""Does a device's firmware fit its board's heap? A prediction for the chip from the cost
table in protocols/heap_costs.json (heap in use after boot and running for every
combination of controller types, one of each, what each further controller of a type
adds and what a card reader adds, per firmware layout), so a config that would crash its
board at boot is refused before deploy, with the figures.

The table's figures are a chip's: measured on the MicroPython unix port built 32-bit (an
ESP32's word size; object headers and pointers are half the 64-bit port's), and they are
checked against the board profile's heap_kb as it is. The table also keeps the measured
ratio of the 64-bit unix port's figures to the 32-bit one's per layout: the simulator
runs boards on the 64-bit VM with the profile's heap plus what their objects take more
there (vm_heap_kb), so a simulated board has the chip's free heap: one that fits the chip
boots in the simulator and one that does not, does not.

Refresh the whole file (both VMs' measurements, the ratio) whenever the firmware's heap use
changes, with the one command:

    edgectl bench boot-heap --save-costs --vm /path/to/32-bit/micropython

(`bash tools/build_micropython32.sh SRC` builds that VM; it takes a few minutes.)

Rules: the firmware needs MIN_FREE_KB free while running (a message read and parsed, an
event being built) in the ROMFS layout, else the config is refused; below AIM_FREE_KB
(what a board should keep under a command flood and an outage) it is a warning; a TLS
board needs TLS_FREE_KB free before its handshake. In the lib layout (code in the heap,
a MicroPython without a ROM partition) a board that does not fit is a warning at
validation and a refusal by `edgectl flash` once the deploy has found the layout."""
import json
import math
from functools import lru_cache

from .paths import PROTOCOLS

TABLE = PROTOCOLS / 'heap_costs.json'
# measured: a lib-layout door board with 13.4 KB free (running) dropped its MQTT session on
# a 1 KB `system config` ack (MemoryError in the reader: a fragmented heap); with 15.4 KB
# free it answers. That was on the 64-bit VM, whose objects are larger: kept as the chip's
# need (on the safe side) until it is measured on the 32-bit one
MIN_FREE_KB = 14
AIM_FREE_KB = 40
# measured, `edgectl bench tls-heap --vm PATH` (32-bit unix ports with mbedtls 3.6.6 as
# MicroPython pins it, tools/build_micropython32.sh --mbedtls; TLS 1.2 to mosquitto with the
# site's P-256 CA; full-1 and gate-1 of host/data/heap-site.yaml): mbedtls needs 27.6 KB at
# its peak (IN 16 KB record buffer, one 16.3 KB block, + OUT 4 KB: ESP-IDF's
# CONFIG_MBEDTLS_ASYMMETRIC_CONTENT_LEN defaults) and keeps 24.9 KB for the session; TLS keeps
# 4.8 KB more GC heap than a plain board: session + MIN_FREE_KB = 43.7 KB, the handshake
# 34.5-38.5 KB. 45 KB: that with ~1 KB for ESP-IDF heap block headers (81 blocks at the peak).
# It counts mbedtls beside the GC heap, as an ESP32 has it (the ESP-IDF heap, which the GC heap
# grows into: MICROPY_GC_SPLIT_HEAP_AUTO); inside a fragmented GC heap it took 55-59 KB free.
TLS_FREE_KB = 45


@lru_cache(maxsize=1)
def table():
    try:
        return json.loads(TABLE.read_text())
    except (OSError, ValueError):
        return None


def combo_key(types):
    return '+'.join(sorted(set(types)))


def predict(types, layout, costs=None, readers=0):
    """{'after_boot', 'running'} bytes in use on the chip (32-bit figures) for controllers
    of these types (a list, one entry per controller; `readers` of them with a card
    reader), or None without a measured figure."""
    t = costs or table()
    if not t or layout not in t.get('layouts', {}):
        return None
    lay = t['layouts'][layout]
    base = lay['combos'].get(combo_key(types)) if types else lay.get('none')
    if base is None or (readers and 'reader' not in lay):
        return None
    extra = lay['reader'] if readers else 0
    seen = set()
    for ty in types:
        if ty in seen:
            if ty not in lay['instance']:
                return None
            extra += lay['instance'][ty]
        seen.add(ty)
    return {'after_boot': base['after_boot'] + extra, 'running': base['running'] + extra}


def fit(types, heap_kb, layout, tls=False, costs=None, need=None, readers=0):
    """(ok, message) for these controllers (`readers` of them with a card reader) on a chip
    with heap_kb of heap in this layout; ok is None when the table has no figure for them."""
    p = predict(types, layout, costs, readers)
    if p is None:
        return None, None
    free = heap_kb * 1024 - p['running']
    need = need or (TLS_FREE_KB if tls else MIN_FREE_KB)
    msg = ('%s in the %s layout: %.1f KB of the chip\'s %d KB heap in use running (32-bit figures), %.1f KB free; '
           'the firmware needs %d KB free%s' % (combo_key(types) or 'no controllers', layout, p['running'] / 1024,
                                                heap_kb, free / 1024, need, ' before a TLS handshake' if tls else ''))
    if readers:
        msg = msg.replace(' in the ', ' with a card reader in the ', 1)
    return free >= need * 1024, msg


def word_ratio(layout, costs=None, types=None):
    """How many times a board's heap use on the 64-bit unix port is the chip's, in this
    layout: for these controller types when the table has both VMs' figures for their
    combination (the larger of after boot and running), else the largest measured over all
    combinations; None without a figure."""
    t = costs or table()
    try:
        ratio = t['vm64']['ratio'][layout]['max']
    except (KeyError, TypeError):
        return None
    key = combo_key(types or ())
    wide = t['vm64'].get('layouts', {}).get(layout, {}).get('combos', {}).get(key)
    narrow = t.get('layouts', {}).get(layout, {}).get('combos', {}).get(key)
    if wide and narrow:
        ratio = max(wide[ph] / float(narrow[ph]) for ph in ('after_boot', 'running'))
    return ratio


def vm_heap_kb(heap_kb, layout, bits=64, costs=None, types=None):
    """The heap to give a VM of `bits` so that it holds what a chip with heap_kb does and
    has the chip's free heap left: the profile's heap on a 32-bit VM; on the 64-bit one,
    that plus what the board's objects take more there (byte buffers, a message, a TLS
    record, are the same size at either word size, so only the part in use is scaled):
    the table's 64-bit minus 32-bit figures for these controllers (the larger of after boot
    and running), else the chip's predicted use times (word_ratio - 1)."""
    if bits != 64:
        return heap_kb
    t = costs or table()
    key = combo_key(types or ())
    try:
        wide = t['vm64']['layouts'][layout]['combos'].get(key)
        narrow = t['layouts'][layout]['combos'].get(key)
    except (KeyError, TypeError):
        wide = narrow = None
    if wide and narrow:
        more = max(wide[ph] - narrow[ph] for ph in ('after_boot', 'running'))
    else:
        r = word_ratio(layout, t, types)
        p = predict(list(types or ()), layout, t) if r else None
        if not p:
            return int(math.ceil(heap_kb * r)) if r else heap_kb     # nothing better known: all of it
        more = max(p.values()) * (r - 1)
    return heap_kb + int(math.ceil(more / 1024.0))


def check_device(site, dev_id, dev):
    """Add a problem to the site when the device's controllers cannot fit its board."""
    from . import boards
    from .errors import EdgeError
    try:
        heap_kb = boards.load(dev['board'])['heap_kb']
    except (EdgeError, KeyError):
        return                       # the board itself is reported elsewhere
    types = [c.get('type') for c in dev.get('controllers') or ()]
    rd = len([c for c in dev.get('controllers') or () if 'reader_d0' in (c.get('pins') or {})])
    tls = bool((site.data.get('broker') or {}).get('tls'))
    ok, msg = fit(types, heap_kb, 'romfs', tls, readers=rd)
    if ok is False:
        site.add(('devices', dev_id, 'controllers'), 'these controllers do not fit the board\'s heap: %s; put some '
                 'on another board (`edgectl bench boot-heap` shows where the heap goes)' % msg)
        return
    ok, msg = fit(types, heap_kb, 'romfs', tls, need=max(AIM_FREE_KB, TLS_FREE_KB if tls else 0), readers=rd)
    if ok is False:
        site.add(('devices', dev_id, 'controllers'), 'little heap left: %s to keep through a command flood and an '
                 'outage' % msg.replace('needs', 'aims at'), 'warning')
    ok, msg = fit(types, heap_kb, 'lib', tls, readers=rd)
    if ok is False:
        site.add(('devices', dev_id, 'controllers'), 'needs a MicroPython with a ROMFS partition (`edgectl deploy '
                 '--layout romfs`): %s' % msg, 'warning')


def check_layout(cfg, heap_kb, layout):
    """Raise EdgeError (exit 1) before a config goes onto a board whose heap it cannot fit."""
    from .errors import EdgeError
    types = [c['type'] for c in cfg['controllers']]
    rd = len([c for c in cfg['controllers'] if 'reader_d0' in c.get('pins', {})])
    ok, msg = fit(types, heap_kb, layout, bool(cfg['broker'].get('tls')), readers=rd)
    if ok is False:
        raise EdgeError('%s would run out of memory at boot: %s. Use a MicroPython build with a ROMFS partition '
                        '(`edgectl deploy --layout romfs`) or put fewer controllers on this board' % (
                            cfg['device'], msg), 1)
