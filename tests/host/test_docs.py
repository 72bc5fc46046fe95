"""docs/ against the code, read at run time: every MQTT topic protocols/topics.py builds,
every event type the firmware and the control room raise (and any protocols/controllers.json
lists), every setting and signal, and every verb and flag of the CLI is documented; each
failure names exactly what is missing."""
import argparse
import inspect
import json
import re
import subprocess
import sys

from edgectl import cli
from edgectl.core.paths import ROOT
from edgectl.core.proto import topics

DOCS = ROOT / 'docs'


def doc(name):
    return (DOCS / name).read_text()


def all_docs():
    return '\n'.join(p.read_text() for p in sorted(DOCS.glob('*.md')))


def topic_patterns():
    """Every topic topics.py builds, with its parameters as <name>: edge/v1/<site>/<device>/status."""
    out = {}
    for name, fn in inspect.getmembers(topics, inspect.isfunction):
        params = list(inspect.signature(fn).parameters)
        try:
            t = fn(*['<%s>' % p for p in params])
        except Exception:
            continue
        if isinstance(t, str) and t.startswith(topics.ROOT + '/'):
            out[name] = t
    return out


def test_every_topic_is_documented():
    pats = topic_patterns()
    assert {'status', 'evt', 'cmd', 'ack', 'site_fire'} <= set(pats)      # the reader found them
    text = doc('mqtt.md')
    missing = ['%s (%s)' % (t, name) for name, t in sorted(pats.items()) if t not in text]
    assert not missing, 'docs/mqtt.md does not document: %s' % ', '.join(missing)


EVENT_NAME = re.compile(r'^[a-z]+\.[a-z_]+$')


def _listed_events(node, inside=False):
    """Event types protocols/controllers.json lists anywhere under a key named `events`
    (a list of names, a mapping name -> details, or those grouped)."""
    out = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if inside and isinstance(k, str) and EVENT_NAME.match(k):
                out.add(k)
            out |= _listed_events(v, inside or k == 'events')
    elif isinstance(node, list):
        for v in node:
            out |= _listed_events(v, inside)
    elif inside and isinstance(node, str) and EVENT_NAME.match(node):
        out.add(node)
    return out


def event_types():
    defs = json.loads((ROOT / 'protocols' / 'controllers.json').read_text())
    kinds = sorted(defs['types']) + ['system', 'access']     # access.*: a reader on a door or barrier
    found = _listed_events(defs)
    found |= {'%s.fault' % t for t in defs['types']}                  # ctrl_base raises TYPE + '.fault'
    lit = re.compile(r"""['"]((?:%s)\.[a-z_]+)['"]""" % '|'.join(kinds))
    for f in sorted((ROOT / 'firmware').glob('*.py')):
        found |= set(lit.findall(f.read_text()))
    room = re.compile(r"""['"](room\.[a-z_]+)['"]""")
    for f in sorted((ROOT / 'host').rglob('*.py')):
        found |= set(room.findall(f.read_text()))
    return found


def test_every_event_type_is_documented():
    types = event_types()
    assert {'door.forced', 'system.boot', 'room.offline', 'intercom.fault'} <= types   # the reader works
    text = doc('events.md')
    missing = sorted(t for t in types if '`%s`' % t not in text)
    assert not missing, 'docs/events.md does not document: %s' % ', '.join(missing)


def test_every_setting_and_signal_is_documented():
    defs = json.loads((ROOT / 'protocols' / 'controllers.json').read_text())
    text = doc('settings.md')
    missing = ['device setting %s' % k for k in defs['device_settings'] if '`%s`' % k not in text]
    for t, tdef in defs['types'].items():
        section = text.split('## %s\n' % t, 1)[1].split('\n## ', 1)[0] if '## %s\n' % t in text else ''
        missing += ['%s setting %s' % (t, k) for k in tdef['settings'] if '`%s`' % k not in section]
        missing += ['%s signal %s' % (t, s) for s in list(tdef['inputs']) + list(tdef['outputs'])
                    if '`%s`' % s not in section]
    assert not missing, 'docs/settings.md does not document: %s (run `python tools/docs_tables.py`)' % (
        ', '.join(missing))


def test_settings_page_matches_controllers_json():
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'docs_tables.py'), '--check'], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stdout


def _verbs(parser, prefix=()):
    """(verb words, subparser) for every verb and sub-verb of the CLI."""
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield prefix + (name,), sub
                yield from _verbs(sub, prefix + (name,))


def test_every_verb_action_and_flag_is_documented():
    text = doc('cli.md')
    missing = []
    for words, sub in _verbs(cli.build_parser()):
        if not re.search(r'`edgectl %s\b' % re.escape(' '.join(words)), text) and \
                not re.search(r'\b%s\b' % re.escape(words[-1]), text):
            missing.append('verb ' + ' '.join(words))
        for a in sub._actions:
            if isinstance(a, argparse._SubParsersAction) or a.help == argparse.SUPPRESS:
                continue
            for opt in a.option_strings:
                if opt in ('-h', '--help'):
                    continue
                if not re.search(r'`[^`]*%s(?![a-z-])' % re.escape(opt), text):
                    missing.append('%s %s' % (' '.join(words), opt))
            if a.choices and not a.option_strings:         # actions such as journal run/query/prune
                missing += ['%s %s' % (' '.join(words), c) for c in a.choices
                            if not re.search(r'`edgectl %s %s\b' % (re.escape(' '.join(words)), re.escape(c)), text)
                            and not re.search(r'`%s\b' % re.escape(c), text)]
    assert not missing, 'docs/cli.md does not document: %s' % ', '.join(missing)


def test_no_pointer_outside_the_repository_and_links_resolve():
    for p in [ROOT / 'README.md'] + sorted(DOCS.glob('*.md')):
        t = p.read_text()
        assert '../shared' not in t and 'CONTRACT.md' not in t, p
    for p in sorted(DOCS.glob('*.md')):
        for target in re.findall(r'\]\(([^)#:]+)(?:#[^)]*)?\)', p.read_text()):
            assert (p.parent / target).exists(), '%s links to %s, which does not exist' % (p.name, target)
