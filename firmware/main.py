# Entry point: MicroPython runs main.py after boot. The firmware itself sits in the ROMFS
# partition (/rom, run in place from flash); the simulator mounts the same image.
import os
import sys

if sys.platform != 'esp32':
    _img = os.getenv('EDGE_ROMFS')
    if _img:
        import vfs
        with open(_img, 'rb') as _f:
            vfs.mount(vfs.VfsRom(_f.read()), '/rom')
        sys.path.insert(0, '/rom')
        del _f
    del _img

_keep = set(sys.modules)
try:
    import start
    import hal
    rc = start.main()
except KeyboardInterrupt:
    # the console takes over (edgectl deploy, mpremote): the firmware's code and data leave
    # the heap, or a board that loads its code into RAM has none left for the installer
    for _m in list(sys.modules):
        if _m not in _keep:
            del sys.modules[_m]
    for _n in ('start', 'hal'):
        if _n in globals():
            del globals()[_n]
    import gc
    gc.collect()
    raise
if hal.is_board():
    if rc != 2:             # reboot or crash: reset (2 = no config: stay at the REPL)
        import machine
        import time
        time.sleep_ms(500)
        machine.reset()
elif rc == 2 and os.getenv('EDGE_CONSOLE'):
    pass                    # no config: stay at the REPL (simulated serial console)
else:
    sys.exit(rc)
