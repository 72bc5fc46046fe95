"""Write docs/settings.md (every controller's signals and every setting with its default,
range and meaning) from protocols/controllers.json, the one source of both.

    python tools/docs_tables.py            rewrite docs/settings.md
    python tools/docs_tables.py --check    exit 1, naming what differs, when it is stale
"""
import difflib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / 'docs' / 'settings.md'
TYPES = {'int': 'whole number', 'num': 'number', 'bool': 'true/false', 'str': 'text',
         'schedule': 'list of windows', 'dates': 'list of dates',
         'tz': 'IANA time zone name'}


def _val(v):
    return '`%s`' % json.dumps(v) if not isinstance(v, str) else ('`"%s"`' % v if v else '`""` (none)')


def _range(spec):
    if 'min' in spec or 'max' in spec:
        return '%s .. %s' % (spec.get('min', ''), spec.get('max', ''))
    return ''


def _settings_table(settings):
    rows = ['| setting | type | default | range | what it does |', '|---|---|---|---|---|']
    for name, spec in settings.items():
        rows.append('| `%s` | %s | %s | %s | %s |' % (name, TYPES.get(spec.get('type'), spec.get('type')),
                                                   _val(spec.get('default')), _range(spec),
                                                   spec.get('doc', '').replace('|', '\\|')))
    return rows


def _signals(tdef):
    out = []
    analog = set(tdef.get('analog', []))
    for kind in ('inputs', 'outputs'):
        names = ['`%s`%s%s' % (s, '' if req else ' (optional)', ' (analog, %)' if s in analog else '')
                 for s, req in tdef[kind].items()]
        out.append('%s: %s' % ('In' if kind == 'inputs' else 'Out', ', '.join(names)))
    return out


def render(defs):
    lines = ['# Signals and settings', '',
             '<!-- Generated from protocols/controllers.json by tools/docs_tables.py: edit that file, then run',
             '     `python tools/docs_tables.py`. tests/host/test_docs.py fails while this page is stale. -->', '',
             'Every setting has a default; a site file names only what differs. The unit is in the name',
             '(`_s` seconds, `_ms` milliseconds, `_pct` percent of full scale, `_min` minutes).',
             '`edgectl config validate` refuses a value outside its range, and a board refuses a pushed',
             'config that breaks one. How each controller behaves: [controllers.md](controllers.md).', '',
             '## Device settings', '',
             'Beside `board:` and `controllers:` in a device of the site file.', '']
    lines += _settings_table(defs['device_settings'])
    for t, tdef in defs['types'].items():
        lines += ['', '## %s' % t, '']
        if not tdef.get('available', True):
            lines += ['Not in this firmware yet.', '']
        lines += ['Signals (logical names in `pins:`): ' + '; '.join(_signals(tdef)) + '.', '']
        if tdef.get('ops'):
            lines += ['Commands (`edgectl cmd DEVICE %s OP`): %s.' % (
                'CTRL', ', '.join('`%s`' % o for o in tdef['ops'])), '']
        lines += _settings_table(tdef['settings'])
    return '\n'.join(lines) + '\n'


def main(argv):
    defs = json.loads((ROOT / 'protocols' / 'controllers.json').read_text())
    want = render(defs)
    if argv[:1] == ['--check']:
        have = OUT.read_text() if OUT.exists() else ''
        if have == want:
            return 0
        diff = difflib.unified_diff(have.splitlines(), want.splitlines(), str(OUT), 'from controllers.json',
                                    lineterm='', n=0)
        print('%s is stale: run `python tools/docs_tables.py`\n%s' % (OUT, '\n'.join(diff)))
        return 1
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(want)
    print('wrote %s' % OUT)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
