# Intrusion zone cases (firmware/zone.py), on CPython and the MicroPython unix port: every
# transition of ZONE_T, any opening of a member (a door's contact, the zone's own sensors)
# while armed, exit and entry delays, who armed and disarmed, the state kept across a reboot.
import door as D
import zone as Z
from harness import Bench, check, eq, in_tmpdir

Z.Zone.FILE = None            # no state file in the repository (case_armed_state_survives_a_reboot keeps one)
CFG = {'members': 'front.contact', 'exit_s': 10, 'entry_s': 5, 'debounce_ms': 20,
       'pins': {'arm': 12, 's1': 13, 'armed': 26}}


class Site:
    """A board with a door and a zone watching its contact; both benches share one clock."""

    def __init__(self, over=None):
        cfg = dict(CFG)
        if over:
            cfg.update(over)
        self.door = D.Door('front', {'debounce_ms': 20, 'pins': {'contact': 4, 'lock': 25}})
        self.z = Bench(Z.Zone('vault', cfg))
        self.z.c.bind({'front': self.door, 'vault': self.z.c})
        self.run(50)

    def run(self, ms):
        end = self.z.t + ms
        while self.z.t < end:
            self.door.tick(self.z.t + 10)
            self.door.events = []
            self.z.run(10)

    def contact(self, v):
        self.door.input('contact', v, self.z.t)
        self.run(40)

    def st(self):
        return Z.NAMES[self.z.c.st]


def armed(over=None):
    s = Site(over)
    eq(s.z.cmd('arm', {'by': 'ann'}), None, 'arm')
    s.run(10100)
    eq(s.st(), 'armed', 'armed after the exit delay')
    return s


def case_arm_waits_the_exit_delay_and_says_who():
    s = Site()
    eq((s.st(), s.z.out('armed')), ('disarmed', 0), 'disarmed at first')
    eq(s.z.cmd('arm', {'by': 'ann'}), None, 'arm')
    eq((s.st(), s.z.out('armed')), ('exit_delay', 1), 'exit delay, lamp on')
    eq(s.z.find('zone.arming')[3], {'by': 'ann', 'exit_s': 10}, 'arming, by ann')
    s.contact(1)                  # ann leaves through the door
    s.contact(0)
    s.run(9800)
    eq(s.st(), 'exit_delay', 'openings in the exit delay are ignored')
    s.run(300)
    eq((s.st(), s.z.find('zone.armed')[3]), ('armed', {'by': 'ann'}), 'armed')
    check(s.z.cmd('arm') is not None, 'an arm without who is refused')


def case_any_opening_while_armed_raises_intrusion_after_the_entry_delay():
    s = armed()
    s.contact(1)                  # opened with a key, not forced: still an intrusion
    eq((s.st(), s.z.find('zone.entry')[3]), ('entry_delay', {'member': 'front.contact', 's': 5}), 'entry delay')
    s.contact(0)
    s.run(4800)
    check(s.z.find('zone.intrusion') is None, 'not before entry_s')
    s.run(300)
    eq((s.st(), s.z.find('zone.intrusion', True)[3]), ('intrusion', {'active': True, 'member': 'front.contact'}),
       'intrusion')
    eq(s.z.cmd('disarm', {'by': 'bob'}), None, 'disarm')
    eq(s.z.find('zone.intrusion', False)[3], {'active': False, 'member': 'front.contact', 'by': 'bob'}, 'cleared by bob')
    eq((s.st(), s.z.out('armed'), s.z.find('zone.disarmed')[3]), ('disarmed', 0, {'by': 'bob'}), 'disarmed by bob')


def case_disarming_in_the_entry_delay_raises_nothing():
    s = armed()
    s.contact(1)
    s.run(2000)
    eq(s.z.cmd('disarm', {'by': 'ann'}), None, 'disarm in time')
    s.run(10000)
    check(s.z.find('zone.intrusion') is None, 'no intrusion')
    eq(s.st(), 'disarmed', 'disarmed')


