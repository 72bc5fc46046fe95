# Entry point: MicroPython runs main.py after boot. The firmware itself sits in the ROMFS
# partition (/rom, run in place from flash; the simulator mounts the same image) or in lib/.
# An update over the network (firmware/ota.py) puts a new image beside it; fw.slot says which
# one boots (main.py is not part of an image: it stays as deployed).
import os
import sys


def _put(path, obj):
    import json
    with open(path + '.tmp', 'w') as f:
        json.dump(obj, f)
    os.rename(path + '.tmp', path)


def _image(factory):
    """The firmware image to boot. fw.slot (written last by an update, in one rename: a power
    cut before it leaves the old image) names an updated one: {"img", "ver"}, plus "prev",
    "pver", "tries" while on trial. A trial image gets one boot to prove itself (firmware/
    fwslot.py confirms it); a second boot of it goes back to the previous one."""
    import json
    try:
        with open('fw.slot') as f:
            p = json.load(f)
        img = p['img']
    except Exception:       # no update (or an unreadable pointer): the factory image
        return factory
    if 'tries' not in p:
        return img
    if p['tries']:          # the trial boot died or gave up: back to the previous image
        _put('ota_result.json', {'ok': False, 'ver': p.get('ver'), 'running': p.get('pver'),
                                 'err': p.get('why') or 'the new firmware did not stay up'})
        if p.get('prev'):
            _put('fw.slot', {'img': p['prev'], 'ver': p.get('pver')})
        else:
            os.remove('fw.slot')
        return p.get('prev') or factory
    p['tries'] = 1
    _put('fw.slot', p)
    return img


_img = _image(None)
if _img and _img[:4] == 'lib.':       # an updated lib folder (the lib layout) instead of lib
    for _i in range(len(sys.path)):
        if sys.path[_i] in ('lib', '/lib'):
            sys.path[_i] = sys.path[_i][:-3] + _img
    _img = None
if sys.platform != 'esp32' and os.getenv('EDGE_ROMFS'):
    import vfs
    _img = _img or os.getenv('EDGE_ROMFS')
    try:
        with open(_img, 'rb') as _f:
            vfs.mount(vfs.VfsRom(_f.read()), '/rom')
    except Exception as _e:     # an image that cannot be mounted: its trial is over at once
        print('edgectl: firmware image %s: %r' % (_img, _e))
        sys.exit(3)
    sys.path.insert(0, '/rom')
    del _f
del _img, _image, _put      # (a board that loads its code into RAM needs every byte)

_keep = set(sys.modules)


def _unload():
    """The firmware's code and data leave the heap (for the installer, or for the few
    bytes it takes to write down why the board stops). One module at a time: a list of them
    wants heap that a board stopping for want of it may not have."""
    import gc
    gc.collect()
    while True:
        for _m in sys.modules:
            if _m not in _keep:
                break
        else:
            break
        del sys.modules[_m]
    globals().pop('start', None)
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
