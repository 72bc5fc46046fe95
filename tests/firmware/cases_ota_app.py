# Firmware updates in the real runtime (app.py): what holds a switch back. Its own module, run
# late: loading the whole App early fragments the case runner's heap for the modules after it.
# Runs on CPython and on the MicroPython unix port.
import ota
from harness import check, eq, in_tmpdir


def case_the_runtime_tracks_active_controller_alarms_for_the_switch():
    import esp32_double as d

    def t():
        d.install()
        try:
            app = d.door_app()
            eq(ota.busy(app), None, 'a quiet door')
            d.Pin.all[4]._drive(1)             # forced open
            app.step()
            check('front/door.forced' in app.alarms and 'alarm' in ota.busy(app), 'the forced door holds the switch')
            d.Pin.all[4]._drive(0)
            app.step()
            eq((app.alarms, ota.busy(app)), (set(), None), 'cleared when the door closes')
            app.event('system.safe_mode', 'alarm', {'active': True})
            eq(ota.busy(app), None, 'a board in safe mode may take an update (its controllers are stopped)')
            app.events.close()
        finally:
            d.uninstall()
    in_tmpdir('ota_alarms', t)
