# Entry point: MicroPython runs main.py after boot.
import start
import hal

rc = start.main()
if hal.is_board():
    if rc != 2:             # reboot or crash: reset (2 = no config: stay at the REPL)
        import machine
        import time
        time.sleep_ms(500)
        machine.reset()
else:
    import sys
    sys.exit(rc)
