# Entry point: MicroPython runs main.py after boot.
import sys
import app

rc = app.main()
if rc and not app.hal.is_board():
    sys.exit(rc)
