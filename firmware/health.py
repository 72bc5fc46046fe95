# The health check: feeds the watchdog only while the control loop is seen running, marks
# the boot healthy after `healthy_s`, and settles a config trial (promote once the board has
# run and reached the broker with it; give it up if the broker stays out of reach).
import asyncio
from clock import ticks_ms, ticks_diff
import config
from settings import get
from ctrl_base import SEV_ALARM


async def run(app, link, io):
    cfg = app.cfg
    wdt_ms = get(cfg, 'watchdog_ms')
    healthy_ms = get(cfg, 'healthy_s') * 1000
    trial_max_ms = get(cfg, 'trial_s') * 1000
    wdt = io.watchdog(wdt_ms) if wdt_ms else None
    period = min(500, (wdt_ms or 2000) // 4)
    last = app.loops
    start = ticks_ms()
    healthy = False
    while True:
        await asyncio.sleep_ms(period)
        now = ticks_ms()
        alive = app.loops != last and ticks_diff(now, app.last_step) < max(1000, (wdt_ms or 2000) // 2)
        last = app.loops
        if alive and wdt is not None:
            wdt.feed()
        up = ticks_diff(now, start)
        if not healthy and alive and up >= healthy_ms and not app.safe_mode:
            healthy = True
            app.log.healthy()
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
