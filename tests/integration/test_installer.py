"""The installer's path on a simulated board that speaks MicroPython's raw REPL on a pty,
with the real mpremote: blank board -> `edgectl flash --no-image` -> online and
self-tested; plain mpremote works; redeploys send only what changed and interrupt the
running firmware cleanly; config push over serial (accepted, refused and kept), pull and
diff; a deploy killed half-way leaves the old firmware bootable; one-line errors."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edgectl.install import configpush
from edgectl.core import heapfit, paths, proto
from edgectl.install.deploy import deploy
from edgectl.core.mqttc import Collector
from edgectl.install.serialboard import SerialBoard

T = proto.topics
SITE = """\
site: ins
broker: {host: 127.0.0.1, port: %d}
devices:
  lobby-1:
    board: esp32-devkitc
    healthy_s: 5
    controllers:
      - name: front
        type: door
        pins: {contact: 4, rex: 13, lock: 25, buzzer: 26}
        held_open_s: 20
"""


def edgectl(*args, cwd, env=None, timeout=120):
    return subprocess.run([sys.executable, '-m', 'edgectl.cli'] + list(args), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ, **(env or {})))


@pytest.fixture
def blank(make_board, broker, tmp_path):
    """A blank board (MicroPython only) with its serial console, and the site file."""
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % broker.port)
    # the profile's 110 KB, which the simulator scales to the 64-bit VM's terms (sim.SimBoard.vm_heap_kb)
    b = make_board(site.read_text(), 'lobby-1', site_broker=True, firmware='fs', console=True)
    return b, site


def installed(blank, tmp_path):
    b, site = blank
    r = edgectl('flash', str(site), '--port', b.serial_port, '--device', 'lobby-1', '--no-image', '--json',
                cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr + b.log_tail()
    return json.loads(r.stdout)


def test_blank_board_to_online_and_self_tested(blank, tmp_path, broker):
    b, site = blank
    rep = installed(blank, tmp_path)
    assert rep['status']['online'] and rep['status']['fw']
    assert rep['controllers']['front']['lock'] == 'locked'
    assert rep['alarms'] == []
    assert rep['deploy']['sent'] == rep['deploy']['files'] > 20
    assert rep['deploy']['serial_opens'] == 1, 'one board session through deploy, config and the boot watch'
    lib = b.fs / 'lib'
    assert (lib / 'manifest.json').exists() and (lib / 'app.mpy').exists() and (b.fs / 'main.py').exists()
    assert json.loads((b.fs / 'config.json').read_text())['device'] == 'lobby-1'
    # plain mpremote sees it as any board
    r = subprocess.run([sys.executable, '-m', 'mpremote', 'connect', b.serial_port, 'fs', 'ls', 'lib'], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and 'app.mpy' in r.stdout, r.stdout + r.stderr


def test_redeploy_sends_only_what_changed_and_interrupts_cleanly(blank, tmp_path):
    b, site = blank
    installed(blank, tmp_path)
    same = deploy(b.serial_port, show=False, say=lambda m: None)
    assert same['sent'] == 0 and same['deleted'] == 0
    assert same['wire_bytes'] < 2000, same
    log = b.log.read_text(errors='replace')
    assert 'interrupted: outputs safe' in log
    # one changed source file: exactly one file goes over
    fw = tmp_path / 'fw'
    shutil.copytree(paths.FIRMWARE, fw)
    (fw / 'door.py').write_text((fw / 'door.py').read_text() + '\n# changed\nCHANGED = 1\n')
    r = edgectl('deploy', '--port', b.serial_port, '--json', cwd=tmp_path, env={'EDGE_FIRMWARE': str(fw)})
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep['sent'] == 1, rep
    time.sleep(1.5)
    r = subprocess.run([sys.executable, '-m', 'mpremote', 'connect', b.serial_port, 'exec', 'import door; print(door.CHANGED)'],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.strip().endswith('1'), r.stdout + r.stderr


def test_config_over_serial_applied_refused_pulled_and_diffed(blank, tmp_path, broker):
    b, site = blank
    installed(blank, tmp_path)
    from edgectl.core import site as sitemod
    cfg = sitemod.device_config(sitemod.load_valid(site), 'lobby-1')
    bad = json.loads(json.dumps(cfg))
    bad['rev'] = 'bad-1'
    bad['controllers'][0]['held_open_s'] = 'long'
    verdict = configpush.push_serial(b.serial_port, bad)
    assert verdict['ok'] is False and 'held_open_s' in verdict['err'] and verdict['kept'] == cfg['rev']
    assert json.loads((b.fs / 'config.json').read_text())['rev'] == cfg['rev'], 'the old config stays'

    r = edgectl('config', 'diff', str(site), 'lobby-1', '--port', b.serial_port, cwd=tmp_path)
    assert r.returncode == 0 and 'runs what the site file says' in r.stdout, r.stdout + r.stderr

    site.write_text(site.read_text().replace('held_open_s: 20', 'held_open_s: 25'))
    col = Collector(broker.host, broker.port, [T.base('ins', 'lobby-1') + '#'])
    try:
        r = edgectl('config', 'diff', str(site), 'lobby-1', '--port', b.serial_port, cwd=tmp_path)
        assert r.returncode == 1 and '-   "held_open_s": 20' in r.stdout and '+   "held_open_s": 25' in r.stdout, r.stdout
        r = edgectl('config', 'push', str(site), 'lobby-1', '--via', 'serial', '--port', b.serial_port, cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        new_rev = sitemod.device_config(sitemod.load_valid(site), 'lobby-1')['rev']
        applied = col.event('system.config_applied', 20, rev=new_rev)
        assert applied, b.log_tail()
        col.wait(lambda t, p: t.endswith('/status') and isinstance(p, dict) and p.get('rev') == new_rev, 10)
        r = edgectl('config', 'pull', str(site), 'lobby-1', cwd=tmp_path)      # over MQTT from the running board
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)['controllers'][0]['held_open_s'] == 25
        r = edgectl('config', 'diff', str(site), 'lobby-1', cwd=tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        col.close()


def test_deploy_killed_half_way_leaves_the_old_firmware_bootable(blank, tmp_path, broker):
    b, site = blank
    installed(blank, tmp_path)
    old = (b.fs / 'lib' / 'app.mpy').read_bytes()
    (b.fs / 'lib' / 'manifest.json').unlink()          # the next deploy sends everything
    fw = tmp_path / 'fw'
    shutil.copytree(paths.FIRMWARE, fw)
    for f in fw.glob('*.py'):
        f.write_text(f.read_text() + '\nNEW_BUILD = 1\n')
    p = subprocess.Popen([sys.executable, '-m', 'edgectl.cli', 'deploy', '--port', b.serial_port], cwd=tmp_path,
                         env=dict(os.environ, EDGE_FIRMWARE=str(fw)), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    end = time.monotonic() + 30
    while time.monotonic() < end and len(list((b.fs / 'lib').glob('*.new'))) < 3:
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait()
    staged = list((b.fs / 'lib').glob('*.new'))
    assert staged, 'the deploy was not caught half-way'
    assert (b.fs / 'lib' / 'app.mpy').read_bytes() == old, 'a live file was overwritten before the commit'
    # the board is reset (power cycle): it boots the old firmware and comes online
    col = Collector(broker.host, broker.port, [T.status('ins', 'lobby-1')])
    try:
        b.kill(restart=False)
        m = col.mark()
        b.start()
        assert col.wait(lambda t, p: isinstance(p, dict) and p.get('online'), 20, m), b.log_tail()
    finally:
        col.close()
    r = subprocess.run([sys.executable, '-m', 'mpremote', 'connect', b.serial_port, 'exec', 'import app; print(hasattr(app, "NEW_BUILD"))'],
                       capture_output=True, text=True, timeout=30)
    assert r.stdout.strip().endswith('False'), r.stdout + r.stderr
    # the next deploy completes and clears the staged files
    rep = deploy(b.serial_port, show=False, say=lambda m: None)
    assert rep['sent'] == rep['files']
    assert not list((b.fs / 'lib').glob('*.new'))


def test_one_line_errors(tmp_path, blank):
    b, site = blank
    r = edgectl('deploy', '--port', '/dev/ttyUSB97', cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count('\n') == 1 and 'no serial port /dev/ttyUSB97' in r.stderr, r.stderr
    import pty
    import tty
    m, s = pty.openpty()                      # a port with nothing answering on it
    tty.setraw(s)
    try:
        t0 = time.monotonic()
        r = edgectl('deploy', '--port', os.ttyname(s), cwd=tmp_path)
        assert r.returncode == 1 and 'no MicroPython REPL answering' in r.stderr, r.stderr
        assert r.stderr.count('\n') == 1 and time.monotonic() - t0 < 30
    finally:
        os.close(m)
        os.close(s)
    r = edgectl('flash', str(site), '--port', b.serial_port, '--device', 'lobby-9', '--no-image', cwd=tmp_path)
    assert r.returncode == 2 and "no device 'lobby-9'" in r.stderr and r.stderr.count('\n') == 1, r.stderr
    assert not (b.fs / 'lib').exists(), 'nothing was written for an unknown device'
    r = edgectl('config', 'push', str(site), 'lobby-1', '--via', 'serial', '--port', b.serial_port, cwd=tmp_path)
    assert r.returncode == 1 and 'run `edgectl deploy' in r.stderr, r.stderr


def test_a_locked_console_keeps_the_firmware_running(make_board, broker, tmp_path):
    site = tmp_path / 'site.yaml'
    site.write_text((SITE % broker.port).replace('    healthy_s: 5\n', '    healthy_s: 5\n    console_locked: true\n'))
    b = make_board(site.read_text(), 'lobby-1', site_broker=True, firmware='fs', console=True)
    installed((b, site), tmp_path)
    time.sleep(1.0)
    r = edgectl('deploy', '--port', b.serial_port, cwd=tmp_path)
    assert r.returncode == 1 and 'console_locked' in r.stderr, r.stderr
    assert 'interrupted' not in b.log.read_text(errors='replace').split('--- start')[-1], 'the firmware was stopped'
    assert b.alive()


FULL = """\
site: ins
broker: {host: 127.0.0.1, port: %d}
devices:
  full-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 16}}
      - {name: bar, type: barrier, pins: {beam: 34, up_limit: 32, down_limit: 33, motor_up: 25, motor_down: 26,
         eye_tx: 27}}
      - {name: pool, type: pump, pins: {low_level: 35, pump: 17}}
      - {name: call, type: intercom, pins: {call: 36, strike: 18}}
      - {name: gen, type: genset, pins: {mains_ok: 39, gen_running: 13, gen_start: 19}}
      - {name: lift, type: lift_recall, pins: {recalled: 14, recall: 21}}
      - {name: perim, type: zone, pins: {s1: 22, armed: 23}}
