"""HMAC-SHA256 written for the firmware (protocols/signing.py) against CPython's hmac on
random keys and messages, under CPython and on the MicroPython unix port."""
import hashlib
import hmac
import json
import os
import random
import subprocess

from edgectl.core import paths

import signing


def vectors(n=300, seed=11):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        key = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 31, 32, 63, 64, 65, 100, rng.randint(0, 200)])))
        msg = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        out.append((key.hex(), msg.hex(), hmac.new(key, msg, hashlib.sha256).hexdigest()))
    return out


def test_hmac_matches_cpython_on_cpython():
    for key, msg, want in vectors():
        assert signing.hmac_sha256(bytes.fromhex(key), bytes.fromhex(msg)).hex() == want


def test_hmac_matches_cpython_on_micropython(tmp_path):
    vs = vectors()
    (tmp_path / 'v.json').write_text(json.dumps(vs))
    (tmp_path / 'run.py').write_text(
        'import json, binascii, signing\n'
        'for k, m, w in json.load(open("v.json")):\n'
        '    print(signing.hexlify(signing.hmac_sha256(binascii.unhexlify(k), binascii.unhexlify(m))))\n')
    env = dict(os.environ, MICROPYPATH=':'.join(['.frozen', str(paths.PROTOCOLS)]))
    r = subprocess.run([paths.micropython(), 'run.py'], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [w for _, _, w in vs]
