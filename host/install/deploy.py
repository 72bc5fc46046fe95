"""`edgectl deploy`: compile the firmware for the board's architecture and put on the board
only what differs from what it has (a manifest on the board), then reset it.

On the board (the layout `lib`):
  main.py                the entry point (source: MicroPython runs main.py, not .mpy)
  lib/*.mpy              the firmware, compiled with mpy-cross -march=<the board's arch>
  lib/manifest.json      {"files": {path: sha256}, "fw", "mpy", "arch"}: what was deployed

Cut-off safety: changed files go to <path>.new first; one command then renames them all
into place and writes the manifest last. The board executes a command only once it has
received all of it, so a deploy killed at any point leaves either the old firmware
(plus ignored .new files, cleaned up by the next deploy) or the new one, never a mix.
"""
import hashlib
import json
import time

from .. import __version__
from ..core.build import ENTRY, build, sources
from ..core.errors import EdgeError
from .serialboard import session

LIB = 'lib'
MANIFEST = LIB + '/manifest.json'


def local_files(arch):
    """{board path: bytes} of this firmware compiled for arch."""
    folder, _ = build(arch)
    out = {}
    for src, name in sources():
        if name == ENTRY:
            out[ENTRY] = src.read_bytes()
        else:
            out['%s/%s.mpy' % (LIB, src.stem)] = (folder / (src.stem + '.mpy')).read_bytes()
    return out


def sha(data):
    return hashlib.sha256(data).hexdigest()[:32]     # 128 bits: a short manifest for a small heap


def mpy_header(data):
    """(.mpy version, sub-version, native arch code) from a compiled file's header. The
    sub-version and arch are set only in files that carry native code."""
    if len(data) < 4 or data[0:1] != b'M':
        raise EdgeError('not an .mpy file')
    return data[1], data[2] & 3, data[2] >> 2


def check_compatible(probe, files):
    """The board must load these .mpy files: same .mpy version; for native code also the
    same sub-version and arch."""
    have = tuple(probe['mpy_version'])
    v = '.'.join(map(str, probe['version']))
    for path, data in sorted(files.items()):
        if not path.endswith('.mpy'):
            continue
        ver, sub, arch = mpy_header(data)
        if ver != have[0] or (arch and sub != have[1]):
            raise EdgeError('the board runs MicroPython %s (.mpy v%d.%d); %s is compiled for .mpy v%d.%d '
                            '(MicroPython 1.23 or later): flash a matching MicroPython with `edgectl flash`' % (
                                v, have[0], have[1], path, ver, sub), 1)


def plan(files, manifest, sizes):
    """(paths to send, board paths to delete) from what the board says it has."""
    have = (manifest or {}).get('files', {})
    send = [p for p, data in sorted(files.items())
            if have.get(p) != sha(data) or sizes.get(p) != len(data)]
    delete = sorted(p for p in have if p not in files)
    return send, delete


def commit_code(send, delete, manifest):
    """One board command: the staged files into place, stale files out, the manifest last."""
    lines = ['import os, json',
             'def _mv(a, b):',
             ' try:',
             '  os.rename(a, b)',
             ' except OSError:',             # a filesystem that will not rename over a file
             '  os.remove(b)',
             '  os.rename(a, b)']
    for p in send:
        lines.append('_mv(%r, %r)' % (p + '.new', p))
    for p in delete:
        lines.append('try:\n os.remove(%r)\nexcept OSError:\n pass' % p)
    lines += ['for _n in os.listdir(%r):' % LIB,
              ' if _n.endswith(".new"):',
              '  os.remove(%r + "/" + _n)' % LIB,
              '_f = open(%r, "w")' % (MANIFEST + '.new'),
              '_f.write(%r)' % json.dumps(manifest),
              '_f.close()',
              '_mv(%r, %r)' % (MANIFEST + '.new', MANIFEST)]
    return '\n'.join(lines) + '\n'


class Progress:
    """A rich progress bar on a terminal; nothing otherwise."""

    def __init__(self, show, total, what):
        self.bar = None
        if show and total:
            from rich.progress import BarColumn, DownloadColumn, Progress as P, TextColumn, TimeRemainingColumn
            self.bar = P(TextColumn('{task.description}'), BarColumn(), DownloadColumn(), TimeRemainingColumn())
            self.bar.start()
            self.task = self.bar.add_task(what, total=total)

    def advance(self, n):
        if self.bar:
            self.bar.advance(self.task, n)

    def describe(self, what):
        if self.bar:
            self.bar.update(self.task, description=what)

    def close(self):
        if self.bar:
            self.bar.stop()