"""


def test_a_board_out_of_heap_says_so_and_reports_it_at_its_next_good_boot(make_board, broker, tmp_path):
    """A door board the cost table lets through, on a board whose heap is smaller than its
    profile says (the table cannot know): the installer shows the board's own MemoryError
    line, not a network guess; the first boot that fits raises system.memory."""
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % broker.port)
    b = make_board(site.read_text(), 'lobby-1', site_broker=True, firmware='fs', console=True, heap_kb=48)
    t0 = time.monotonic()
    r = edgectl('flash', str(site), '--port', b.serial_port, '--device', 'lobby-1', '--no-image', '--timeout', '40',
                cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    err = r.stderr.strip().splitlines()[-1]       # before it: the installer's progress lines
    assert 'MemoryError' in err and 'its console says' in err and 'Wi-Fi' not in r.stderr, r.stderr
    assert time.monotonic() - t0 < 35, "the board's error ends the wait, not the timeout"
    col = Collector(broker.host, broker.port, [T.base('ins', 'lobby-1') + '#'])
    try:
        b.stop()
        b.heap_kb = 512                  # the same board with the heap to run
        b.start()
        ev = col.event('system.memory', 20)
        assert ev, b.log_tail()
        p = ev[2]
        assert p['sev'] == 'alarm' and 'memory allocation failed' in p['err'] and p['where'] in ('boot', 'import'), p
    finally:
        col.close()


def test_a_board_that_cannot_fit_the_lib_layout_is_refused_before_its_config_goes_on(make_board, broker,
                                                                                      tmp_path):
    """Every controller type on one ESP32 in the lib layout (code in the heap): flash refuses
    it with the chip's figures once the deploy has found the layout, and the board keeps no
    config to crash on. (The README's gate board, barrier + intercom, fits a chip in the lib
    layout by the 32-bit figures and is installed like lobby-1 above.)"""
    site = tmp_path / 'full.yaml'
    site.write_text(FULL % broker.port)
    types = ['door', 'barrier', 'pump', 'intercom', 'genset', 'lift_recall', 'zone']
    ok, msg = heapfit.fit(types, 110, 'lib')
    assert ok is False, 'the firmware got smaller: this board fits the lib layout now (%s); give it more' % msg
    b = make_board(site.read_text(), 'full-1', site_broker=True, firmware='fs', console=True, fs=tmp_path / 'full')
    r = edgectl('flash', str(site), '--port', b.serial_port, '--device', 'full-1', '--no-image', cwd=tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    err = r.stderr.strip().splitlines()[-1]
    assert 'would run out of memory at boot' in err and msg in err, (msg, err)
    assert not (b.fs / 'config.json').exists(), 'no config that would crash the board was written'
