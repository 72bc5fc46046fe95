# The board runtime: wires controllers to the HAL, runs the control loop, turns controller
# events into numbered, persisted events, runs commands and config updates, and hands
# everything to the link. In safe mode only outputs (at their safe values) are wired.
import asyncio
import gc
import sys
from clock import ticks_ms, ticks_diff, wall_ms
import json
import bootlog
import config
import command
import controllers
import settings
import health
from fire import FireLinkage
from outbox import Outbox
from ratelimit import RateLimit
from ctrl_base import SEV_WARN, short
from compat import const

FW = '0.9.1'        # the version of edgectl, stated here only (the host and pyproject.toml read it)
_LOG_QUEUE = const(8)
_LOG_TEXT = const(200)
_CMD_FREE = const(4096)     # heap a command needs free to run (App.heap_short)


class BoardLog(RateLimit):
    """The board's log lines for the control room (topic .../<device>/log, `edgectl logs`):
    kept only at or below the level (log_level, or the system `log` command until the next
    boot), at most 10 per 10 s, 8 waiting (the oldest go first), none when the heap is
    short. Nothing here waits: the link sends a waiting line at QoS 0 when it has nothing
    more urgent; lines lost are counted and said with the next line sent. Here, not a
    module of its own, and its own rate limit: each saves heap (issue 16)."""

    def __init__(self, level):
        RateLimit.__init__(self, 10, 10000)
        self.level = level
        self.q = []
        self.min_free = 6144    # below this much free heap, log lines are the first thing dropped
        self.dropped = 0        # lines lost (rate, queue, heap) since the last one sent

    def add(self, lvl, text):
        """Queue a line (1 error .. 4 debug); False when it is not kept."""
        if lvl > self.level:
            return False
        try:
            if self.take(ticks_ms()) < 0 or (hasattr(gc, 'mem_free') and gc.mem_free() < self.min_free):
                self.dropped += 1
                return False
            if len(self.q) >= _LOG_QUEUE:
                self.q.pop(0)
                self.dropped += 1
            self.q.append((lvl, wall_ms(), text if len(text) <= _LOG_TEXT else text[:_LOG_TEXT]))
            return True
        except MemoryError:
            self.dropped += 1
            return False

    def next(self):
        """The oldest waiting line as JSON ({"lvl", "ts", "msg"[, "dropped"]}), or None."""
        if not self.q:
            return None
        lvl, ts, text = self.q.pop(0)
        d = {'lvl': lvl, 'ts': ts, 'msg': text}
        if self.dropped:
            d['dropped'] = self.dropped
            self.dropped = 0
        return json.dumps(d)


def load_secrets():
    """secrets.json (written over serial only, never over MQTT): MQTT credentials and the
    key signed commands are checked with."""
    try:
        d = config.read_json('secrets.json')
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


class Reboot(Exception):
    pass


