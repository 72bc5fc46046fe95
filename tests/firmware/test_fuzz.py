"""Fuzzing the parsers a hostile network reaches: command payloads (command.parse, then the
signature check) and config documents (config.check). Hypothesis on CPython; the same kind
of corpus (seeded, 600 inputs) fed to the same code on the MicroPython unix port. Every
input must end in a clean result or the parser's own refusal: no other exception, and a
refused signed command never moves the counter."""
import json
import os
import random
import subprocess

from hypothesis import given, settings, strategies as st

from edgectl import paths

import command
import config
import signing

KEY = b'k' * 32
GOOD = {'id': 'c-1', 'op': 'unlock', 's': 5}

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                    st.text(max_size=40))
values = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c,
                                                                                            max_size=4)), max_leaves=10)
docs = st.dictionaries(st.sampled_from(['id', 'op', 's', 'sig', 'ctr', 'call', 'site', 'device', 'broker',
                                        'controllers', 'rev', 'pins', 'name', 'type']) | st.text(max_size=6),
                       values, max_size=8)


def check_command(payload, verifier):
    try:
        cid, op, args = command.parse(payload)
    except command.CommandError:
        return 'refused'
    before = verifier.last
    fields = dict(args, id=cid, op=op)
    r = verifier.check('front', fields)
    if r is not None:
        assert verifier.last == before, 'a refused command moved the counter'
        return 'refused'
    return 'ok'


def check_config(doc):
    try:
        config.check(doc)
    except config.ConfigError:
        return 'refused'
    return 'ok'


@settings(max_examples=400, deadline=None)
@given(payload=st.one_of(st.binary(max_size=200), docs.map(lambda d: json.dumps(d).encode()),
                         values.map(lambda v: json.dumps(v).encode())))
def test_command_parser_and_signature_check_never_crash(payload, tmp_path_factory):
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.getbasetemp())       # the verifier keeps its counter in ./ctr.json
    try:
        check_command(payload, signing.Verifier(KEY, 'lobby-1'))
    finally:
        os.chdir(cwd)


@settings(max_examples=400, deadline=None)
@given(st.one_of(docs, values))
def test_config_check_never_crashes(doc):
    check_config(doc)


def corpus(n=600, seed=5):
    """Seeded inputs for both interpreters: random bytes, random JSON, and valid commands
    and configs with one thing broken."""
    rng = random.Random(seed)
    good_cfg = {'site': 's', 'device': 'd', 'broker': {'host': 'h', 'port': 1},
                'controllers': [{'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'lock': 25}}]}
    junk = [None, True, -1, 0, 2**40, 1.5, '', 'x' * 300, [], {}, [1, 2], {'a': 1}, 'system', 'door', '\u00e9\n']
    out = []
    for i in range(n):
        k = i % 4
        if k == 0:
            out.append(('cmd', bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 120))).hex()))
        elif k == 1:
            d = dict(GOOD, ctr=rng.randint(1, 10**6))
            d['sig'] = signing.sign(KEY, 'lobby-1', 'front', d)
            key = rng.choice(list(d) + ['extra'])
            d[key] = rng.choice(junk)
            out.append(('cmd', json.dumps(d).encode().hex()))
        elif k == 2:
            d = json.loads(json.dumps(good_cfg))
            target = rng.choice([d, d['broker'], d['controllers'][0], d['controllers'][0]['pins']])
            target[rng.choice(list(target) + ['new'])] = rng.choice(junk)
            out.append(('cfg', d))
        else:
            out.append(('cfg', rng.choice(junk)))
    return out


def test_the_same_corpus_on_cpython_and_micropython(tmp_path):
    cases = corpus()
    here = []
    v = signing.Verifier(KEY, 'lobby-1')
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        for kind, x in cases:
            here.append(check_command(bytes.fromhex(x), v) if kind == 'cmd' else check_config(x))
    finally:
        os.chdir(cwd)
    assert here.count('refused') > len(cases) // 2, 'the corpus should mostly be refused'
    (tmp_path / 'corpus.json').write_text(json.dumps(cases))
    (tmp_path / 'run.py').write_text('''
import json, binascii, command, config, signing
v = signing.Verifier(b"k" * 32, "lobby-1")
for kind, x in json.load(open("corpus.json")):
    try:
        if kind == "cmd":
            try:
                cid, op, args = command.parse(binascii.unhexlify(x))
            except command.CommandError:
                print("refused"); continue
            before = v.last
            f = dict(args); f["id"] = cid; f["op"] = op
            r = v.check("front", f)
            if r is not None and v.last != before:
                print("MOVED"); continue
            print("refused" if r is not None else "ok")
        else:
            try:
                config.check(x); print("ok")
            except config.ConfigError:
                print("refused")
    except Exception as e:
        print("CRASH", type(e).__name__, e)
''')
    env = dict(os.environ, MICROPYPATH=':'.join(['.frozen', str(paths.FIRMWARE), str(paths.PROTOCOLS)]))
    r = subprocess.run([paths.micropython(), 'run.py'], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    there = r.stdout.split('\n')[:len(cases)]
    crashes = [line for line in there if line.startswith(('CRASH', 'MOVED'))]
    assert not crashes, crashes[:5]
    assert there == here, 'CPython and MicroPython disagree on %d inputs' % sum(a != b for a, b in zip(here, there))
