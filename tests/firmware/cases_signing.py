# Signed safety commands (protocols/signing.py), on CPython and the MicroPython unix port.
import signing
from harness import check, eq, in_tmpdir

KEY = b'0123456789abcdef0123456789abcdef'


def cmd(ctr, **kw):
    f = {'id': 'c-1', 'op': 'unlock', 'ctr': ctr}
    f.update(kw)
    f['sig'] = signing.sign(KEY, 'lobby-1', 'front', f)
    return f


def verifier(dev='lobby-1'):
    """A board that has accepted a command before (its counter is on flash), clock not set."""
    signing.CounterStore('ctr').save(1)
    return signing.Verifier(KEY, dev)


def case_genuine_fresh_commands_pass_and_replays_do_not():
    def run():
        v = verifier()
        eq(v.check('front', cmd(100, s=5)), None, 'genuine')
        r = v.check('front', cmd(100, s=5))
        check(r is not None and 'replayed' in r, 'same counter again: %r' % r)
        r = v.check('front', cmd(99))
        check(r is not None and 'replayed' in r, 'older counter: %r' % r)
        eq(v.check('front', cmd(101)), None, 'next counter')
        v2 = signing.Verifier(KEY, 'lobby-1')          # after a reboot
        check(v2.check('front', cmd(101)) is not None, 'the counter survives a reboot')
    in_tmpdir('signing1', run)


def case_forged_truncated_and_misdirected_commands_fail():
    def run():
        v = verifier()
        f = cmd(10, s=5)
        f['s'] = 3600                                   # changed after signing
        eq(v.check('front', f), 'bad signature', 'tampered argument')
        f = cmd(11)
        f['sig'] = f['sig'][:-2]
        eq(v.check('front', f), 'bad signature', 'truncated signature')
        eq(v.check('rear', cmd(12)), 'bad signature', 'signed for another controller')
        other = signing.Verifier(KEY, 'lobby-2')
        eq(other.check('front', cmd(13)), 'bad signature', 'signed for another device')
        f = cmd(14)
        f['sig'] = signing.sign(b'x' * 32, 'lobby-1', 'front', f)
        eq(v.check('front', f), 'bad signature', 'another key')
        check('needs a signature' in v.check('front', {'id': 'c', 'op': 'unlock'}), 'unsigned')
        f = cmd(15)
        del f['ctr']
        check('counter' in v.check('front', f), 'no counter')
        check('whole numbers' in v.check('front', {'id': 'c', 'op': 'unlock', 'ctr': 16, 's': 1.5, 'sig': 'ab'}),
              'a float cannot be signed')
        eq(v.check('front', cmd(17)), None, 'refusals did not move the counter')
    in_tmpdir('signing2', run)


def case_canonical_form_is_unambiguous():
    a = signing.canonical('d', 'c', {'a': 'x\nb=s1:y'})
    b = signing.canonical('d', 'c', {'a': 'x', 'b': 'y'})
    check(a != b, 'a value cannot fake another field')
    check(signing.canonical('d', 'c', {'a': 1}) != signing.canonical('d', 'c', {'a': '1'}), 'types differ')
    check(signing.canonical('d', 'c', {'a': True}) != signing.canonical('d', 'c', {'a': 1}), 'bool is not int')


def case_a_command_held_back_expires_once_the_clock_is_set():
    def run():
        v = signing.Verifier(KEY, 'lobby-1')
        now = 1800000000000
        r = v.check('front', cmd(now - 60000), now)
        check(r is not None and 'expired' in r, 'a minute old: %r' % r)
        r = v.check('front', cmd(now + 60000), now)
        check(r is not None and 'from the future' in r, 'a minute ahead: %r' % r)
        eq(v.check('front', cmd(now - 1000), now), None, 'a second old is fine')
        eq(v.check('front', cmd(now), 5000), None, 'a board without a set clock checks the counter only')
    in_tmpdir('signing3', run)


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def _remove(path):
    import os
    try:
        os.remove(path)
    except OSError:
        pass


