"""Issue 23: firmware updates over the network, end to end on a simulated site (the firmware on
the MicroPython VM, real mosquitto with the site's logins and ACL): a rollout that updates
both boards, a broken image that the canary rolls back by itself (the rollout stops there and
the other board is never offered it), and a board killed mid-transfer that keeps its image."""
import json
import re
import shutil
import subprocess
import sys
import time

import pytest

from edgectl.core import heapfit, paths, proto, secrets
from edgectl.core import site as sitemod
from edgectl.core.broker import Broker, free_port
from edgectl.core.build import build
from edgectl.install import ota
from edgectl.qa.bench_ota import variant
from edgectl.room import fire
from edgectl.sim.sim import SimBoard, Supervisor

T = proto.topics
SITE = """\
site: up
broker: {host: 127.0.0.1, port: %d}
devices:
  door-1:
    board: esp32-devkitc
    healthy_s: 1
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
  door-2:
    board: esp32-devkitc
    healthy_s: 1
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
  door-3:
    board: esp32-devkitc
    healthy_s: 1
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
"""


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('ota')
    port = free_port(pair=True)
    path = tmp / 'site.yaml'
    path.write_text(SITE % port)
    s = sitemod.load_valid(path)
    sec, _ = secrets.ensure(path, sorted(s.devices))
    br = Broker(port=port, workdir=tmp / 'broker', site='up', secrets=sec, raisers=fire.raisers(s)).start()
    boards = {d: SimBoard(sitemod.device_config(s, d), tmp / d, secret=secrets.board_file(sec, d)).start()
              for d in ('door-1', 'door-2')}
    # the lib layout, as `edgectl deploy` leaves it (its code sits in the heap)
    # with a heap short of the profile's: about 114 KB on the 64-bit VM (test_a_lib_layout_board_takes_the_lib_bundle)
    lib = SimBoard(sitemod.device_config(s, 'door-3'), tmp / 'door-3', secret=secrets.board_file(sec, 'door-3'),
                   firmware='fs', heap_kb=224 - heapfit.vm_heap_kb(110, 'lib', types=['door'])).provision()
    from edgectl.install.deploy import local_files
    for name, data in local_files(None).items():
        (lib.fs / name).parent.mkdir(parents=True, exist_ok=True)
        (lib.fs / name).write_bytes(data)
    boards['door-3'] = lib.start()
    sup = Supervisor(list(boards.values()))
    auth = (sec['room']['user'], sec['room']['password'])
    col = br.endpoint(auth, room=True).collector([T.site_filter('up')], 'room')
    keys = {d: secrets.cmd_key(sec, d) for d in boards}
    try:
        yield tmp, br, boards, col, auth, keys
    finally:
        col.close()
        sup.stop()
        for b in boards.values():
            b.stop()
        br.stop()


def status(col, dev, start=0, timeout=20, **match):
    return col.wait(lambda t, p: t == T.status('up', dev) and isinstance(p, dict) and p.get('online')
                    and all(p.get(k) == v for k, v in match.items()), timeout, start)


class Quiet:
    def __init__(self):
        self.lines = []

    def show(self, targets, total, ver):
        self.lines += [ota.line(t, total, ver) for t in targets]

    def end_batch(self):
        pass