def case_own_sensors_and_an_instant_zone():
    s = armed({'entry_s': 0})
    s.z.set('s1', 1)
    s.run(40)
    eq((s.st(), s.z.find('zone.intrusion', True)[3]['member']), ('intrusion', 's1'), 'at once, naming s1')
    check(s.z.find('zone.entry') is None, 'no entry delay')


def case_a_member_left_open_trips_once_armed():
    s = Site()
    s.contact(1)
    s.z.cmd('arm', {'by': 'ann'})
    s.run(10100)
    eq(s.st(), 'entry_delay', 'the open door counts once the exit delay is over')


def case_disarm_in_the_exit_delay_or_while_armed():
    s = Site()
    s.z.cmd('arm', {'by': 'ann'})
    s.run(1000)
    eq(s.z.cmd('disarm', {'by': 'ann'}), None, 'changed her mind')
    eq(s.st(), 'disarmed', 'disarmed from the exit delay')
    s = armed()
    check(s.z.cmd('disarm') is not None, 'a disarm without who is refused')
    eq(s.st(), 'armed', 'still armed')
    eq(s.z.cmd('disarm', {'by': 'ann'}), None, 'disarm')
    eq(s.st(), 'disarmed', 'disarmed from armed')
    eq(s.z.cmd('disarm', {'by': 'ann'}), None, 'disarming a disarmed zone is no error')
    eq(s.z.types().count('zone.disarmed'), 1, 'and records nothing')


def case_the_arm_key_arms_but_never_disarms():
    s = Site()
    s.z.set('arm', 1)
    s.run(40)
    s.z.set('arm', 0)
    s.run(40)
    eq((s.st(), s.z.find('zone.arming')[3]['by']), ('exit_delay', 'input'), 'armed by the key')
    s.run(10000)
    s.z.set('arm', 1)
    s.run(40)
    eq(s.st(), 'armed', 'a second press does not disarm')


def case_a_member_that_is_not_on_the_board_refuses_the_config():
    for bad in ('rear.contact', 'front.nothing', 'vault.s1'):
        z = Z.Zone('vault', dict(CFG, members=bad))
        try:
            z.bind({'front': D.Door('front', {'pins': {'contact': 4, 'lock': 25}}), 'vault': z})
        except Exception as e:
            check(bad in str(e), str(e))
        else:
            raise AssertionError('member %s accepted' % bad)


def case_armed_state_survives_a_reboot():
    def run():
        Z.Zone.FILE = 'zone_%s.json'
        try:
            s = armed()
            again = Z.Zone('vault', dict(CFG))
            eq((Z.NAMES[again.st], again.by, again.outputs['armed']), ('armed', 'ann', 1), 'armed after a reboot')
            s.contact(1)
            s.run(5200)
            again = Z.Zone('vault', dict(CFG))
            eq((Z.NAMES[again.st], again.member), ('intrusion', 'front.contact'), 'in alarm after a reboot')
            s.z.cmd('disarm', {'by': 'bob'})
            eq(Z.NAMES[Z.Zone('vault', dict(CFG)).st], 'disarmed', 'disarmed after a reboot')
            s.z.cmd('arm', {'by': 'ann'})
            s.run(10100)
            s.contact(1)                      # the power fails during the entry delay
            eq(s.st(), 'entry_delay', 'entry delay')
            b = Bench(Z.Zone('vault', dict(CFG)), t0=9000000)
            b.run(4900)
            eq(Z.NAMES[b.c.st], 'entry_delay', 'after the reboot: the entry delay again, from the start')
            b.run(200)
            eq(Z.NAMES[b.c.st], 'intrusion', 'then the intrusion')
        finally:
            Z.Zone.FILE = None
    in_tmpdir('zone-keep', run)


def case_a_supervised_door_contact_counts_too():
    s = Site()
    s.door = D.Door('front', {'debounce_ms': 20, 'contact_eol': True, 'pins': {'contact': 34, 'lock': 25}})
    s.z.c.watch = []
    s.z.c.bind({'front': s.door, 'vault': s.z.c})
    s.contact(33)                 # a healthy line, closed
    s.z.cmd('arm', {'by': 'ann'})
    s.run(10100)
    s.contact(70)                 # opened
    eq(s.st(), 'entry_delay', 'an end-of-line contact opening')
