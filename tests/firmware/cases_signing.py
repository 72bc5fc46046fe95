# Signed safety commands (protocols/signing.py), on CPython and the MicroPython unix port.
import signing
from harness import check, eq, in_tmpdir

KEY = b'0123456789abcdef0123456789abcdef'


def cmd(ctr, **kw):
    f = {'id': 'c-1', 'op': 'unlock', 'ctr': ctr}
    f.update(kw)
    f['sig'] = signing.sign(KEY, 'lobby-1', 'front', f)
    return f


def case_genuine_fresh_commands_pass_and_replays_do_not():
    def run():
        v = signing.Verifier(KEY, 'lobby-1')
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
        v = signing.Verifier(KEY, 'lobby-1')
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
        check(r is not None and 'expired' in r, 'from the future: %r' % r)
        eq(v.check('front', cmd(now - 1000), now), None, 'a second old is fine')
        eq(v.check('front', cmd(now), 5000), None, 'a board without a set clock checks the counter only')
    in_tmpdir('signing3', run)