def test_rollout_updates_then_a_broken_image_rolls_back_on_the_canary_and_stops(fleet):
    tmp, br, boards, col, auth, keys = fleet
    base = ota.fw_version()
    for d in boards:
        assert status(col, d, fw=base), boards[d].log_tail()
    good, bad = base + '.1', base + '.2'
    server = ota.Server(br.endpoint(auth, room=True), 'up', variant(tmp, good), good, keys)
    try:
        t0 = time.monotonic()
        done, stopped = ota.rollout(server, ['door-1', 'door-2'], {'door-1': 10, 'door-2': 10}, 1, 10, Quiet())
        took = time.monotonic() - t0
    finally:
        server.close()
    assert stopped == [], [(t.device, t.state, t.why) for t in done]
    assert [t.state for t in done] == ['applied', 'applied']
    for d in ('door-1', 'door-2'):
        b = boards[d]
        assert json.loads((b.fs / 'fw.slot').read_text()) == {'img': 'fw.a', 'ver': good}
        assert status(col, d, fw=good, timeout=5), b.log_tail()
    print('rollout of %d bytes to 2 boards: %.1f s, %d bytes on the wire' % (
        len(server.data), took, sum(t.wire for t in done)))

    # a broken image (crashes at boot): the canary goes back by itself, the rollout stops there
    m = col.mark()
    server = ota.Server(br.endpoint(auth, room=True), 'up', variant(tmp, bad, broken=True), bad, keys)
    try:
        done, stopped = ota.rollout(server, ['door-1', 'door-2'], {'door-1': 10, 'door-2': 10}, 1, 10, Quiet())
    finally:
        server.close()
    assert [(t.device, t.state) for t in done] == [('door-1', 'rolled back')]
    assert [t.device for t in stopped] == ['door-1'] and 'did not stay up' in stopped[0].why
    ev = col.event('system.ota_rolled_back', 5, m, ver=bad)
    assert ev and ev[2]['running'] == good, 'reported by the previous image itself'
    assert status(col, 'door-1', m, fw=good, timeout=10), 'door-1 runs the previous image again'
    assert json.loads((boards['door-1'].fs / 'fw.slot').read_text()) == {'img': 'fw.a', 'ver': good}
    assert not col.wait(lambda t, p: t == T.evt('up', 'door-2', 'system') and isinstance(p, dict) and
                        p.get('type') == 'system.ota_started', 0.5, m), 'door-2 was never offered the broken image'
    st = ota.fleet(br.endpoint(auth, room=True), 'up', ['door-1', 'door-2'])
    assert st['door-1']['fw'] == good and st['door-1']['ota']['rolled_back'] is True
    assert st['door-2']['ota'] == {'ver': good, 'ok': True} and st['door-2']['heap_free'] > 0
    assert 'rolled back' in '\n'.join(ota.fleet_rows(st))


def test_a_board_killed_mid_transfer_keeps_running_its_image(fleet):
    tmp, br, boards, col, auth, keys = fleet
    b = boards['door-2']
    running = json.loads((b.fs / 'fw.slot').read_text()) if (b.fs / 'fw.slot').exists() else None
    was = (running or {}).get('ver') or ota.fw_version()
    ver = was + '.5'

    class Halting(ota.Server):        # serves three chunks, then nothing: the board is mid-transfer
        def payload(self, t, off, n):
            return super().payload(t, off, n) if t.asked < 3 else None
    server = Halting(br.endpoint(auth, room=True), 'up', b'\x01' * 20000, ver, keys)
    m = col.mark()
    try:
        deadline = time.monotonic() + 5
        while 'door-2' not in server.statuses and time.monotonic() < deadline:
            time.sleep(0.02)
        t = ota.Target('door-2', 10)
        server.start(t)
        assert col.event('system.ota_started', 10, m, ver=ver)
        deadline = time.monotonic() + 10
        while t.asked < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert t.asked == 3
        m = col.mark()
        b.kill(restart=True)            # power cut in the middle of the transfer
        assert status(col, 'door-2', m, fw=was), b.log_tail()
        deadline = time.monotonic() + 10
        while t.state != 'no answer' and time.monotonic() < deadline:
            server.tick(t)
            time.sleep(0.05)
        assert t.state == 'no answer' and 'restarted' in t.why, 'the host does not wait for a board that lost it'
    finally:
        server.close()
    assert ((json.loads((b.fs / 'fw.slot').read_text()) if (b.fs / 'fw.slot').exists() else None) == running)
    assert not col.event('system.ota_switching', 0.3, m)