def romfs_cmd(port, image):
    """mpremote writing a ROMFS image into the board's ROM partition, without a soft reset
    (`resume`: the interrupted firmware's watchdog keeps being fed)."""
    import sys
    return [sys.executable, '-m', 'mpremote', 'connect', port, 'resume', 'romfs', 'deploy', str(image)]


def choose_layout(layout, has_rom):
    """'romfs' (code runs from flash: the heap stays free) when the board's MicroPython has a
    ROM partition, else 'lib' (.mpy files on the filesystem, loaded into the heap)."""
    if layout == 'auto':
        return 'romfs' if has_rom else 'lib'
    if layout == 'romfs' and not has_rom:
        raise EdgeError("this board's MicroPython has no ROMFS partition (vfs.rom_ioctl): flash a build with "
                        "one, or deploy with --layout lib", 1)
    return layout


def deploy(target, show=True, reset=True, baud=115200, say=print, expect_board=None, layout='auto'):
    """Deploy to the board `target` (an open SerialBoard, or its port); returns a report
    dict (files, bytes, seconds)."""
    t0 = time.monotonic()
    romfs_sent = 0
    with session(target, baud) as b:
        port = b.port
        has_rom = b.eval_json('import json\ntry:\n import vfs\n r = hasattr(vfs, "rom_ioctl")\n'
                              'except ImportError:\n r = False\nprint(json.dumps(r))')
        layout = choose_layout(layout, has_rom)
        if layout == 'romfs':
            from ..core.build import build_romfs
            image = build_romfs()
            old = b.read_json(MANIFEST) or {}
            if old.get('romfs') != sha(image.read_bytes()):
                say('writing the ROMFS image (%d bytes) with mpremote' % image.stat().st_size)
                b.close()           # mpremote takes the line for the image
                import subprocess
                r = subprocess.run(romfs_cmd(port, image), capture_output=True, text=True)
                if r.returncode:
                    raise EdgeError('mpremote romfs deploy failed:\n%s' % (r.stdout + r.stderr).strip()[-600:], 1)
                romfs_sent = image.stat().st_size
                b.reopen()
        probe = b.probe()
        if probe['platform'] not in ('esp32', 'linux'):
            raise EdgeError('the board on %s is a %s: edgectl firmware runs on ESP32 boards (and the simulator)'
                            % (port, probe['platform']), 1)
        if expect_board and expect_board.get('arch') and probe['platform'] == 'esp32' and \
                probe['arch'] != expect_board['arch']:
            raise EdgeError('the board on %s has .mpy arch %s; the site says %s (arch %s)' % (
                port, probe['arch'], expect_board['name'], expect_board['arch']), 1)
        say('board on %s: %s, MicroPython %s, .mpy v%d.%d, arch %s' % (
            port, probe['platform'], '.'.join(map(str, probe['version'])), probe['mpy_version'][0],
            probe['mpy_version'][1], probe['arch'] or 'bytecode only'))
        files = local_files(probe['arch'])
        check_compatible(probe, files)
        if layout == 'romfs':       # the code is in the ROM partition: only main.py on the filesystem
            files = {ENTRY: files[ENTRY]}
        old = b.read_json(MANIFEST)
        sizes = {LIB + '/' + n: s for n, s in b.sizes(LIB).items()}
        sizes.update({n: s for n, s in b.sizes('.').items() if n == ENTRY})
        send, delete = plan(files, old, sizes)
        manifest = {'files': {p: sha(d) for p, d in files.items()}, 'fw': __version__, 'layout': layout,
                    'mpy': list(probe['mpy_version']), 'arch': probe['arch'], 'deployed': int(time.time())}
        if layout == 'romfs':
            manifest['romfs'] = sha(image.read_bytes())
        payload = sum(len(files[p]) for p in send)
        if send or delete:
            say('sending %d of %d files (%d bytes), removing %d' % (len(send), len(files), payload, len(delete)))
            b.run('import os\ntry:\n os.mkdir(%r)\nexcept OSError:\n pass' % LIB)
            bar = Progress(show, payload, 'deploy')
            try:
                for p in send:
                    bar.describe(p)
                    b.write(p + '.new', files[p], bar.advance)
            finally:
                bar.close()
            b.run(commit_code(send, delete, manifest))
        else:
            say('up to date: %d files match the board' % len(files))
        if reset:
            b.restart()
        report = {'port': port, 'layout': layout, 'romfs_bytes': romfs_sent,
                  'files': len(files), 'sent': len(send), 'deleted': len(delete),
                  'payload_bytes': payload, 'wire_bytes': b.sent, 'seconds': round(time.monotonic() - t0, 3),
                  'platform': probe['platform'], 'arch': probe['arch']}
    return report
