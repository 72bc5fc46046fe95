"""Schedules: the firmware's evaluation agrees with a reference computed on the host with
datetime, for random schedules and random times; and the pump's invariants under random
sequences (CPython side of the cases run on both interpreters)."""
import datetime

from hypothesis import given, settings, strategies as st

import cases_pump
import schedule

EPOCH = datetime.datetime(1970, 1, 1)


def reference(windows, except_days, wall_ms, tz_min):
    t = EPOCH + datetime.timedelta(milliseconds=wall_ms + tz_min * 60000)
    today = (t.date() - EPOCH.date()).days
    minute = t.hour * 60 + t.minute
    for on, off, mask in windows:
        for start_day in (today, today - 1):
            wd = (EPOCH.date() + datetime.timedelta(days=start_day)).weekday()
            if not mask >> wd & 1 or start_day in except_days:
                continue
            start = on + (start_day - today) * 1440
            length = (off - on) % 1440 or 1440
            if start <= minute < start + length:
                return True
    return False


window = st.tuples(st.integers(0, 1439), st.integers(0, 1439), st.integers(0, 127)).map(list)


@settings(max_examples=2000, deadline=None)
@given(st.lists(window, max_size=4), st.lists(st.integers(20700, 20900), max_size=5),
       st.integers(1700000000000, 1900000000000), st.integers(-720, 840))
def test_schedule_agrees_with_the_datetime_reference(windows, except_days, wall, tz):
    assert schedule.active(windows, except_days, wall, tz) == reference(windows, except_days, wall, tz)


step = st.tuples(st.sampled_from(cases_pump.OPS), st.integers(0, 7000))


@settings(max_examples=60, deadline=None)
@given(st.lists(step, max_size=25))
def test_pump_invariants(steps):
    cases_pump.run_sequence(steps)