def test_the_cli_pushes_with_progress_lines_and_lists_the_fleet(fleet):
    tmp, br, boards, col, auth, keys = fleet
    site = str(tmp / 'site.yaml')
    cli = [sys.executable, '-m', 'edgectl.cli']
    r = subprocess.run(cli + ['ota', 'push', site, '--window', '25:00-26:00'], cwd=tmp, capture_output=True, text=True)
    assert r.returncode == 2 and 'HH:MM-HH:MM' in r.stderr, r.stderr
    r = subprocess.run(cli + ['ota', 'push', site, '--devices', 'door-9'], cwd=tmp, capture_output=True, text=True)
    assert r.returncode == 2 and 'no device door-9' in r.stderr, r.stderr
    # another firmware tree (EDGE_FIRMWARE), one version up; its build reuses this checkout's .mpy files
    tree = tmp / 'tree'
    shutil.copytree(paths.FIRMWARE, tree / 'firmware')
    folder, _ = build()
    shutil.copytree(folder, tree / 'build' / 'mpy' / folder.name)
    before = boards['door-2'].fs / 'fw.slot'
    was = json.loads(before.read_text())['ver'] if before.exists() else ota.fw_version()
    ver = was + '.7'
    app = tree / 'firmware' / 'app.py'
    app.write_text(re.sub(r"^FW = '[^']*'", "FW = '%s'" % ver, app.read_text(), flags=re.M))
    env = dict(__import__('os').environ, EDGE_FIRMWARE=str(tree / 'firmware'))
    r = subprocess.run(cli + ['ota', 'push', site, '--devices', 'door-2', '--canary', '0'], cwd=tmp, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r'door-2 +%s -> %s +sending' % (re.escape(was), re.escape(ver)), r.stdout), r.stdout
    assert re.search(r'door-2 +\S+ -> %s +applied \(\d+\.\d s\)' % re.escape(ver), r.stdout), r.stdout
    assert '1 of 1 boards updated to %s' % ver in r.stdout
    r = subprocess.run(cli + ['fleet', 'status', site], cwd=tmp, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:]}
    assert ver in rows['door-2'] and '%s ok' % ver in rows['door-2'] and 'KB' in rows['door-2'], r.stdout
    assert rows['door-1'].split()[1] == 'yes', r.stdout

def test_a_lib_layout_board_takes_the_lib_bundle(fleet, monkeypatch):
    tmp, br, boards, col, auth, keys = fleet
    monkeypatch.setattr(ota, 'STALL_S', 6.0)       # (a board that cannot even say why: do not wait 30 s)
    b = boards['door-3']
    base = ota.fw_version()
    assert status(col, 'door-3', fw=base), b.log_tail()
    st = ota.fleet(br.endpoint(auth, room=True), 'up', ['door-3'])['door-3']
    assert st.get('img') == 'lib', (repr(st), b.log_tail())
    ver = base + '.3'
    imgs = {'romfs': variant(tmp, ver), 'lib': variant(tmp, ver, lib=True)}
    # a heap of 114 KB on the 64-bit VM (a chip with ~77 KB): a lib-layout door board runs and answers
    # there, with too little left for the update's code and buffers: it keeps its image and stays online,
    # and says why (system.ota_rejected 'no heap ...') when even that fits; in some runs the
    # heap is too fragmented to say it and the host reports 'no answer' after STALL_S (6 s here)
    m = col.mark()
    server = ota.Server(br.endpoint(auth, room=True), 'up', imgs, ver, keys)
    try:
        done, stopped = ota.rollout(server, ['door-3'], {'door-3': 10}, 0, 10, Quiet())
    finally:
        server.close()
    t = done[0]
    assert t.kind == 'lib' and (t.state, 'heap' in t.why) in (('rejected', True), ('no answer', False)), \
        (t.state, t.why, b.log_tail())
    assert b.alive() and not (b.fs / 'fw.slot').exists()
    assert 'Task exception' not in b.log.read_text(errors='replace'), 'a task of the board ended: ' + b.log_tail()
    assert not [x for x in col.msgs[m:] if x[1] == T.status('up', 'door-3') and x[2].get('online') is False], \
        (b.log_tail(), [x[1:3] for x in col.msgs[m:] if '/door-3/' in x[1]])
    # with the profile's heap it goes through (on the 64-bit VM it failed at 116 KB and passed at
    # 122-124 KB on a fresh board, not always after other work had fragmented the heap: 136 KB; the
    # profile's 110 KB is given about 170 KB there)
    b.stop()
    b.heap_kb = 110
    m = col.mark()
    b.start()
    assert status(col, 'door-3', m, fw=base), b.log_tail()
    server = ota.Server(br.endpoint(auth, room=True), 'up', imgs, ver, keys)
    try:
        done, stopped = ota.rollout(server, ['door-3'], {'door-3': 10}, 0, 10, Quiet())
    finally:
        server.close()
    assert [(t.device, t.kind, t.state) for t in done] == [('door-3', 'lib', 'applied')], (done[0].why, b.log_tail())
    assert json.loads((b.fs / 'fw.slot').read_text()) == {'img': 'lib.a', 'ver': ver}
    assert sorted(p.name for p in (b.fs / 'lib.a').iterdir()) == sorted(p.name for p in (b.fs / 'lib').iterdir()
                                                                          if p.suffix == '.mpy')
    assert status(col, 'door-3', fw=ver, timeout=5)


