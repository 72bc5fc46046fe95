# What the host sends a board for tz: Europe/Berlin in 2026-2027 ([[utc_minute, offset_min]]):
# CET +60 from 1 Jan, CEST +120 from 29 Mar 01:00 UTC, CET from 25 Oct 01:00 UTC, ...
# tests/host/test_tzrules.py checks edgectl.core.tzrules makes exactly this; the pump and
# generator cases run their schedules against it (a module of its own: small on MicroPython).
BERLIN = [[29453760, 60], [29579100, 120], [29881500, 60], [30103260, 120], [30415740, 60]]
