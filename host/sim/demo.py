"""`edgectl demo`: a broker, a simulated site and a scripted walk through the door, the
barrier and the gate call station, seen through the control room's monitor. No hardware
needed."""
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ..core import commands, site as sitemod
from ..core.broker import Broker
from ..core.errors import EdgeError
from ..room.monitor import Monitor
from ..core.paths import DATA
from .sim import SimSite
from .simio import SimIO

DEMO_SITE = DATA / 'demo-site.yaml'
WAIT_S = 10.0


class Scenario:
    def __init__(self, console, monitor, board, broker, site, device):
        self.c = console
        self.mon = monitor
        self.io = board
        self.broker = broker
        self.site = site
        self.device = device
        self.results = []   # (step, expectation, ok, figure)
        self.plants = {}

    def step(self, title):
        self.c.print()
        self.c.rule(style='cyan')
        self.c.print('[bold cyan]%s[/]' % title)     # wrapped, not cut at the console's width

    def expect(self, etype, active=None, start=0, label=None, t0=None, device=None):
        r = self.mon.wait_event(device or self.device, etype, WAIT_S, active=active, start=start)
        name = label or etype + ('' if active is None else (' raised' if active else ' cleared'))
        fig = ''
        if r and t0 is not None:
            fig = '%.0f ms' % ((r['t'] - t0) * 1000)
        self.results.append((name, r is not None, fig))
        if r is None:
            self.c.print('[bold red]expected %s within %.0f s: not seen[/]' % (name, WAIT_S))
        return r

    def output(self, sig, want, label, io=None):
        """Check a board output (polled briefly: it may be about to change)."""
        io = io or self.io
        end = time.monotonic() + 2
        v = None
        while time.monotonic() < end:
            v = io.get(sig)
            if v == want:
                break
            time.sleep(0.02)
        self.results.append((label, v == want, ''))
        self.c.print('   board output %s = %s' % (sig, v))

    def run(self):
        io, dev = self.io, self.device
        self.step('1. A resident presses the exit button (REX), walks out, the door closes')
        m = self.mon.mark()
        io.set('front.rex', 1)
        self.expect('door.unlocked', start=m)
        io.set('front.rex', 0)
        io.set('front.contact', 1)
        self.expect('door.opened', start=m)
        io.set('front.contact', 0)
        self.expect('door.closed', start=m)
        self.expect('door.locked', start=m, label='door.locked (relocked by the timer)')

        self.step('2. The guard unlocks from the control room; the door is propped open past held_open_s=3')
        m = self.mon.mark()
        ack = commands.send(self.broker.endpoint(), self.site, dev, 'front', 'unlock')
        self.c.print('   edgectl cmd %s front unlock -> %s' % (dev, ack))
        self.results.append(('unlock command acknowledged', bool(ack.get('ok')), ''))
        self.expect('door.unlocked', start=m)
        io.set('front.contact', 1)
        t_open = time.time()
        self.expect('door.opened', start=m)
        r = self.expect('door.held_open', True, start=m)
        if r:
            self.results[-1] = (self.results[-1][0], True, 'after %.2f s open' % (r['t'] - t_open))
        self.output('front.buzzer', 1, 'buzzer sounding while held open')
        io.set('front.contact', 0)
        self.expect('door.held_open', False, start=m)

        self.step('3. Someone forces the locked door')
        m = self.mon.mark()
        t0 = time.time()
        io.set('front.contact', 1)
        self.expect('door.forced', True, start=m, t0=t0)
        io.set('front.contact', 0)
        self.expect('door.forced', False, start=m)

        self.step('4. The fire alarm goes off: every lock on the site releases; the guard resets it once clear')
        m = self.mon.mark()
        t0 = time.time()
        io.set('front.fire', 1)
        self.expect('door.fire_release', True, start=m, t0=t0)
        self.output('front.lock', 0, 'lock output released during fire')
        io.set('front.fire', 0)
        self.c.print('   the detector clears; the site fire state holds every door open until the guard resets it')
        from ..room import fire
        fire.publish(self.broker.endpoint(), self.site, False, 'demo-guard',
                     [dev] + sorted(d for d in self.plants if d != dev))
        self.expect('door.fire_release', False, start=m, label='door.fire_release cleared by the reset')
        self.expect('door.locked', start=m, label='door.locked after the fire reset')

        self.step('5. A mistyped command is refused with a reason and changes nothing')
        m = self.mon.mark()
        ack = commands.send(self.broker.endpoint(), self.site, dev, 'front', 'opn')
        self.c.print('   edgectl cmd %s front opn -> %s' % (dev, ack))
        self.results.append(("'opn' refused", ack.get('ok') is False, ''))
        self.expect('system.cmd_rejected', start=m)
        if 'gate-1' in self.plants:
            self.barrier(self.plants['gate-1'])
            self.intercom(self.plants['gate-1'])
        return all(ok for _, ok, _ in self.results)

    def barrier(self, sim_board):
        dev = 'gate-1'
        arm = sim_board.plants[0]
        gio = SimIO(sim_board.io_port)
        cmd = lambda op: commands.send(self.broker.endpoint(), self.site, dev, 'barrier', op)
        self.step('6. A car at the barrier: the guard opens it; the car drives through; it closes by itself')
        m = self.mon.mark()
        self.results.append(('barrier open acknowledged', cmd('open').get('ok') is True, ''))
        self.expect('barrier.opened', start=m, device=dev)
        gio.set('barrier.loop', 1)           # the car stands on the loop, then leaves
        time.sleep(0.5)
        gio.set('barrier.loop', 0)
        self.expect('barrier.closing', start=m, device=dev, label='barrier.closing (auto-close after the car left)')
        self.expect('barrier.closed', start=m, device=dev)

        self.step('7. Anti-crush: someone steps under the closing arm; it stops, reverses, alarms')
        m = self.mon.mark()
        cmd('open')
        self.expect('barrier.opened', start=m, device=dev)
        m = self.mon.mark()
        self.expect('barrier.closing', start=m, device=dev, label='barrier.closing (auto-close)')
        time.sleep(1.0)
        arm.set('obstruction', 1)
        self.expect('barrier.obstructed', True, start=m, device=dev)
        self.output('barrier.motor_down', 0, 'motor_down off at once', gio)
        self.expect('barrier.opened', start=m, device=dev, label='barrier.opened (reversed to fully open)')
        arm.set('obstruction', 0)
        self.expect('barrier.obstructed', False, start=m, device=dev)
        self.expect('barrier.closed', start=m, device=dev, label='barrier.closed (auto-close once clear)')
        gio.close()

    def intercom(self, sim_board):
        dev = 'gate-1'
        gio = SimIO(sim_board.io_port)
        self.step('8. A visitor presses the gate call button; the guard answers (key a), releases the gate (u), hangs up (h)')
        m = self.mon.mark()
        gio.set('callpoint.call', 1)
        time.sleep(0.1)
        gio.set('callpoint.call', 0)
        self.expect('intercom.call', start=m, device=dev)
        self.mon.key('a')
        self.expect('intercom.answered', start=m, device=dev)
        self.mon.key('u')
        self.expect('intercom.unlock', start=m, device=dev)
        self.output('callpoint.strike', 1, 'gate strike released', gio)
        self.output('callpoint.strike', 0, 'gate strike shut again after strike_s', gio)
        self.mon.key('h')
        self.expect('intercom.ended', start=m, device=dev, label='intercom.ended (hangup)')
        gio.close()



