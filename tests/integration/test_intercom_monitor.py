"""The control room answers a gate call from the keyboard: `edgectl monitor` runs on a
pseudo-terminal, the call rings there, the operator presses a (answer), u (release the
gate: the strike pulses on the board's wire) and h (hang up). A second operator answering
the same call is refused."""
import os
import pty
import select
import subprocess
import sys
import time

from edgectl.core import proto
from edgectl.room.monitor import Monitor
from edgectl.core.mqttc import Collector
from edgectl.sim.simio import EdgeWatcher, SimIO

T = proto.topics
SITE = """\
site: km
broker: {host: 127.0.0.1, port: %d}
devices:
  gate-1:
    board: esp32-devkitc
    controllers:
      - {name: east, type: intercom, pins: {call: 4, strike: 25, led: 26}, strike_s: 1, debounce_ms: 20}
"""


class Term:
    """A program on a pseudo-terminal: send keys, wait for text on its screen."""

    def __init__(self, argv, cwd):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=slave, stdout=slave, stderr=slave,
                                     env=dict(os.environ, COLUMNS='160', TERM='xterm'))
        os.close(slave)
        self.out = ''

    def read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if r:
            try:
                self.out += os.read(self.master, 65536).decode('utf-8', 'replace')
            except OSError:
                pass

    def expect(self, text, timeout=10, start=0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            i = self.out.find(text, start)
            if i >= 0:
                return i + len(text)
            self.read(0.1)
        raise AssertionError('%r not on the screen; it shows:\n%s' % (text, self.out[-2000:]))

    def key(self, ch):
        os.write(self.master, ch.encode())

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)
        os.close(self.master)


def test_operator_answers_releases_and_hangs_up_from_the_keyboard(make_board, broker, tmp_path):
    site = tmp_path / 'site.yaml'
    site.write_text(SITE % broker.port)
    b = make_board(site.read_text(), 'gate-1', site_broker=True)
    col = Collector(broker.host, broker.port, [T.base('km', 'gate-1') + '#'])
    io = SimIO(b.io_port)
    watch = EdgeWatcher(b.io_port)
    term = Term([sys.executable, '-m', 'edgectl.cli', 'monitor', '--plain', '--site', str(site), '--operator', 'ann', '--db', str(tmp_path / 'j.sqlite3')], tmp_path)
    try:
        term.expect('a answer the oldest ringing call')
        term.expect('ONLINE')
        io.set('east.call', 1)
        time.sleep(0.08)
        io.set('east.call', 0)
        at = term.expect('CALL')
        call = col.event('intercom.call')
        cid = call[2]['call']
        term.key('a')
        assert col.event('intercom.answered', call=cid, by='ann'), term.out[-1500:]
        at = term.expect('TALK', start=at)

        # a second operator who still sees it ringing is refused by the board
        other = Monitor('km', operator='bob').attach(broker.endpoint())
        try:
            r = other.wait_ack(other.send('gate-1', 'east', 'answer', {'call': cid, 'by': 'bob'}), 5)
            assert r and not r['msg']['ok'] and 'already answered by ann' in r['msg']['err']
        finally:
            other.detach()

        m = len(watch.edges)
        term.key('u')
        assert watch.wait('east.strike', 1, 3, m), 'the gate was not released'
        assert watch.wait('east.strike', 0, 3, m)
        assert col.event('intercom.unlock', call=cid)
        term.key('h')
        ended = col.event('intercom.ended', call=cid)
        assert ended and ended[2]['reason'] == 'hangup'
        at = term.expect('intercom.ended', start=at)      # the monitor has seen it too
        term.key('c')
        term.expect('open calls: none', start=at)
        term.key('u')
        term.expect('no call answered by ann', start=at)
        term.key('q')
        term.proc.wait(5)
        term.read(0.5)
        assert term.proc.returncode == 0, term.out[-1000:]
    finally:
        if term.proc.poll() is None:
            term.close()
        watch.close()
        io.close()
        col.close()