class App:
    def __init__(self, cfg, io, log, reset='power', safe=False, trial=None):
        self.cfg = cfg
        self.io = io
        self.log = log
        self.reset = reset
        self.safe_mode = safe
        self.trial = trial
        self.site = cfg['site']
        self.device = cfg['device']
        self.rev = cfg.get('rev')
        self.debug = settings.get(cfg, 'debug')
        self.tick_ms = settings.get(cfg, 'tick_ms')
        self.events = Outbox('outbox.log', settings.get(cfg, 'outbox_max'))
        self.events.steps = 16      # making room rewrites 16 records a control pass (outbox.py)
        self.blog = BoardLog(settings.get(cfg, 'log_level'))    # lines for the log topic
        self.rejects = RateLimit(5, 10000)   # a command flood cannot fill the outbox
        self.ctrls = {}
        self.wired = {}      # ctrl name -> list of (sig, Signal) inputs
        self.outs = {}       # ctrl name -> {sig: Signal}
        self.by_signal = {}  # 'ctrl.sig' -> controller
        self.dirty = {}      # ctrl names whose state needs publishing
        self.wake = None     # set by the link: called when there is something to send
        self.loops = 0
        self.last_step = ticks_ms()
        self.started = ticks_ms()
        self.reboot_req = None
        self.alarms = set()  # 'ctrl/type' of controllers' alarms active now (an update waits for none)
        self.fw_trial = None     # the firmware version on trial (fwslot.py), set at boot
        self.secrets = load_secrets()
        key = self.secrets.get('cmd_key')
        if key:
            import binascii
            key = binascii.unhexlify(key)
        self.key = key = key or None
        self.ctr = 0         # the highest signed command counter accepted since boot (command.verify)
        # the site's fire state (kept across reboots) and its linkage to the controllers (fire.py);
        # a reset must be signed with this board's key
        self.fire = FireLinkage(self, key)
        for c in cfg['controllers']:
            self._add(c)
        for name in self.ctrls:      # controllers that watch others (zones) find them
            self.ctrls[name].bind(self.ctrls)
        io.on_edge(self._edge)
        config.once('bringup', 'boot_events', self)     # boot-only code: loaded for this, then dropped

    def _add(self, c):
        cls = controllers.load(c['type'])
        pins = c['pins']
        low = c.get('active_low', ())
        outs = {}
        if self.safe_mode:   # outputs only, held at their safe values; nothing runs
            safe = cls.safe_values(c)
            for sig in cls.OUTPUTS:
                if sig in pins:
                    outs[sig] = self.io.output(c['name'] + '.' + sig, pins[sig], sig in low, safe.get(sig, 0))
            self.outs[c['name']] = outs
            return
        ctrl = cls(c['name'], c)
        ctrl.boot = self.log.boots
        ctrl.ops()      # its ops found now, the heap in one piece: found at the first command, a
                        # short heap's MemoryError faulted the controller (a door left unlocked)
        ins = []
        analog = cls.analog_inputs(c)
        for sig in cls.INPUTS:
            if sig in pins:
                if sig in analog:
                    s = self.io.analog(c['name'] + '.' + sig, pins[sig])
                else:
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
        if 'reader_d0' in pins and 'reader_d1' in pins:     # card access: its code only on such a board
            import access
            access.attach(self, ctrl, c)
        self.ctrls[c['name']] = ctrl
        self.fire.join(ctrl)
        self.wired[c['name']] = ins
        self.outs[c['name']] = outs
        now = ticks_ms()
        for sig, s in ins:   # the levels present at boot
            ctrl.input(sig, s.value(), now)
        self._apply(ctrl)

    # --- events ------------------------------------------------------------------------------
    def event(self, etype, sev, fields=None, ctrl='system'):
        try:
            ev = self.events.add(ctrl, etype, sev, fields)
        except MemoryError:         # one more try with the heap swept: events are not dropped lightly
            gc.collect()
            ev = self.events.add(ctrl, etype, sev, fields)
        if sev == 'alarm' and ctrl != 'system' and fields and 'active' in fields:   # (safe mode may update)
            k = ctrl + '/' + etype
            if fields['active']:
                self.alarms.add(k)
            else:
                self.alarms.discard(k)
        if self.debug:
            print('evt', ev)
        if self.blog.level >= 4:
            self.logline(4, 'evt %s %s' % (ctrl, etype))
        if self.wake:
            self.wake()
        return ev

    def logline(self, lvl, text):
        """A line for the log topic (1 error, 2 warning, 3 info, 4 debug): queued, never waited for."""
        if lvl <= self.blog.level and self.blog.add(lvl, text) and self.wake:
            self.wake()

    # --- running controllers, always guarded: an exception drives outputs safe first --------
    def _run(self, ctrl, fn, *args):
        """Call into a controller. A faulted controller is not run again: its outputs stay
        at their safe values and its fault is reported once."""
        if ctrl.error:
            if ctrl.events:     # its fault alarm, held back for want of heap: written once there is
                self._apply(ctrl)
            return 'controller faulted: %s' % ctrl.error
        try:
            return fn(*args)
        except Exception as e:
            ctrl.safe('%s: %s' % (type(e).__name__, e))
            ctrl.alarm(ctrl.TYPE + '.fault', True, {'reason': ctrl.error})
            self.logline(1, '%s faulted: %s' % (ctrl.name, ctrl.error))
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
        evs = ctrl.events
        while evs:      # each leaves the queue once in the outbox: one that finds no heap stays,
            seq = self.events.seq           # with those after it, for the next pass (a short
            try:                            # heap's MemoryError lost them, and out of the control
                self.event(evs[0][0], evs[0][1], evs[0][2], ctrl.name)     # loop, crashed the board)
            except MemoryError:
                gc.collect()
                if self.events.seq == seq:
                    break
            evs.pop(0)
        self.fire.watch(ctrl)       # its own fire detector puts the site into fire
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
        self.loops = (self.loops + 1) & 0x3FFFFFFF   # a small int for good (a plain count needs the heap each pass after 124 days at 10 ms)
        self.last_step = now

    async def control_loop(self):
        while self.reboot_req is None:
            self.step()
            try:
                self.events.step()      # making room in the outbox, a few records a pass
            except Exception as e:      # (given up, tried again later): the loop goes on
                gc.collect()
                self.logline(1, 'outbox: %r' % e)
            await asyncio.sleep_ms(self.tick_ms)
        raise Reboot(self.reboot_req)

    def set_online(self, up):
        """The link's state, for controllers that show it (and every state republished)."""
        for name in self.ctrls:
            self.ctrls[name].online = up
            self.dirty[name] = True

    def reboot(self, cause):
        bootlog.note_reset(cause)
        self.reboot_req = cause

    # --- commands ---------------------------------------------------------------------------
    def command(self, ctrl_name, payload):
        """Run a command payload for one controller; returns the ack object."""
        try:
            cid, op, args = command.parse(payload)
            if ctrl_name == 'system':
                err, extra = config.once('appsys', 'command', self, op, args, cid)   # rare: loaded per command
            else:
                err, extra = self._ctrl_command(ctrl_name, cid, op, args)
            if err:
                raise command.CommandError(err, cid)
        except command.CommandError as e:
            self.reject(ctrl_name, e.cid, e.reason)
            ack = {'id': e.cid, 'ok': False, 'err': short(e.reason)}
            health.heap_peak()
            return ack
        ack = {'id': cid, 'ok': True}
        if extra:
            ack['state'] = extra
        health.heap_peak()      # payload, arguments and ack all alive: the heap's low-water mark
        return ack

    def _ctrl_command(self, ctrl_name, cid, op, args):
        ctrl = self.ctrls.get(ctrl_name)
        if ctrl is None:
            if self.safe_mode:
                return 'safe mode: controllers are stopped (push a config or `reboot` the system)', None
            return 'no controller %s on %s (have: %s)' % (short(ctrl_name, 64), self.device,
                                                          ', '.join(sorted(self.ctrls))), None
        if op == 'status':
            ctrl.changed = True
            self._apply(ctrl)
            return None, ctrl.snapshot()
        if op in ctrl.SIGNED and self.key is not None:
            fields = dict(args)
            fields['id'] = cid
            fields['op'] = op
            err, self.ctr = command.verify(self.key, self.device, ctrl_name, fields, wall_ms(), None, self.ctr)
            if err:
                return err, None
        if self.heap_short():       # refused before it runs: a MemoryError inside a command would
            return 'short of memory: refused, try again', None     # fault the controller (outputs safe)
        return self._run(ctrl, ctrl.command, op, args, ticks_ms()), None

    def heap_short(self):
        """Too little heap for a command to run whole (its events, its ack), even after a
        collection: a command flood on a short heap faulted doors (a faulted fail-safe door
        stays unlocked)."""
        if not hasattr(gc, 'mem_free') or gc.mem_free() >= _CMD_FREE:
            return False
        gc.collect()
        return gc.mem_free() < _CMD_FREE

    def reject(self, ctrl_name, cid, reason, extra=None):
        if self.blog.level >= 3:
            self.logline(3, 'refused a command for %s: %s' % (short(ctrl_name, 64), short(reason, 100)))
        n = self.rejects.take(ticks_ms())
        if n < 0:
            return      # over the limit: counted, reported with the next one let through
        f = {'id': cid, 'err': short(reason), 'target': short(ctrl_name, 64)}
        if extra:
            f.update(extra)
        if n:
            f['suppressed'] = n
        self.event('system.cmd_rejected', SEV_WARN, f)

    # --- config updates ---------------------------------------------------------------------
    def config_update(self, payload):
        """A `cfg` message: check it (signature, ranges), keep it beside the good config,
        reboot into a trial (appsys: loaded for it, then dropped)."""
        if payload:     # (cleared on the broker: keep running)
            config.once('appsys', 'config_update', self, payload)

    def ota_message(self, payload, link):
        """A firmware offer or chunk (ota.py, loaded while an update runs). No heap for it: the
        offer is refused and said (a transfer it broke ends as stalled), never a silent stall."""
        try:
            import ota
            ota.message(self, link, payload)
        except MemoryError:
            sys.modules.pop('ota', None)
            gc.collect()
            if payload[:1] == b'{':
                self.event('system.ota_rejected', SEV_WARN, {'err': 'no heap for the update (%d free)' % gc.mem_free()})

    # --- reports ----------------------------------------------------------------------------
    def status(self):
        s = {'online': True, 'fw': FW, 'boot': self.log.boots, 'reset': self.reset, 'rev': self.rev,
             'signed_cmds': self.key is not None}
        if self.safe_mode:
            s['safe_mode'] = True
        return s

    def tele(self):
        gc.collect()
        return {'uptime_s': ticks_diff(ticks_ms(), self.started) // 1000, 'heap_free': gc.mem_free(),
                'heap_min': health.heap_low(),
                'heap_used': gc.mem_alloc(), 'outbox': len(self.events),
                'dropped': self.events.dropped, 'rssi': self.io.rssi(), 'loops': self.loops}

    def safe_all(self, why):
        for name in self.ctrls:
            ctrl = self.ctrls[name]
            ctrl.safe(why)
            try:
                self._apply(ctrl)
            except Exception:
                pass
