"""Hardware-in-the-loop: the environment a HIL case runs in (broker, board under test,
rig, MQTT observer) and assertions that carry their measured figure on pass and their
context (expected, last seen, log path) on failure."""
import json
import shutil
import time
from pathlib import Path

from ..core import site as sitemod
from ..core.broker import Broker
from ..core.errors import EdgeError
from ..core.mqttc import Collector
from ..core.proto import topics
from ..sim.plants import RigLink
from .rig import PtyRig, SerialRig, SimRig, wiring_check
from ..sim.sim import SimBoard

WIRING = 'rig-esp32-devkitc'
# the boards under test the suite's cases use, by what they are (hil_tests/site.yaml)
DUTS = {'door': 'dut-door', 'gate': 'dut-gate', 'fountain': 'dut-fountain', 'callpoint': 'dut-call',
        'genset': 'dut-genset'}
RIGS = ('sim', 'pty', 'serial:PORT')


def check_setup(rigs, site_path, dut_port=None):
    """Everything a HIL run needs before its first case, as one EdgeError (exit 2): known
    rigs, serial ports that exist, a valid site file that has the suite's boards."""
    import os
    kinds = [k.strip() for k in rigs.split(',') if k.strip()]
    if not kinds:
        raise EdgeError('--rig needs a rig: %s' % ', '.join(RIGS), 2)
    for k in kinds:
        if k.startswith('serial:'):
            port = k.split(':', 1)[1]
            if not port or not os.path.exists(port):
                raise EdgeError('no serial port %r for the rig: is the rig board plugged in? (ls /dev/ttyUSB* '
                                '/dev/ttyACM*)' % port, 2)
        elif k not in ('sim', 'pty'):
            raise EdgeError('unknown rig %r: use %s, or a comma list' % (k, ', '.join(RIGS)), 2)
    if dut_port and not os.path.exists(dut_port):
        raise EdgeError('no serial port %r for the DUT (--dut-port): is it plugged in?' % dut_port, 2)
    site = sitemod.load_valid(site_path)
    missing = [d for d in DUTS.values() if d not in site.devices]
    if missing:
        raise EdgeError('%s has no %s: the HIL suite runs the boards of its own site file (hil_tests/site.yaml: '
                        '%s); with real hardware the DUT runs that config (--site only for a copy of it)' % (
                            site_path, ', '.join(missing), ', '.join(DUTS.values())), 2)
    return kinds


class Env:
    """One DUT, its rig and an observer on its MQTT topics."""

    def __init__(self, kind, site_path, device, log_dir, dut_port=None, wiring=WIRING):
        self.kind = kind
        self.device = device
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.site = sitemod.load_valid(site_path)
        self.broker = None
        self.dut = None
        self.rig = None
        self.observer = None
        self.plants = {}
        self.dut_port = dut_port
        try:
            self._start(wiring)
        except Exception:
            self.close()
            raise

    def _start(self, wiring):
        if self.kind.startswith('serial:'):
            # a real rig and a real DUT, deployed with this site's config and on its broker
            b = self.site.data['broker']
            host, port = b['host'], b['port']
            self.cfg = sitemod.device_config(self.site, self.device)
            self.wiring = wiring_check(wiring, self.cfg)
            self.rig = SerialRig(self.kind.split(':', 1)[1], self.wiring)
        else:
            self.broker = Broker(workdir=self.log_dir / ('broker-%s-%s' % (self.kind, self.device))).start()
            host, port = self.broker.host, self.broker.port
            self.cfg = sitemod.device_config(self.site, self.device, {'host': host, 'port': port})
            self.wiring = wiring_check(wiring, self.cfg)
            fs = self.log_dir / ('fs-%s-%s' % (self.kind, self.device))
            if fs.exists():
                shutil.rmtree(fs)
            self.dut = SimBoard(self.cfg, fs).start()
            if self.kind == 'sim':
                self.rig = SimRig(self.dut.io_port, set(self.wiring))
            elif self.kind == 'pty':
                self.rig = PtyRig(self.log_dir / ('rig-' + self.device), self.dut.io_port, self.wiring)
            else:
                raise EdgeError('unknown rig %r (sim, pty or serial:PORT)' % self.kind, 2)
            # the machines the DUT drives, closed through the rig like the real rig's plant
            for p in self.dut.plants:
                p.start(lambda: RigLink(self.rig))
                self.plants[p.ctrl] = p
        self.observer = Collector(host, port, [topics.base(self.site.name, self.device) + '#',
                                               topics.fire_raise(self.site.name, '+')], 'hil')
        if not self.observer.wait(lambda t, p: t.endswith('/status') and isinstance(p, dict) and p.get('online'), 15):
            raise EdgeError('DUT %s did not come online%s' % (self.device, (':\n' + self.dut.log_tail()) if self.dut else ''))

    @property
    def dut_log(self):
        return self.dut.log if self.dut else self.log_dir / ('%s-console.log' % self.device)

    def close(self):
        for p in self.plants.values():
            p.stop()
        for part in (self.rig, self.observer):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    pass
        if self.rig is not None:
            (self.log_dir / ('rig-%s-%s.log' % (self.kind.replace(':', '_').replace('/', '_'), self.device))) \
                .write_text('\n'.join(self.rig.log_lines) + '\n')
        if self.observer is not None:
            with open(self.log_dir / ('mqtt-%s-%s.log' % (self.kind.split(':')[0], self.device)), 'w') as f:
                for t, topic, payload, retained in self.observer.msgs:
                    f.write('%.3f %s %s\n' % (t, topic, json.dumps(payload)))
        if self.dut is not None:
            self.dut.stop()
            shutil.copy(self.dut.log, self.log_dir / ('%s-%s.log' % (self.device, self.kind)))
        if self.broker is not None:
            self.broker.stop()


