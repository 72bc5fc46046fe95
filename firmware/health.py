# The health check: feeds the watchdog only while the control loop is seen running, marks
# the boot healthy after `healthy_s`, and settles a config trial (promote once the board has
# run and reached the broker with it; give it up if the broker stays out of reach).
import asyncio
import gc
from clock import ticks_ms, ticks_diff
from compat import const
import config
from settings import get
from ctrl_base import SEV_ALARM

_TRIAL_FAILS = const(20)    # failed passes in a row (10 s at 500 ms) that end a trial
_LOW_MS = const(1000)   # at most one collection a second for the heap's low-water mark
low = -1                # the lowest heap free seen since boot (tele heap_min); -1: none yet
_low_t = None           # ticks_ms of the last collection taken for it


def heap_low():
    """Note the heap free now in `low` if it is lower; returns `low`. Call it just after a
    collection: free heap before one counts the garbage as used (it nears zero each time
    before the VM collects by itself), so only a collected heap's figure is a low."""
    global low
    if hasattr(gc, 'mem_free'):
        f = gc.mem_free()
        if low < 0 or f < low:
            low = f
    return low


def heap_peak():
    """Where the heap is at its fullest (a command's payload, arguments and ack alive; the
    health check between passes): collect and note the free heap, at most once a second
    (a collection is ~1-3 ms on an ESP32's heap), so a command flood costs no more."""
    global _low_t
    now = ticks_ms()
    if _low_t is not None and ticks_diff(now, _low_t) < _LOW_MS:
        return
    _low_t = now
    gc.collect()
    heap_low()


def setup(cfg, io):
    """At boot, while the settings table is loaded (bringup): the watchdog starts now, and the
    health check needs no heap for its settings later. (watchdog or None, its ms, healthy ms,
    trial ms) for run()."""
    wdt_ms = get(cfg, 'watchdog_ms')
    return (io.watchdog(wdt_ms) if wdt_ms else None, wdt_ms, get(cfg, 'healthy_s') * 1000,
            get(cfg, 'trial_s') * 1000)


async def run(app, link, watch):
    """The health check's task. It must not end: when it does, nobody feeds the watchdog. A
    pass that fails (a short heap's MemoryError, a failed save) is tried again the next."""
    wdt, wdt_ms, healthy_ms, trial_max_ms = watch
    period = min(500, (wdt_ms or 2000) // 4)
    last = app.loops
    start = ticks_ms()
    healthy = False
    said = None     # the kind of error last logged: one that repeats every pass is logged once
    fails = 0       # passes in a row that failed
    while True:
        await asyncio.sleep_ms(period)
        try:
            now = ticks_ms()
            alive = app.loops != last and ticks_diff(now, app.last_step) < max(1000, (wdt_ms or 2000) // 2)
            last = app.loops
            if alive and wdt is not None:
                wdt.feed()
            heap_peak()
            up = ticks_diff(now, start)
            if not healthy and alive and up >= healthy_ms and not app.safe_mode:
                app.log.healthy()       # (a failed save is tried again the next pass)
                healthy = True
                if app.log.safe_alarm:
                    app.log.safe_alarm = False
                    app.log.save()
                    app.event('system.safe_mode', SEV_ALARM, {'active': False})
            if app.fw_trial and (healthy and link.connects or up >= trial_max_ms):   # a new firmware on trial
                config.once('fwslot', 'settle', app, healthy and link.connects, trial_max_ms)
            if app.trial:
                if healthy and link.connects:
                    config.promote(app.trial)   # one atomic rename: config.json is now this one
                    app.event('system.config_applied', 'info', {'rev': app.trial})
                    app.trial = None
                elif up >= trial_max_ms:
                    config.abandon(app.trial, 'no broker connection within %d s' % (trial_max_ms // 1000))
                    app.reboot('config')
            fails = 0
        except Exception as e:      # the next pass tries again (app.reboot only asks the control loop)
            gc.collect()
            fails += 1
            if fails >= _TRIAL_FAILS and (app.trial or app.fw_trial):
                # a trial (config or firmware) that the check cannot settle is not kept running
                # on a fed watchdog: the reboot ends it, and its next boot goes back
                try:
                    app.reboot('health')
                except Exception:       # (its reset cause could not be written)
                    app.reboot_req = 'health'
            try:
                if type(e) is not said:
                    said = type(e)
                    app.logline(2, 'health check: %r' % (e,))
            except MemoryError:
                pass
