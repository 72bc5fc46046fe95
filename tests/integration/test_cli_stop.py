"""`edgectl sim` and `edgectl broker` stopped by SIGTERM (a service manager, `kill`) take
their board processes and mosquitto with them, as Ctrl-C does."""
import os
import signal
import subprocess
import sys
import time

from edgectl.core.broker import free_port

SITE = """\
site: stop
broker: {host: 127.0.0.1, port: %d}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
"""


def processes_under(folder):
    out = []
    for pid in os.listdir('/proc'):
        if pid.isdigit():
            try:
                if os.readlink('/proc/%s/cwd' % pid).startswith(str(folder)):
                    out.append(int(pid))
            except OSError:
                pass
    return out


def test_sigterm_stops_the_simulated_site_and_its_broker(tmp_path):
    (tmp_path / 'site.yaml').write_text(SITE % free_port())
    cli = [sys.executable, '-m', 'edgectl.cli']
    br = subprocess.Popen(cli + ['broker', '--site', 'site.yaml'], cwd=tmp_path, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    sim = None
    try:
        time.sleep(1.5)
        sim = subprocess.Popen(cli + ['sim', 'site.yaml'], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        end = time.monotonic() + 20
        while len(processes_under(tmp_path)) < 4 and time.monotonic() < end:    # 2 CLIs, mosquitto, a board
            time.sleep(0.2)
        assert len(processes_under(tmp_path)) >= 4, (processes_under(tmp_path), [
            (p.args[-2:], p.returncode, p.stdout.read()[-1500:]) for p in (br, sim) if p.poll() is not None])
        sim.send_signal(signal.SIGTERM)
        sim.wait(15)
        br.send_signal(signal.SIGTERM)
        br.wait(15)
        end = time.monotonic() + 5
        while processes_under(tmp_path) and time.monotonic() < end:
            time.sleep(0.1)
        left = processes_under(tmp_path)
        assert not left, 'still running after SIGTERM: %s' % [open('/proc/%d/cmdline' % p).read() for p in left]
    finally:
        for p in (sim, br):
            if p and p.poll() is None:
                p.kill()
        for pid in processes_under(tmp_path):
            os.kill(pid, signal.SIGKILL)
