"""Daylight saving for schedules: the site file's IANA zone becomes the board's UTC offsets."""
import datetime

import pytest

from edgectl.core import site as sitemod, tzrules
from tzvectors import BERLIN

SITE = """\
site: s
broker: {host: 127.0.0.1, port: 1883}
devices:
  d:
    board: esp32-devkitc
    controllers:
      - {name: pool, type: pump, pins: {low_level: 4, pump: 25}, tz: %s,
         schedule: [{on: "18:00", off: "22:30", days: "mon-sun"}]}
      - {name: gen, type: genset, pins: {mains_ok: 5, gen_running: 13, gen_start: 26}}
"""


def test_berlin_both_changes_of_each_year_to_the_minute():
    assert tzrules.changes('Europe/Berlin', 2026) == BERLIN      # what the firmware cases run against
    at = [datetime.datetime.fromtimestamp(m * 60, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M') for m, _ in BERLIN]
    assert at == ['2026-01-01 00:00', '2026-03-29 01:00', '2026-10-25 01:00', '2027-03-28 01:00', '2027-10-31 01:00']


def test_zones_without_daylight_saving_or_with_half_hours():
    assert [o for _, o in tzrules.changes('Asia/Shanghai', 2026)] == [480]
    assert [o for _, o in tzrules.changes('Australia/Lord_Howe', 2026)] == [660, 630, 660, 630, 660]
    assert [o for _, o in tzrules.changes('America/New_York', 2026)] == [-300, -240, -300, -240, -300]


@pytest.mark.parametrize('bad', ['Europe/Nowhere', '../etc/passwd', '/etc/localtime', 'x' * 100])
def test_an_unknown_zone_is_refused(bad):
    with pytest.raises(ValueError):
        tzrules.zone(bad)
    s = sitemod.parse(SITE % ('"%s"' % bad), 'site.yaml')
    sitemod.validate(s)
    assert any('time zone' in str(p) for p in s.problems), [str(p) for p in s.problems]


def test_the_board_gets_this_years_and_next_years_offsets():
    s = sitemod.parse(SITE % 'Europe/Berlin', 'site.yaml')
    sitemod.validate(s)
    assert not s.errors, [str(p) for p in s.problems]
    cfg = sitemod.device_config(s, 'd')
    pool, gen = cfg['controllers']
    year = datetime.datetime.now(datetime.timezone.utc).year
    assert pool['tz_changes'] == tzrules.changes('Europe/Berlin', year) and len(pool['tz_changes']) == 5
    assert gen['tz_changes'] == [], 'no tz: none'
    assert 'tz' not in pool, 'the board gets the offsets, not the name'
