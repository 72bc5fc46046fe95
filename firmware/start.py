# Bring the board up: pick the config (a trial candidate or the last good one), count the
# boot, choose normal or safe mode, build the app, run it until a reboot is asked for.
# Returns 0 to reboot, 2 when there is nothing to run, 3 after a crash.
import asyncio
import gc
import bootlog
import config
import hal
import link
import health
import settings
from app import Reboot, FW

MAINTENANCE_MS = 600000     # (host/simconsole.py reads it here)


def main():
    gc.collect()        # code first, runtime objects after: less fragmentation
    r = config.once('bringup', 'up')    # boot-only code: dropped once the app is built
    if isinstance(r, int):
        return r
    app, io, log, lk, safe, trial, watch = r
    r = None
    io.info_fn = lambda: {'seq': app.events.seq, 'outbox': len(app.events), 'dropped': app.events.dropped,
                          'boot': log.boots, 'safe_mode': bool(app.safe_mode), 'rev': app.rev,
                          'connects': lk.connects, 'acks_dropped': lk.acks_dropped}
    gc.collect()
    print('edgectl fw %s: %s/%s boot %d (%s)%s%s, heap used %d free %d' % (
        FW, app.site, app.device, log.boots, app.reset, ' SAFE MODE' if safe else '',
        (' trial ' + trial) if trial else '', gc.mem_alloc(), gc.mem_free()))
    if settings.get(app.cfg, 'console_locked') and hal.is_board():
        import micropython
        micropython.kbd_intr(-1)   # production: Ctrl-C on the console no longer stops the firmware

    async def run():
        await io.serve()
        asyncio.create_task(lk.run())
        asyncio.create_task(health.run(app, lk, watch))
        await app.control_loop()

    try:
        asyncio.run(run())
    except Reboot:
        app.events.close()
        return 0
    except BaseException as e:
        app.safe_all('runtime stopped: %r' % (e,))
        if isinstance(e, KeyboardInterrupt):
            # interrupted at the console (mpremote, edgectl deploy): outputs are safe; the
            # REPL gets MAINTENANCE_MS before the watchdog resets the board into the firmware
            io.maintenance(MAINTENANCE_MS)
            log.short = 0           # an installer's interrupt is not a crash: no safe mode for it
            log.save()
            bootlog.note_reset('soft')
            print('edgectl: interrupted: outputs safe, REPL for %d min, then the watchdog resets' % (
                MAINTENANCE_MS // 60000))
            raise
        print('edgectl: crashed:', repr(e))
        bootlog.note_crash(e, 'running')
        return 3
    return 0
