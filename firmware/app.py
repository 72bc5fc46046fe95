# The board runtime: wires controllers to the HAL, runs the control loop, turns controller
# events into numbered events, runs commands, and hands everything to the link.
import asyncio
import gc
import json
from clock import ticks_ms, ticks_diff
import config
import hal
import command
import controllers
from events import EventQueue
from ctrl_base import SEV_ALARM, SEV_WARN

FW = '0.1.0'
BOOT_FILE = 'boot.dat'


def _bump_boot():
    n = 0
    try:
        with open(BOOT_FILE) as f:
            n = int(f.read())
    except (OSError, ValueError):
        pass
    n += 1
    try:
        with open(BOOT_FILE, 'w') as f:
            f.write(str(n))
    except OSError:
        pass
    return n


class App:
    def __init__(self, cfg, io):
        self.cfg = cfg
        self.io = io
        self.site = cfg['site']
        self.device = cfg['device']
        self.debug = cfg.get('debug', False)
        self.tick_ms = cfg.get('tick_ms', 10)
        self.events = EventQueue(self.device, cfg.get('outbox_max', 200))
        self.ctrls = {}
        self.wired = {}      # ctrl name -> list of (sig, Signal) inputs
        self.outs = {}       # ctrl name -> {sig: Signal}
        self.by_signal = {}  # 'ctrl.sig' -> controller
        self.dirty = {}      # ctrl names whose state needs publishing
        self.wake = None     # set by the link: called when there is something to send
        self.loops = 0
        self.boot = _bump_boot()
        self.reset = io.reset_cause()
        self.started = ticks_ms()
        for c in cfg['controllers']:
            self._add(c)
        io.on_edge(self._edge)

    def _add(self, c):
        cls = controllers.load(c['type'])
        ctrl = cls(c['name'], c)
        pins = c['pins']
        low = c.get('active_low', ())
        ins = []
        outs = {}
        for sig in cls.INPUTS:
            if sig in pins:
                s = self.io.input(c['name'] + '.' + sig, pins[sig], sig in low)
                ins.append((sig, s))
                self.by_signal[s.name] = ctrl
            elif sig not in cls.OPTIONAL:
                raise config.ConfigError('%s needs pin %s' % (c['name'], sig))
        for sig in cls.OUTPUTS:
            if sig in pins:
                outs[sig] = self.io.output(c['name'] + '.' + sig, pins[sig], sig in low,
                                           ctrl.outputs.get(sig, 0))
            elif sig not in cls.OPTIONAL:
                raise config.ConfigError('%s needs pin %s' % (c['name'], sig))
        self.ctrls[c['name']] = ctrl
        self.wired[c['name']] = ins
        self.outs[c['name']] = outs
        now = ticks_ms()
        for sig, s in ins:   # the levels present at boot
            ctrl.input(sig, s.value(), now)
        self._apply(ctrl)

    # --- running controllers, always guarded: an exception drives outputs safe first ------
    def _run(self, ctrl, fn, *args):
        """Call into a controller. A faulted controller is not run again: its outputs stay
        at their safe values and its fault is reported once."""
        if ctrl.error:
            return 'controller faulted: %s' % ctrl.error
        try:
            return fn(*args)
        except Exception as e:
            ctrl.safe('%s: %s' % (type(e).__name__, e))
            ctrl.alarm(ctrl.TYPE + '.fault', True, {'reason': ctrl.error})
            return 'controller faulted: %s' % ctrl.error
        finally:
            self._apply(ctrl)

    def _edge(self, s):
        ctrl = self.by_signal.get(s.name)
        if ctrl is not None:
            self._run(ctrl, ctrl.input, s.name[len(ctrl.name) + 1:], s.value(), ticks_ms())

    def _apply(self, ctrl):
        outs = self.outs[ctrl.name]
        for sig in outs:
            want = ctrl.outputs.get(sig, 0)
            s = outs[sig]
            if s.value() != want:
                s.value(want)
                self.io.output_changed(s, want)
        if ctrl.events:
            evs = ctrl.events
            ctrl.events = []
            for etype, sev, fields in evs:
                ev = self.events.add(ctrl.name, etype, sev, fields)
                if self.debug:
                    print('evt', ev)
        if ctrl.changed:
            ctrl.changed = False
            self.dirty[ctrl.name] = True
            if self.wake:
                self.wake()

    def step(self):
        now = ticks_ms()
        for name in self.ctrls:
            ctrl = self.ctrls[name]
            for sig, s in self.wired[name]:   # catches edges an interrupt missed
                self._run(ctrl, ctrl.input, sig, s.value(), now)
            self._run(ctrl, ctrl.tick, now)
        self.loops += 1

    async def control_loop(self):
        while True:
            self.step()
            await asyncio.sleep_ms(self.tick_ms)

    # --- commands ---------------------------------------------------------------------------
    def command(self, ctrl_name, payload):
        """Run a command payload for one controller; returns the ack object."""
        cid = None
        try:
            cid, op, args = command.parse(payload)
            ctrl = self.ctrls.get(ctrl_name)
            if ctrl is None:
                raise command.CommandError('no controller %s on %s (have: %s)' % (
                    ctrl_name, self.device, ', '.join(sorted(self.ctrls))), cid)
            if op == 'status':
                ctrl.changed = True
                self._apply(ctrl)
                err = None
            else:
                err = self._run(ctrl, ctrl.command, op, args, ticks_ms())
            if err:
                raise command.CommandError(err, cid)
        except command.CommandError as e:
            self.reject(ctrl_name, e.cid, e.reason)
            return {'id': e.cid, 'ok': False, 'err': e.reason}
        ack = {'id': cid, 'ok': True}
        if op == 'status':
            ack['state'] = ctrl.snapshot()
        return ack

    def reject(self, ctrl_name, cid, reason):
        self.events.add('system', 'system.cmd_rejected', SEV_WARN,
                        {'id': cid, 'err': reason, 'target': ctrl_name})
        if self.wake:
            self.wake()

    def status(self):
        return {'online': True, 'fw': FW, 'boot': self.boot, 'reset': self.reset}

    def tele(self):
        gc.collect()
        return {'uptime_s': ticks_diff(ticks_ms(), self.started) // 1000, 'heap_free': gc.mem_free(),
                'heap_used': gc.mem_alloc(), 'outbox': len(self.events),
                'dropped': self.events.dropped, 'rssi': None, 'loops': self.loops}

    def safe_all(self, why):
        for name in self.ctrls:
            ctrl = self.ctrls[name]
            ctrl.safe(why)
            try:
                self._apply(ctrl)
            except Exception:
                pass


def main():
    try:
        cfg = config.load()
    except config.ConfigError as e:
        print('edgectl: cannot start:', e)
        return 2
    io = hal.make(cfg)
    try:
        app = App(cfg, io)
    except Exception as e:
        print('edgectl: bad config:', e)
        return 2
    import link
    lk = link.Link(app, cfg)
    if hasattr(io, 'info'):
        io.info['device'] = app.device
    gc.collect()
    print('edgectl fw %s: %s/%s boot %d (%s), heap used %d free %d' % (
        FW, app.site, app.device, app.boot, app.reset, gc.mem_alloc(), gc.mem_free()))

    async def run():
        await io.serve()
        asyncio.create_task(lk.run())
        await app.control_loop()

    try:
        asyncio.run(run())
    except BaseException as e:
        app.safe_all('runtime stopped: %r' % (e,))
        raise
    return 0
