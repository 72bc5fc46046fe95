"""`edgectl bench tls-heap --vm PATH`: a VM without ssl is refused with one clear line (exit
2), the VM is required, and on the pip VM (which has ssl, without mbedtls's bytes counted) a
one-door TLS board's handshake against mosquitto is measured."""
import subprocess
import sys

from edgectl.core import paths
from edgectl.qa import tlsbench

DOOR_SITE = """\
site: tb
broker: {host: 127.0.0.1, port: 1883}
devices:
  door-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
"""


def run(*args):
    return subprocess.run([sys.executable, '-m', 'edgectl.cli', 'bench', 'tls-heap'] + list(args),
                          capture_output=True, text=True, timeout=60)


def test_a_vm_without_ssl_is_refused_in_one_line(tmp_path):
    """The pip VM behind a wrapper that takes ssl away, as a VM built without it is (the
    unix port's `ssl` is micropython-lib's ssl.py over the built-in `tls`)."""
    vm = tmp_path / 'mp-no-ssl'
    vm.write_text('#!/bin/sh\ncase "$*" in *"import ssl"*) echo "ImportError: no module named \'ssl\'" >&2; '
                  'exit 1;; esac\nexec %s "$@"\n' % paths.micropython())
    vm.chmod(0o755)
    r = run('--vm', str(vm), '--quick')
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert 'has no ssl module' in err and '--mbedtls' in err and len(err.splitlines()) == 1, err
    r = run('--quick')
    assert r.returncode == 2 and '--vm' in r.stderr


def test_the_handshake_is_measured_on_the_pip_vm(tmp_path):
    site = tmp_path / 'site.yaml'
    site.write_text(DOOR_SITE)
    out = tlsbench.tls_heap(paths.micropython(), str(site), 'door-1', bisect=False)
    assert out['controllers'] == ['door'] and out['heap_kb'] == 110
    # the handshake left TLS objects in the GC heap (the SSL socket with its mbedtls context)
    assert 0 < out['gc_free_after_kb'] < out['gc_free_before_kb']
    assert out['gc_least_free_during_kb'] <= out['gc_free_before_kb']
    assert out['mbedtls'] is None and 'tools/build_micropython32.sh --mbedtls' in out['note_mbedtls']


class _Board:
    """A stand-in for tlsbench.Runner: connects from `least` KB up, noting each heap tried."""

    def __init__(self, least):
        self.least, self.tried = least, []

    def run(self, heap_kb, mbedtls_limit=None):
        self.tried.append(heap_kb)
        return {'before': {'free': heap_kb}} if heap_kb >= self.least else None


def test_the_least_heap_is_bisected_to_the_kilobyte():
    for least in (9, 65, 95, 110):
        b = _Board(least)
        got, at = tlsbench.least_heap(b, 8, 110)
        assert got == least and at == ({'before': {'free': least}} if least < 110 else None)
        assert len(b.tried) <= 7


def test_one_heap_need_counts_mbedtls_beside_the_gc_heap_and_not_twice_inside_it():
    from edgectl.core.heapfit import MIN_FREE_KB
    base = {'least_heap_kb': {'tls': 69, 'plain': 60}, 'gc_tls_held_kb': 4.7}
    beside = dict(base, mbedtls_heap='calloc', mbedtls={'peak_kb': 27.6, 'held_after_kb': 24.9})
    assert tlsbench._one_heap(beside) == {'handshake': 36.6, 'session': 29.6,
                                          'session_and_min_free': round(29.6 + MIN_FREE_KB, 1)}
    inside = dict(base, mbedtls_heap='gc', mbedtls=None, gc_tls_held_kb=29.8)
    assert tlsbench._one_heap(inside)['handshake'] == 9 and tlsbench._one_heap(inside)['session'] == 29.8
    assert tlsbench._one_heap(dict(base, mbedtls_heap=None, mbedtls=None)) is None


def test_every_run_is_a_first_boot(tmp_path):
    """A run must not see the last one's boot log: short boots counted across runs put the
    board into safe mode (fewer controllers), and a bisection then found a heap too small."""
    import re
    from edgectl.core import tls
    from edgectl.core.broker import Broker, free_port
    site = tmp_path / 'site.yaml'
    site.write_text(DOOR_SITE)
    ca, key = tls.make_ca(tmp_path / 'ca', 'tb')
    crt, k = tls.make_server(tmp_path / 'ca', ca, key, '127.0.0.1')
    br = Broker(port=free_port(), workdir=tmp_path / 'broker', tls=(ca, crt, k)).start()
    try:
        cfg = tlsbench.device_cfg(site, 'door-1', {'host': br.host, 'port': br.port, 'tls': True})
        r = tlsbench.Runner(paths.micropython(), cfg, tmp_path / 'work', tls.der(ca))
        for _ in range(2):
            assert r.run(110), r.log_tail()
            boot = next(ln for ln in r.log if ' boot ' in ln)
            assert re.search(r' boot 1 ', boot) and 'SAFE MODE' not in boot, boot
    finally:
        br.stop()