def case_one_lost_or_damaged_counter_file_does_not_reset_the_counter():
    def run():
        v = verifier()
        eq(v.check('front', cmd(100)), None, 'accepted')
        eq(v.check('front', cmd(200)), None, 'accepted')
        _write('ctr.a', 'garbage')                              # one copy damaged
        v = signing.Verifier(KEY, 'lobby-1')
        eq((v.last, v.known), (200, True), 'the other copy holds the counter')
        check('replayed' in v.check('front', cmd(150)), 'an older command stays refused')
        _remove('ctr.b')                                        # and the other one lost
        _write('ctr.a', '200 00000000\n')                       # a copy whose checksum fails
        v = signing.Verifier(KEY, 'lobby-1')
        eq(v.known, False, 'no valid copy left')
        r = v.check('front', cmd(300))
        eq(r, signing.Verifier.NO_FRESHNESS, 'neither a counter nor a clock vouches')
        check('clock is not set' in r, 'the ack says why: %r' % r)
        _write('ctr.a', '20')                                   # a truncated copy
        _write('ctr.b', '190 ' + signing._check(190))           # one good copy, lower
        v = signing.Verifier(KEY, 'lobby-1')
        eq((v.last, v.known), (190, True), 'the highest valid copy wins')
    in_tmpdir('signing4', run)


def case_no_counter_and_no_clock_refuses_signed_commands_until_the_clock_is_set():
    def run():
        import os
        now = 1800000000000
        captured = cmd(now - 16 * 60000)                        # recorded 16 minutes ago
        v = signing.Verifier(KEY, 'lobby-1')                    # counter files lost
        eq(v.known, False, 'nothing on flash')
        eq(v.check('front', captured), signing.Verifier.NO_FRESHNESS, 'no clock at all')
        eq(v.check('front', captured, 946684800000), signing.Verifier.NO_FRESHNESS, 'clock at its 2000 reset value')
        eq(sorted(f for f in os.listdir() if f.startswith('ctr')), [], 'a refusal writes nothing')
        r = v.check('front', captured, now)                     # the clock is set (NTP)
        check(r is not None and 'expired' in r, 'with the clock the capture is too old: %r' % r)
        eq(v.check('front', cmd(now - 500), now), None, 'a fresh command is accepted')
        v = signing.Verifier(KEY, 'lobby-1')                    # reboot: clock unset again, counter back
        eq((v.last, v.known), (now - 500, True), 'the counter was written again')
        check('replayed' in v.check('front', captured), 'the counter alone refuses the capture now')
    in_tmpdir('signing5', run)


def case_a_command_from_the_future_is_refused_and_changes_nothing():
    def run():
        import os
        now = 1800000000000
        v = verifier()
        eq(v.check('front', cmd(now - 2000), now), None, 'a normal command')
        before = (v.last, sorted(os.listdir()), open('ctr.a').read())
        r = v.check('front', cmd(now + 30000), now)
        check(r is not None and 'from the future' in r, '30 s ahead: %r' % r)
        eq((v.last, sorted(os.listdir()), open('ctr.a').read()), before, 'counter and files unchanged')
        eq(v.check('front', cmd(now + 100, id='c-2'), now + 200), None, 'the next normal command is not stale')
    in_tmpdir('signing6', run)


def case_the_single_counter_file_of_older_firmware_is_taken_over():
    def run():
        _write('ctr.json', '500')
        v = signing.Verifier(KEY, 'lobby-1')
        eq((v.last, v.known), (500, True), 'the counter of firmware <= 0.6.0')
        check('replayed' in v.check('front', cmd(400)), 'still refuses what it refused')
        eq(v.check('front', cmd(600)), None, 'accepted')
        import os
        eq(sorted(f for f in os.listdir() if f.startswith('ctr')), ['ctr.a', 'ctr.b'], 'two copies, old file gone')
    in_tmpdir('signing7', run)
