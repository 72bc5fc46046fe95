"""Compile the firmware with mpy-cross into build/mpy/<arch>/ and print a size report.

    python tools/build_mpy.py [--arch xtensawin]     (--arch none: portable bytecode)
"""
import sys


def main(argv):
    from edgectl.core.build import build, sources
    arch = 'xtensawin'
    if argv[:1] == ['--arch'] and len(argv) > 1:
        arch = None if argv[1] == 'none' else argv[1]
    out, compiled = build(arch)
    total_src = total_mpy = 0
    for src, name in sources():
        if name == 'main.py':
            continue
        mpy = out / (src.stem + '.mpy')
        s, m = src.stat().st_size, mpy.stat().st_size
        total_src += s
        total_mpy += m
        print('%-14s %6d B source  %6d B mpy%s' % (name, s, m, '  (compiled now)' if mpy.name in compiled else ''))
    print('%-14s %6d B source  %6d B mpy  (%s, in %s)' % ('total', total_src, total_mpy, arch or 'bytecode', out))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
