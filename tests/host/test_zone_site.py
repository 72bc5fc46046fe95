"""A zone's members in the site file: inputs of other controllers on the same board."""
from edgectl.core import site as sitemod

SITE = """\
site: s
broker: {host: 127.0.0.1, port: 1883}
devices:
  d:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
      - {name: vault, type: zone, members: "%s", pins: {s1: 13}}
"""


def problems(members):
    s = sitemod.parse(SITE % members, 'site.yaml')
    sitemod.validate(s)
    return [str(p) for p in s.problems]


def test_members_must_be_inputs_of_the_boards_other_controllers():
    assert problems('front.contact') == []
    assert problems('') == []
    for bad in ('rear.contact', 'front.lock', 'vault.s1', 'front'):
        got = problems(bad)
        assert len(got) == 1 and repr(bad) in got[0] and 'members' in got[0], got
