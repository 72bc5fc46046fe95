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


def test_the_monitors_z_key_arms_every_zone_it_knows_as_the_operator():
    from edgectl.core import proto
    from edgectl.room.monitor import Monitor
    T = proto.topics
    mon = Monitor('s', operator='ann')
    mon.show = lambda rec: None
    sent = []
    mon.send = lambda dev, ctrl, op, args: sent.append((dev, ctrl, op, args))
    assert mon.act('z') == 'no zone known on this site yet' and sent == []
    mon.handle(T.state('s', 'd', 'vault'), b'{"type": "zone", "state": "disarmed", "armed": false}')
    mon.handle(T.state('s', 'd', 'front'), b'{"type": "door", "lock": "locked"}')
    mon.handle(T.state('s', 'e', 'yard'), b'{"type": "zone", "state": "disarmed", "armed": false}')
    assert mon.act('z') == 'arm d/vault, e/yard sent'
    assert sent == [('d', 'vault', 'arm', {'by': 'ann'}), ('e', 'yard', 'arm', {'by': 'ann'})]
