# Run by `edgectl bench tls-heap` on a MicroPython unix port, in a simulated board's folder
# (config.json, secrets.json, ca.der), with the board's heap: boots the real firmware as
# main.py does (ROMFS image mounted at /rom) and wraps the MQTT client's connect so that the
# board's first connection (the TLS handshake runs inside it: asyncio's open_connection wraps
# the socket with do_handshake_on_connect=False, the CONNECT write drives the handshake and
# the CONNACK read ends it) prints one JSON line: the GC heap free right before it (after a
# collect; micropython.mem_info() before it gives its largest free block), the least free seen by a task sampling every loop turn while it ran, free after
# (after a collect); and with the counting mbedtls build (module tlsmem,
# tools/build_micropython32.sh --mbedtls) the bytes mbedtls held before, its peak during,
# and what it holds after. A failed first connection prints TLS_PROBE_FAIL. Not part of the firmware.
import gc
import os

import rom_mount
rom_mount.mount()                         # the ROMFS layout, mounted as main.py does
try:
    import tlsmem
    if os.getenv('EDGE_TLSMEM_LIMIT'):          # mbedtls refused past this many bytes in use
        tlsmem.limit(int(os.getenv('EDGE_TLSMEM_LIMIT')))
except ImportError:
    tlsmem = None
import asyncio
import mqtt

_connect = mqtt.Client.connect
_low = [0, False]


def _mbedtls():
    st = tlsmem.stats() if tlsmem else None     # in use, peak, allocations, largest block, blocks at the peak
    return list(st) if st else None             # (None: mbedtls is in the GC heap, --mbedtls-in-gc)


def _heap():
    return {'free': gc.mem_free(), 'used': gc.mem_alloc(), 'mbedtls': _mbedtls()}


async def _sample():
    while not _low[1]:
        f = gc.mem_free()
        if f < _low[0]:
            _low[0] = f
        await asyncio.sleep_ms(0)


async def _first_connect(self):
    mqtt.Client.connect = _connect          # the firmware's own from here on
    gc.collect()
    before = _heap()
    import micropython
    print('TLS_PROBE_MEMINFO')              # its 'max free sz': the largest free run of GC blocks
    micropython.mem_info()
    if tlsmem:
        tlsmem.reset_peak()
    _low[0] = before['free']
    asyncio.create_task(_sample())
    try:
        await _connect(self)
    except Exception as e:
        _low[1] = True
        print('TLS_PROBE_FAIL %r' % (e,))
        raise
    _low[1] = True
    during = _mbedtls()
    gc.collect()
    import json
    print('TLS_PROBE ' + json.dumps({'tls': self.ssl is not None, 'before': before, 'low_free': _low[0],
                                     'mbedtls_during': during, 'after': _heap()}))


mqtt.Client.connect = _first_connect
import start
start.main()
