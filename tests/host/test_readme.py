"""README.md against the CLI: every `edgectl` command in its command blocks parses with the
real parser (verbs, actions, flags and their values), every inline `edgectl ...` names a
verb and flags that exist, and every figure in "Measured" comes with the command that
prints it."""
import argparse
import contextlib
import io
import re
import shlex

import pytest

from edgectl import cli
from edgectl.core.paths import ROOT

README = (ROOT / 'README.md').read_text()


def _commands(line):
    """The edgectl invocations on one shell line (after `&&`, with env assignments and the
    venv path dropped), comments removed, as argument lists."""
    line = line.split(' #', 1)[0].strip()
    out = []
    for part in re.split(r'&&|\|\||;|\|', line):
        words = shlex.split(part)
        while words and re.fullmatch(r'[A-Z_]+=\S*', words[0]):
            words.pop(0)
        if words and words[0] in ('edgectl', '.venv/bin/edgectl'):
            out.append(words[1:])
    return out


def block_commands():
    cmds = []
    for block in re.findall(r'```(?:sh|bash|console)?\n(.*?)```', README, re.S):
        for line in block.splitlines():
            cmds += [(line.strip(), c) for c in _commands(line)]
    return cmds


def inline_commands():
    return [s for s in re.findall(r'`(edgectl [^`]+)`', README)]


def _parse(words):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            cli.build_parser().parse_args(cli._glue_times(words))
        except SystemExit as e:
            return err.getvalue().strip().splitlines()[-1] if e.code else None
    return None


def test_readme_has_command_blocks():
    cmds = block_commands()
    assert len(cmds) >= 20
    verbs = {c[0] for _, c in cmds if c}
    assert {'demo', 'init', 'config', 'sim', 'io', 'cmd', 'monitor', 'journal', 'fire', 'hil', 'flash'} <= verbs


@pytest.mark.parametrize('line, words', block_commands(), ids=lambda v: v if isinstance(v, str) else None)
def test_every_block_command_parses(line, words):
    err = _parse(words)
    assert err is None, '%s: %s' % (line, err)
    assert _parse(words[:1] + ['--help']) is None                  # and its verb has --help


def _subparser(words):
    """The deepest subparser the words name, and the words that named it."""
    p = cli.build_parser()
    used = []
    for w in words:
        subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs or w not in subs[0].choices:
            break
        p = subs[0].choices[w]
        used.append(w)
    return p, used


def test_every_inline_command_names_a_verb_and_flags_that_exist():
    bad = []
    for text in inline_commands():
        words = text.split()[1:]
        p, used = _subparser(words)
        if not used:
            bad.append('%s: no verb %r' % (text, words[0] if words else ''))
            continue
        flags = {o for a in p._actions for o in a.option_strings}
        for w in words[len(used):]:
            flag = w.split('=', 1)[0]
            if flag.startswith('-') and not re.fullmatch(r'-\d.*', flag) and flag not in flags:
                bad.append('%s: %s has no flag %s' % (text, ' '.join(used), flag))
        positional = [a for a in p._actions if not a.option_strings and a.choices]
        rest = [w for w in words[len(used):] if not w.startswith('-')]
        for a in positional:                 # journal run/query, fire reset, operator add ...
            if rest and rest[0].isalpha() and rest[0].islower() and rest[0] not in a.choices and \
                    a.dest == 'action':
                bad.append('%s: %s has no action %s' % (text, ' '.join(used), rest[0]))
    assert not bad, '\n'.join(bad)


def test_every_measured_figure_names_its_command():
    measured = README.split('## Measured', 1)[1].split('\n## ', 1)[0]
    items = re.split(r'\n\* ', measured)[1:]
    assert items
    for item in items:
        if re.search(r'\d', item) and 'fault suite' not in item:
            m = re.search(r'`edgectl bench ([a-z-]+)[^`]*`', item)
            assert m, 'a figure without its command: %s' % item[:120]
            import shlex
            assert _parse(shlex.split(m.group(0).strip('`'))[1:]) is None     # as written, options too
            from edgectl.qa.bench import BENCHES
            assert m.group(1) in BENCHES, m.group(1)