def test_a_board_that_keeps_deferring_is_named_at_the_timeout_and_the_rollout_stops(fleet, monkeypatch, capsys):
    """`ota push --timeout`: the canary holds the whole image but the window is hours away, so
    it defers; the host says who waits and why while it waits, then at the deadline names it
    in one line, exits 1 and never offers the next batch."""
    from edgectl import cli
    tmp, br, boards, col, auth, keys = fleet
    b = boards['door-1']
    was = json.loads((b.fs / 'fw.slot').read_text())['ver'] if (b.fs / 'fw.slot').exists() else ota.fw_version()
    ver = was + '.9'
    img = bytes(range(256)) * 12        # 3 KB: the board holds it in a second
    monkeypatch.setattr(ota, 'images', lambda arch=None: ({'romfs': img, 'lib': img}, ver))
    now = time.localtime()
    start = (now.tm_hour + 2) % 24
    window = '%02d:%02d-%02d:%02d' % (start, now.tm_min, (start + 1) % 24, now.tm_min)     # 2 h from now
    m = col.mark()
    monkeypatch.chdir(tmp)
    try:
        t0 = time.monotonic()
        rc = cli.main(['ota', 'push', str(tmp / 'site.yaml'), '--devices', 'door-1,door-2', '--canary', '1',
                       '--window', window, '--timeout', '5'])
        took = time.monotonic() - t0
        out, err = capsys.readouterr()
        assert rc == 1, out + err
        assert 5 <= took < 8, took
        assert col.event('system.ota_deferred', 1, m, ver=ver), 'the canary deferred its switch'
        assert re.search(r'waiting for 1 board \([\d.]+ s left of --timeout\): door-1 window: outside the update '
                         r'window', out), out
        last = err.strip().splitlines()[-1]
        assert last.startswith('timed out after 5 s (--timeout): door-1 still waiting (door-1 window: outside the '
                               'update window'), err
        assert last.endswith('the rollout stopped, not offered: door-2'), err
        assert re.search(r'door-1 +\S+ -> %s +timed out: still waiting after 5 s: window' % re.escape(ver), out), out
        assert '0 of 2 boards updated to %s' % ver in out
        assert not col.wait(lambda t, p: t == T.evt('up', 'door-2', 'system') and isinstance(p, dict) and
                            p.get('type') == 'system.ota_started', 0.3, m), 'door-2 was never offered'
    finally:
        m = col.mark()
        b.kill(restart=True)        # the deferred update would switch in the window: a restart drops it
        assert status(col, 'door-1', m, fw=was), b.log_tail()


def test_the_cli_offers_a_vm_image_which_a_board_without_ota_partitions_refuses(fleet, capsys, monkeypatch):
    """`ota push --vm FILE.bin`: the MicroPython VM goes out as kind vm (an ESP32 takes it into
    its other OTA partition: tests/firmware/cases_ota.py); the simulated board has none and
    says so; the rollout stops there."""
    from edgectl import cli
    tmp, br, boards, col, auth, keys = fleet
    site = str(tmp / 'site.yaml')
    monkeypatch.chdir(tmp)
    assert cli.main(['ota', 'push', site, '--vm-version', '9.0.0']) == 2
    assert '--vm-version goes with --vm' in capsys.readouterr().err
    (tmp / 'vm.elf').write_bytes(b'\x7fELF' + bytes(100))
    assert cli.main(['ota', 'push', site, '--vm', str(tmp / 'vm.elf')]) == 2
    assert 'not an ESP32 firmware image' in capsys.readouterr().err
    vm = tmp / 'ESP32_GENERIC-v1.25.0.bin'
    vm.write_bytes(b'\xe9\x05\x02\x20' + bytes(range(256)) * 16)
    m = col.mark()
    rc = cli.main(['ota', 'push', site, '--vm', str(vm), '--vm-version', '99.0', '--devices', 'door-2,door-1',
                   '--json'])
    out, err = capsys.readouterr()
    assert rc == 1, out + err
    assert 'firmware 99.0: MicroPython VM %s, %d bytes' % (vm, vm.stat().st_size) in err
    r = json.loads(out)
    assert r['boards']['door-2']['image'] == 'vm' and r['boards']['door-2']['result'] == 'rejected'
    assert "image kind 'vm'" in r['boards']['door-2']['why'] and r['not_offered'] == ['door-1'], r
    assert r['timed_out'] == [] and r['timeout_s'] == 3600 and r['stopped_at'] == ['door-2'], r
    assert col.event('system.ota_rejected', 2, m, ver='99.0')
