# Time for the firmware: monotonic ticks for control logic, wall time for event stamps.
# Works on MicroPython (time.ticks_*) and, for host-side unit tests, on CPython.
import time

try:
    ticks_ms = time.ticks_ms
    ticks_us = time.ticks_us
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
except AttributeError:  # CPython: used only by the host-side tests of firmware logic
    _T0 = time.monotonic()

    def ticks_ms():
        return int((time.monotonic() - _T0) * 1000)

    def ticks_us():
        return int((time.monotonic() - _T0) * 1000000)

    def ticks_diff(a, b):
        return a - b

    def ticks_add(a, b):
        return a + b

# Ports whose epoch is 2000-01-01 report wall time offset by this many seconds.
_EPOCH_FIX = 946684800 if time.gmtime(0)[0] == 2000 else 0
_offset_ms = 0  # set by set_wall_ms (NTP, RTC or the simulator's clock command)


def wall_ms():
    """Milliseconds since 1970-01-01 UTC (event timestamps, schedules)."""
    try:
        ns = time.time_ns()
    except AttributeError:
        ns = int(time.time() * 1000000000)
    return ns // 1000000 + _EPOCH_FIX * 1000 + _offset_ms


def set_wall_ms(ms):
    global _offset_ms
    _offset_ms = 0
    _offset_ms = ms - wall_ms()
