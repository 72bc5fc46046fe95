# Entry point: MicroPython runs main.py after boot. The firmware itself sits in the ROMFS
# partition (/rom, run in place from flash); the simulator mounts the same image.
import os
import sys

if sys.platform != 'esp32' and os.getenv('EDGE_ROMFS'):
    import vfs
    with open(os.getenv('EDGE_ROMFS'), 'rb') as _f:
        vfs.mount(vfs.VfsRom(_f.read()), '/rom')
    sys.path.insert(0, '/rom')
    del _f

_keep = set(sys.modules)


def _unload():
    """The firmware's code and data leave the heap (for the installer, or for the few
    bytes it takes to write down why the board stops)."""
    for _m in list(sys.modules):
        if _m not in _keep:
            del sys.modules[_m]
    globals().pop('start', None)
    import gc
    gc.collect()


try:
    import start
    rc = start.main()
except KeyboardInterrupt:
    # the console takes over (edgectl deploy, mpremote): a board that loads its code into
    # RAM has no heap left for the installer otherwise
    _unload()
    raise
except Exception as _e:     # not even the runtime could be built (e.g. MemoryError importing it)
    _unload()
    print('edgectl: crashed at boot:', repr(_e))
    try:
        import bootlog
        bootlog.note_crash(_e, 'import')
    except Exception:
        pass
    rc = 3
_unload()       # whatever comes next (a reset, the REPL for an installer) needs the heap, not the firmware
if sys.platform == 'esp32':
    if rc != 2:             # reboot or crash: reset (2 = no config: stay at the REPL)
        import machine
        import time
        time.sleep_ms(500)
        machine.reset()
elif rc == 2 and os.getenv('EDGE_CONSOLE'):
    pass                    # no config: stay at the REPL (simulated serial console)
else:
    sys.exit(rc)
