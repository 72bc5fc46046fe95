"""A config too big for the smallest board message is refused by the host before it is sent
(the board would refuse it as oversized with no rev, and the push would wait for a verdict
that cannot come)."""
import re
from pathlib import Path

import pytest

from edgectl.install import configpush
from edgectl.core import site as sitemod
from edgectl.core.errors import EdgeError
from edgectl.core.mqttc import Endpoint

ROOT = Path(__file__).resolve().parent.parent.parent
SITE = """\
site: big
broker: {host: 127.0.0.1, port: 1883}
devices:
  fountain-1:
    board: esp32-devkitc
    controllers:
      - name: pool
        type: pump
        pins: {low_level: 4, pump: 26}
        schedule: &s %s
        except_dates: &d %s
      - {name: pool2, type: pump, pins: {low_level: 5, pump: 27}, schedule: *s, except_dates: *d}
"""


def cfg_for(windows, dates):
    sched = '[' + ', '.join('{on: "%02d:00", off: "%02d:30"}' % (h, h) for h in range(windows)) + ']'
    days = '[' + ', '.join('"2027-%02d-%02d"' % (1 + i // 28, 1 + i % 28) for i in range(dates)) + ']'
    s = sitemod.parse(SITE % (sched, days), 'big.yaml')
    sitemod.validate(s)
    assert not s.errors, [str(p) for p in s.errors]
    return sitemod.device_config(s, 'fountain-1')


def test_the_bound_is_the_boards():
    src = (ROOT / 'firmware' / 'link.py').read_text()
    assert int(re.search(r'_MSG_MIN = const\((\d+)\)', src).group(1)) == configpush.BOARD_MSG_MIN


def test_a_config_over_the_smallest_board_message_is_refused_before_sending():
    big = cfg_for(16, 64)
    with pytest.raises(EdgeError) as e:        # port 9: nothing listens; the check comes first
        configpush.push_mqtt(Endpoint('127.0.0.1', 9), 'big', big, 1, key=b'k' * 32)
    assert e.value.code == 2 and 'bytes as a message' in str(e.value) and '--via serial' in str(e.value)
    small = cfg_for(1, 1)
    with pytest.raises(EdgeError) as e:        # a small one gets as far as the broker
        configpush.push_mqtt(Endpoint('127.0.0.1', 9), 'big', small, 1, key=b'k' * 32)
    assert 'bytes as a message' not in str(e.value)
