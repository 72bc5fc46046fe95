# Daily on/off windows in local time, with exception dates.
# A window is [on_min, off_min, days]: minutes after local midnight, and a weekday bit
# mask (bit 0 Monday .. bit 6 Sunday) of the days the window starts on. on > off crosses
# midnight; on == off is 24 hours from `on` (0:00 to 0:00: the whole day). `except_days` are local day numbers (days since
# 1970-01-01) on which no window runs (including the part of a window carried past
# midnight from that day). The host turns the site file's "18:00"/"mon-fri"/dates into this.
# Daylight saving: the host turns the site file's `tz` (an IANA name) into `changes`,
# [[utc_minute, offset_min], ...] rising: the local offset is that of the last change at or
# before the clock (before the first, or with none, the fixed tz_offset_min). Windows are in
# local wall time: on the spring-forward night a window starting in the skipped hour starts
# when the clock jumps past it; on the fall-back night the repeated hour is in it twice.

DAY_MS = 86400000
TIME_KNOWN_MS = 1700000000000      # a wall clock before Nov 2023 has never been set


def offset(changes, wall_ms, tz_min):
    """The local offset from UTC in minutes at wall_ms."""
    m = wall_ms // 60000
    for c in changes:
        if c[0] > m:
            break
        tz_min = c[1]
    return tz_min


def due(windows, except_days, wall_ms, tz_min, changes):
    """A schedule is on now (wall_ms) in its zone's local time."""
    return active(windows, except_days, wall_ms, offset(changes, wall_ms, tz_min))


def local(wall_ms, tz_min):
    """(day number, weekday 0=Monday, minute of the day) in local time."""
    t = wall_ms + tz_min * 60000
    day = t // DAY_MS
    return day, (day + 3) % 7, (t % DAY_MS) // 60000


def active(windows, except_days, wall_ms, tz_min=0):
    day, wd, minute = local(wall_ms, tz_min)
    for w in windows:
        on, off, mask = w[0], w[1], w[2]
        if on < off:
            if on <= minute < off and mask >> wd & 1 and day not in except_days:
                return True
        else:
            if minute >= on and mask >> wd & 1 and day not in except_days:
                return True
            if minute < off and mask >> ((wd + 6) % 7) & 1 and (day - 1) not in except_days:
                return True
    return False
