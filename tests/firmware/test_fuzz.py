"""Fuzzing the parsers a hostile network reaches: command payloads (command.parse, then the
signature check), config documents (config.check) and the JSON text of every message
(strictjson: commands, cfg, the fire state). Hypothesis on CPython; the same kind of corpus
(seeded, 720 inputs) fed to the same code on the MicroPython unix port. Every input must
end in a clean result or the parser's own refusal: no other exception, a refused signed
command never moves the counter, and text with broken syntax (a missing ',' or ':', a
doubled ',', a duplicate key...) is refused even when everything else about it is genuine,
as a strict parser refuses it; MicroPython's own json takes most of it."""
import json
import os
import random
import subprocess

from hypothesis import given, settings, strategies as st

from edgectl.core import paths

import command
import config
import signing
import strictjson

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


def check_json(text):
    try:
        strictjson.loads(text)
    except ValueError:
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
    os.chdir(tmp_path_factory.getbasetemp())       # the verifier keeps its counter in ./ctr.a, ./ctr.b
    try:
        signing.CounterStore('ctr').save(1)
        check_command(payload, signing.Verifier(KEY, 'lobby-1'))
    finally:
        os.chdir(cwd)


@settings(max_examples=400, deadline=None)
@given(st.one_of(docs, values))
def test_config_check_never_crashes(doc):
    check_config(doc)


json_texts = st.recursive(scalars, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(
    st.text(max_size=4), c, max_size=3)), max_leaves=6).map(json.dumps)


@settings(max_examples=600, deadline=None)
@given(text=json_texts, pos=st.integers(0, 10**6), edit=st.sampled_from(['del', 'dup', 'ins']),
       ch=st.sampled_from(list(',:{}[]" 0.-e\\')))
def test_strict_json_refuses_what_a_strict_parser_refuses(text, pos, edit, ch):
    """One character deleted, doubled or inserted in valid JSON: whatever CPython's json
    refuses, strictjson refuses; whatever strictjson takes, it reads as CPython does."""
    i = pos % (len(text) + 1)
    if edit == 'del':
        text = text[:i] + text[i + 1:]
    elif edit == 'dup':
        text = text[:i] + text[i:i + 1] + text[i:]
    else:
        text = text[:i] + ch + text[i:]
    try:
        want = json.loads(text)
    except ValueError:
        want = ValueError
    try:
        got = strictjson.loads(text.encode())
    except ValueError:
        return
    assert want is not ValueError, 'strictjson took what CPython refuses: %r' % text
    assert got == want or (got != got and want != want), text


def _broken_syntax(text, rng):
    """Valid JSON text (from json.dumps, no ',' or ':' inside its strings) with its syntax
    broken in one of the ways MicroPython's json does not notice."""
    commas = [i for i, c in enumerate(text) if c == ',']
    colons = [i for i, c in enumerate(text) if c == ':']
    k = rng.randrange(8)
    if k == 0:
        i = rng.choice(commas)
        return text[:i] + text[i + 1:]                          # missing ','
    if k == 1:
        i = rng.choice(colons)
        return text[:i] + text[i + 1:]                          # missing ':'
    if k == 2:
        i = rng.choice(commas)
        return text[:i] + ',' + text[i:]                        # doubled ','
    if k == 3:
        return text[:-1] + ', }'                                # trailing ','
    if k == 4:
        return text[:-1] + ']'                                  # crossed brackets
    if k == 5:
        return '{' + text[1:text.index(',')] + ', ' + text[1:]  # the first member twice
    if k == 6:
        i = min(i for i in colons if text[i + 2].isdigit())     # a number with a leading zero
        return text[:i + 2] + '0' + text[i + 2:]
    return text.replace(', ', ' ', len(commas))                 # no ',' at all


def corpus(n=720, seed=5):
    """Seeded inputs for both interpreters: random bytes, random JSON, valid commands and
    configs with one thing broken, and genuine signed commands (counter fresh) and valid
    config and fire texts with broken syntax."""
    rng = random.Random(seed)
    good_cfg = {'site': 's', 'device': 'd', 'broker': {'host': 'h', 'port': 1},
                'controllers': [{'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'lock': 25}}]}
    junk = [None, True, -1, 0, 2**40, 1.5, '', 'x' * 300, [], {}, [1, 2], {'a': 1}, 'system', 'door', '\u00e9\n']
    out = []
    for i in range(n):
        k = i % 6
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
        elif k == 3:
            out.append(('cfg', rng.choice(junk)))
        elif k == 4:        # genuine and fresh (the counter only rises): only the syntax is wrong
            d = dict(GOOD, ctr=10**7 + i)
            d['sig'] = signing.sign(KEY, 'lobby-1', 'front', d)
            out.append(('bad-cmd', _broken_syntax(json.dumps(d), rng).encode().hex()))
        else:
            doc = rng.choice([good_cfg, {'active': False, 'by': 'guard', 'ctr': 5, 'sig': 'ab'}])
            out.append(('bad-json', _broken_syntax(json.dumps(doc), rng).encode().hex()))
    return out


def _check(kind, x, v):
    if kind in ('cmd', 'bad-cmd'):
        return check_command(bytes.fromhex(x), v)
    if kind == 'bad-json':
        return check_json(bytes.fromhex(x))
    return check_config(x)


def test_the_same_corpus_on_cpython_and_micropython(tmp_path):
    cases = corpus()
    here = []
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        signing.CounterStore('ctr').save(1)         # a board that has taken a command before
        v = signing.Verifier(KEY, 'lobby-1')
        for kind, x in cases:
            here.append(_check(kind, x, v))
    finally:
        os.chdir(cwd)
    assert here.count('refused') > len(cases) // 2, 'the corpus should mostly be refused'
    broken = [r for (kind, x), r in zip(cases, here) if kind.startswith('bad-')]
    assert len(broken) == 240 and set(broken) == {'refused'}, 'broken syntax was accepted'
    (tmp_path / 'corpus.json').write_text(json.dumps(cases))
    (tmp_path / 'run.py').write_text('''
import json, binascii, command, config, signing, strictjson
signing.CounterStore("ctr").save(1)
v = signing.Verifier(b"k" * 32, "lobby-1")
for kind, x in json.load(open("corpus.json")):
    try:
        if kind == "bad-json":
            try:
                strictjson.loads(binascii.unhexlify(x)); print("ok")
            except ValueError:
                print("refused")
        elif kind in ("cmd", "bad-cmd"):
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
