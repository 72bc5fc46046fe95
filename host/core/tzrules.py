"""Daylight saving for the boards' schedules: the site file names an IANA time zone (`tz:
Europe/Berlin`); a board has no time zone database, so the host turns the name into the
UTC offsets in force from the start of this year to the end of the next ([[utc_minute,
offset_min], ...]: the first entry the offset at the start, then one per change). The board
takes the last entry at or before its clock (firmware/schedule.py offset); a config pushed
each year keeps the list ahead of it. Minutes since 1970, not ms: they stay small integers
on the board."""
import datetime
import zoneinfo

YEARS = 2            # this year and the next
STEP = 3600          # seconds between the samples that find a change (no zone changes twice within an hour)


def zone(name):
    """The zone called `name`; ValueError naming the problem when there is none."""
    if not isinstance(name, str) or not name or name.startswith(('/', '.')) or '..' in name:
        raise ValueError('%r is not a time zone name like "Europe/Berlin"' % (name,))
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError('%r is not a time zone this host knows (IANA names such as "Europe/Berlin", '
                         '"Asia/Shanghai")' % (name,))


def _offset_min(z, ts):
    return int(datetime.datetime.fromtimestamp(ts, z).utcoffset().total_seconds() // 60)


def changes(name, first_year, years=YEARS):
    """[[utc_minute, offset_min], ...] for zone `name` from 1 January of first_year (UTC) for
    `years` years: the offset then, and each change, found to the minute."""
    z = zone(name)
    t0 = int(datetime.datetime(first_year, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
    t1 = int(datetime.datetime(first_year + years, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
    off = _offset_min(z, t0)
    out = [[t0 // 60, off]]
    t = t0
    while t < t1:
        nxt = min(t + STEP, t1)
        o = _offset_min(z, nxt)
        if o != off:
            lo, hi = t // 60, nxt // 60          # the change lies in (lo, hi]: bisect to the minute
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_min(z, mid * 60) == off:
                    lo = mid
                else:
                    hi = mid
            out.append([hi, o])
            off = o
        t = nxt
    return out


def flat(name, today=None):
    """The board's tz_changes for a site file's `tz` ('' or None: none, [])."""
    if not name:
        return []
    year = (today or datetime.datetime.now(datetime.timezone.utc)).year
    return changes(name, year)
