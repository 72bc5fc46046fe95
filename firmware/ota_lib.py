# The lib layout's image (firmware/ota.py): a bundle of .mpy files streamed into a folder
# beside lib/. Loaded only for such an update.
import os
from ctrl_base import short
import fwslot
from ota import Refused


def _rmdir(d):
    try:
        for n in os.listdir(d):
            os.remove(d + '/' + n)
        os.rmdir(d)
    except OSError:
        pass


class LibSink:
    """The lib files (the `lib` layout: .mpy files) into a folder beside the running one
    (lib.a / lib.b), via lib.new. The bundle is a row of files, each b'F', the name's length
    (1 byte), the name (a plain .mpy file name: no folder), the size (4 bytes, big endian),
    the bytes; parsed as it streams in, so no file is ever whole in RAM."""
    NEW = 'lib.new'

    def __init__(self, size):
        _rmdir(self.NEW)
        os.mkdir(self.NEW)
        self.head = b''     # the header of the next file, while it is incomplete
        self.f = None       # the file being written
        self.left = 0       # its bytes still to come
        self.files = 0

    def write(self, data):
        i = 0
        n = len(data)
        while i < n:
            if self.f is not None:
                k = min(self.left, n - i)
                self.f.write(data[i:i + k])
                self.left -= k
                i += k
                if not self.left:
                    self.f.close()
                    self.f = None
                continue
            self.head += bytes(data[i:i + 1])
            i += 1
            h = self.head
            if h[:1] != b'F':
                raise Refused('lib bundle: not a file header')
            if len(h) < 2 or len(h) < 6 + h[1]:
                continue
            name = h[2:2 + h[1]].decode()
            if not name.endswith('.mpy') or name.strip('abcdefghijklmnopqrstuvwxyz0123456789_.') or \
                    name.count('.') != 1 or self.files >= 80:
                raise Refused('lib bundle: file name %r refused' % short(name, 40))
            self.left = int.from_bytes(h[2 + h[1]:6 + h[1]], 'big')
            self.head = b''
            self.files += 1
            self.f = open(self.NEW + '/' + name, 'wb')
            if not self.left:
                self.f.close()
                self.f = None

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None
        if self.head or self.left:
            raise Refused('lib bundle: truncated inside a file')

    def commit(self, m, running):
        d = fwslot.free_image('lib.')
        _rmdir(d)
        os.rename(self.NEW, d)
        fwslot.switch(d, m['ver'], running)

    def drop(self):
        if self.f is not None:
            self.f.close()
            self.f = None
        _rmdir(self.NEW)
