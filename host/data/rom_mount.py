# For the probes `edgectl bench` runs on the MicroPython unix port: the firmware's ROMFS image
# (EDGE_ROMFS) mounted at /rom, first on the path, as firmware/main.py mounts it in the
# simulator. Not part of the firmware.
import os
import sys


def mount():
    """The image's size in bytes (in the heap here, flash on a board); 0 without one."""
    img = os.getenv('EDGE_ROMFS')
    if not img:
        return 0
    import vfs
    with open(img, 'rb') as f:
        vfs.mount(vfs.VfsRom(f.read()), '/rom')
    sys.path.insert(0, '/rom')
    return os.stat(img)[6]