def run(console=None, site_file=None, keep=False):
    console = console or Console(highlight=False, soft_wrap=True)
    site_path = Path(site_file) if site_file else DEMO_SITE
    site = sitemod.load_valid(site_path)
    device = 'lobby-1' if 'lobby-1' in site.devices else sorted(site.devices)[0]
    work = Path(tempfile.mkdtemp(prefix='edgectl-demo-'))
    console.print('[bold]edgectl demo[/]: site [cyan]%s[/] from %s; work folder %s' % (site.name, site_path, work))
    with Broker(workdir=work / 'broker') as broker:
        console.print('broker: mosquitto on %s:%d' % (broker.host, broker.port))
        sim = SimSite(site, state_dir=work, broker={'host': broker.host, 'port': broker.port})
        mon = Monitor(site.name, console)
        mon.attach(broker.endpoint())
        try:
            with sim:
                for d, sb in sim.boards.items():
                    console.print('simulated board %s: MicroPython unix port, %s, wires on port %d, log %s' % (
                        d, sb.heap_note(), sb.io_port, sb.log))
                    if not _wait_online(mon, d):
                        raise EdgeError('board %s did not come online; log:\n%s' % (d, sb.log_tail()))
                b = sim.boards[device]
                io = SimIO(b.io_port)
                try:
                    ok = _run(console, mon, io, broker, site.name, device, sim.boards)
                finally:
                    io.close()
                    mon.show = lambda rec: None   # the demo now stops its boards: no offline alarms
        finally:
            mon.detach()
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def _wait_online(mon, device, timeout=WAIT_S):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if mon.devices.get(device, {}).get('online'):
            return True
        time.sleep(0.05)
    return False


def _run(console, mon, io, broker, site, device, boards):
    sc = Scenario(console, mon, io, broker, site, device)
    sc.plants = {d: b for d, b in boards.items() if b.plants}
    ok = sc.run()
    console.print()
    t = Table(title='demo: what the control room saw', show_lines=False)
    t.add_column('check')
    t.add_column('result')
    t.add_column('figure')
    for name, good, fig in sc.results:
        t.add_row(name, '[green]ok[/]' if good else '[bold red]MISSING[/]', fig)
    console.print(t)
    s = mon.summary()
    console.print('devices online: %s; active alarms: %s; duplicates dropped: %d; gaps: %d' % (
        ', '.join(s['online']) or '-', ', '.join(s['active_alarms']) or 'none', s['duplicates_dropped'], len(s['gaps'])))
    console.print('[bold green]demo passed[/]' if ok else '[bold red]demo failed: see MISSING above[/]')
    return ok