class Case:
    """What a HIL test uses: drive, wait, measure, with context on failure."""

    def __init__(self, env, figures, name):
        self.env = env
        self.rig = env.rig
        self.figures = figures
        self.name = name

    def _context(self, signal=None):
        last = self.rig.last(signal) if signal else None
        seen = ('last seen %s=%d at rig t=%.4f s' % (last.signal, last.value, last.t)) if last else 'no edge seen'
        return '%s; rig %s; DUT log %s' % (seen, self.env.kind, self.env.dut_log)

    def set(self, signal, value):
        return self.rig.set(signal, value)

    def mark(self):
        return self.rig.mark(), self.env.observer.mark()

    def edge(self, signal, value, within_s, since):
        e = self.rig.wait(signal, value, within_s, since[0])
        if e is None:
            raise AssertionError('expected %s=%d within %.3f s: not seen; %s' % (
                signal, value, within_s, self._context(signal)))
        return e

    def event(self, etype, active=None, within_s=3.0, since=None):
        ob = self.env.observer
        r = ob.wait(lambda t, p: '/evt/' in t and isinstance(p, dict) and p.get('type') == etype
                    and (active is None or p.get('active') == active), within_s, since[1] if since else 0)
        if r is None:
            evs = [m[2].get('type') for m in ob.msgs[since[1] if since else 0:] if '/evt/' in m[1] and isinstance(m[2], dict)]
            raise AssertionError('expected event %s%s within %.1f s; events seen since: %s; DUT log %s' % (
                etype, '' if active is None else ' active=%s' % active, within_s, evs[-8:] or 'none', self.env.dut_log))
        return r

    def timing(self, what, measured_s, lo_s, hi_s):
        ok = lo_s <= measured_s <= hi_s
        self.figures.append({'case': self.name, 'rig': self.env.kind, 'what': what,
                             'ms': round(measured_s * 1000, 2), 'lo_ms': round(lo_s * 1000, 1),
                             'hi_ms': round(hi_s * 1000, 1), 'ok': ok})
        if not ok:
            raise AssertionError('%s: expected %.0f..%.0f ms, measured %.1f ms; rig %s; DUT log %s' % (
                what, lo_s * 1000, hi_s * 1000, measured_s * 1000, self.env.kind, self.env.dut_log))
        return measured_s

    def command(self, ctrl, op, within_s=5.0, **args):
        """Send a command over MQTT as the control room does; returns the ack."""
        import json as _json
        import uuid
        ob = self.env.observer
        cid = 'hil-%s' % uuid.uuid4().hex[:8]
        m = ob.mark()
        ob.client.publish(topics.cmd(self.env.site.name, self.env.device, ctrl),
                          _json.dumps(dict(id=cid, op=op, **args)), qos=1)
        r = ob.wait(lambda t, p: '/ack/' in t and isinstance(p, dict) and p.get('id') == cid, within_s, m)
        if r is None:
            raise AssertionError('no ack for %s %s within %.1f s; DUT log %s' % (ctrl, op, within_s, self.env.dut_log))
        return r[2]

    def site_fire(self, active, by='hil'):
        """Set or reset the site's fire state as the control room does (retained)."""
        from ..room import fire
        for t, p in fire.messages(self.env.site.name, active, by, [self.env.device]):
            self.env.observer.client.publish(t, p, qos=1, retain=True).wait_for_publish(5)

    def idle(self, inputs, outputs, within_s=3.0):
        """Bring the DUT to rest: inputs inactive, then the outputs at their resting values."""
        for s in inputs:
            self.rig.set(s, 0)
        end = time.monotonic() + within_s
        while time.monotonic() < end:
            if all(self.rig.get(s) == v for s, v in outputs.items()):
                return
            time.sleep(0.02)
        raise AssertionError('DUT did not come to rest (%s) within %.1f s; %s' % (outputs, within_s, self._context()))
