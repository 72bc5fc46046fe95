# Firmware updates (ota.py, fwslot.py, main.py's image choice, ota_esp32.py): the offer's
# checks, chunk assembly through a fake link, the switch waiting for an idle board, the
# trial and its rollback, and the ESP32 OTA partitions on the conformance double.
# Runs on CPython and on the MicroPython unix port.
import asyncio
import hashlib
import json
import os
import sys
import signing
import ota
import ota_lib
import ota_offer
import fwslot
from harness import check, eq, in_tmpdir

KEY = b'k' * 32
OTHER = b'o' * 32
ota.kinds = lambda: ('romfs', 'lib', 'vm')     # whatever this interpreter is, every sink is tried
ota.app_fw = lambda: '0.7.0'        # the running version (app.FW: not loaded here, for the heap's sake)
if not hasattr(asyncio, 'wait_for_ms'):     # CPython: the MicroPython calls the firmware uses
    asyncio.wait_for_ms = lambda aw, ms: asyncio.wait_for(aw, ms / 1000)
    asyncio.sleep_ms = lambda ms: asyncio.sleep(ms / 1000)


def _hex(b):
    return signing.hexlify(b)


def _offer(data, ver='9.0.0', key=KEY, dev='gate-1', ctr=1000, kind='romfs', **more):
    m = {'op': 'offer', 'kind': kind, 'ver': ver, 'size': len(data), 'sha': _hex(hashlib.sha256(data).digest()),
         'ctr': ctr}
    m.update(more)
    m['sig'] = signing.sign(key, dev, ota.SIGNED_AS, m)
    return m


def _refusal(fn):
    try:
        fn()
    except ota.Refused as e:
        return str(e)
    return None


def case_an_offer_is_checked_before_anything_is_written():
    def t():
        img = b'x' * 3000
        run = lambda m, key=KEY: ota_offer.check(m, key, 'gate-1', '0.7.0', ('romfs',), 100000)  # noqa: E731
        eq(run(_offer(img))['size'], 3000, 'a genuine offer')
        forged = _offer(img)
        forged['size'] = 2999
        check('bad signature' in _refusal(lambda: run(forged)), 'a changed field breaks the signature')
        check('bad signature' in _refusal(lambda: run(_offer(img, key=OTHER, ctr=2000))),
              "another board's key makes nothing for this board")
        check('bad signature' in _refusal(lambda: run(_offer(img, dev='gate-2', ctr=2001))),
              "an offer signed for another board")
        check('unsigned' in _refusal(lambda: run(dict(_offer(img, ctr=2002), sig=''))), 'unsigned')
        check('replayed' in _refusal(lambda: run(_offer(img, ctr=5))), 'an old counter')
        check('downgrade' in _refusal(lambda: run(_offer(img, ver='0.6.9', ctr=3000))), 'an older version')
        check('downgrade' in _refusal(lambda: run(_offer(img, ver='0.7.0', ctr=3001))), 'the same version')
        check('like 1.2.3' in _refusal(lambda: run(_offer(img, ver='1.x', ctr=3002))), 'not a version')
        check('kind' in _refusal(lambda: run(_offer(img, kind='vm', ctr=3003))), 'a VM image for a file slot')
        check('does not fit' in _refusal(lambda: run(_offer(img, ctr=3004, size=200000))), 'larger than the room')
        check('no key' in _refusal(lambda: run(_offer(img, ctr=3005), None)), 'a board without a key takes none')
        check('window' in _refusal(lambda: run(_offer(img, ctr=3006, win='02:00-25:00'))), 'a window past midnight')
    in_tmpdir('ota_offer', t)


class _Fire:
    active = False


class _Ctrl:
    def __init__(self, st):
        self.st = st

    def state(self):
        return self.st


class _App:
    site = 's'
    device = 'gate-1'
    key = KEY

    def __init__(self):
        self.fire = _Fire()
        self.ctrls = {}
        self.alarms = set()
        self.fw_trial = None
        self.events = []
        self.rebooted = None

    def event(self, etype, sev, fields=None, ctrl='system'):
        self.events.append((etype, fields))

    def reboot(self, cause):
        self.rebooted = cause

    def types(self):
        return [e[0] for e in self.events]


class _Client:
    """The host's side of the link: answers each request with a chunk, unless told not to."""

    def __init__(self, data, tamper=None):
        self.data = data
        self.tamper = tamper
        self.asked = []

    async def publish(self, topic, payload, qos=0, retain=False, dup=False, wait=True):
        r = json.loads(payload)
        self.asked.append((r['off'], r['len']))
        chunk = self.data[r['off']:r['off'] + r['len']]
        if self.tamper:
            chunk = self.tamper(r['off'], chunk)
            if chunk is None:
                return
        if ota._cur is not None:
            ota._cur.chunk(b'C' + r['off'].to_bytes(4, 'big') + chunk)


class _Link:
    def __init__(self, client):
        self.client = client


def _update(data, offer=None, tamper=None, app=None, settle_ms=0):
    """Offer `data` to a fake app over a fake link; run until the update ends."""
    app = app or _App()
    link = _Link(_Client(data, tamper))

    async def go():
        sys.modules['ota'] = ota        # as the board's import leaves it (done() forgets it)
        ota.message(app, link, json.dumps(offer or _offer(data)).encode())
        for _ in range(400):
            if ota._cur is None:
                break
            await asyncio.sleep_ms(10)
        return ota._cur
    left = asyncio.run(go())
    return app, link.client, left


def _fast():
    ota.RETRY_MS = 100
    ota.BUSY_MS = 20


def case_chunks_are_pulled_one_at_a_time_assembled_hashed_and_switched_to():
    def t():
        _fast()
        n = ota.CHUNK
        data = bytes(range(256)) * (n // 128) + b'e' * 300
        app, cl, left = _update(data)
        eq(left, None, 'the update is over')
        eq(app.types(), ['system.ota_started', 'system.ota_switching'], 'started, then the switch')
        eq(cl.asked, [(0, n), (n, n), (2 * n, 300)], 'one chunk at a time, at most CHUNK bytes')
        p = fwslot.read()
        eq((p['img'], p['ver'], p['prev'], p['tries']), ('fw.a', '9.0.0', None, 0), 'the pointer names the new image')
        with open('fw.a', 'rb') as f:
            eq(f.read(), data, 'the image whole')
        eq(app.rebooted, 'ota', 'and the board reboots into it')
        check('fw.new' not in os.listdir(), 'no staging file left')
    in_tmpdir('ota_chunks', t)


def case_a_bad_transfer_is_refused_and_the_running_image_stays():
    def t():
        _fast()
        data = b'abcdefgh' * 300

        def flip(off, c):
            return c[:-1] + b'!' if off == ota.CHUNK else c
        ctr = 100
        for tamper, why in ((flip, 'wrong hash'),
                            (lambda off, c: b'' if off == ota.CHUNK else c, 'truncated: the sender ended'),
                            (lambda off, c: None if off >= ota.CHUNK else c, 'truncated: transfer stalled'),
                            (lambda off, c: c + b'++', 'oversized chunk')):
            ctr += 1
            app, cl, left = _update(data, offer=_offer(data, ctr=ctr), tamper=tamper)
            eq(app.types(), ['system.ota_started', 'system.ota_rejected'], why)
            check(why in app.events[1][1]['err'], '%s: said why (%s)' % (why, app.events[1][1]['err']))
            eq((fwslot.read(), app.rebooted), (None, None), '%s: no switch' % why)
            check('fw.new' not in os.listdir() and 'fw.a' not in os.listdir(), '%s: nothing kept' % why)
            with open('ota_last.json') as f:
                eq(json.load(f)['ok'], False, 'the outcome kept for fleet status')
    in_tmpdir('ota_bad', t)


def case_the_switch_waits_for_an_idle_board_and_the_window():
    app = _App()
    eq(ota.busy(app), None, 'idle')
    app.ctrls['arm'] = _Ctrl({'state': 'closing'})
    check('moving' in ota.busy(app), 'an arm moving')
    app.ctrls['arm'] = _Ctrl({'state': 'open'})
    app.ctrls['call'] = _Ctrl({'call': 'answered'})
    check('call' in ota.busy(app), 'a call in progress')
    app.ctrls['call'] = _Ctrl({'call': 'idle'})
    app.ctrls['front'] = _Ctrl({'fire': True})
    check('fire' in ota.busy(app), 'a door released by fire')
    app.ctrls['front'] = _Ctrl({'fire': False})
    app.alarms.add('front/door.forced')
    check('alarm' in ota.busy(app), 'an alarm active')
    app.alarms.clear()
    day = 1764374400000      # 2025-11-29 00:00 UTC
    w = ota.window('02:00-05:00')
    eq(w, (120, 300), 'the window in minutes of the day (UTC)')
    eq(ota.busy(app, w, day + 150 * 60000), None, 'inside 02:00-05:00')
    check('window' in ota.busy(app, w, day + 301 * 60000), 'after it')
    eq(ota.busy(app, ota.window('23:00-01:00'), day + 30 * 60000), None, 'a window across midnight')
    check('clock' in ota.busy(app, w, 5000), 'no clock: no window can be told')

    def t():
        _fast()
        a = _App()
        a.alarms.add('front/door.held_open')
        data = b'z' * 100
        link = _Link(_Client(data))

        async def go():
            sys.modules['ota'] = ota
            ota.message(a, link, json.dumps(_offer(data)).encode())
            await asyncio.sleep_ms(150)
            deferred = a.rebooted
            a.alarms.clear()
            for _ in range(100):
                if ota._cur is None:
                    break
                await asyncio.sleep_ms(10)
            return deferred
        eq(asyncio.run(go()), None, 'no switch while the alarm is active')
        eq(a.types(), ['system.ota_started', 'system.ota_deferred', 'system.ota_switching'], 'deferred once, said')
        eq(a.rebooted, 'ota', 'switched once idle')
    in_tmpdir('ota_defer', t)


def _main_image():
    """main.py's image choice (_put, _image), without running the boot below it."""
    with open(ota.__file__.rsplit('/', 1)[0] + '/main.py') as f:
        src = f.read()
    g = {'os': os, 'sys': sys}
    exec(src[:src.index("\n_img = _image(None)")], g)
    return g['_image']


def case_a_trial_image_gets_one_boot_then_the_previous_one_runs():
    def t():
        image = _main_image()
        eq(image('factory.romfs'), 'factory.romfs', 'no pointer: the factory image')
        with open('fw.a', 'wb') as f:
            f.write(b'new')
        fwslot.switch('fw.a', '0.8.0', '0.7.0')
        eq(image('factory.romfs'), 'fw.a', 'first boot after the switch: the new image, on trial')
        eq(fwslot.read()['tries'], 1, 'its one boot counted')
        eq(fwslot.trial(), '0.8.0', 'the firmware knows it is on trial')
        eq(image('factory.romfs'), 'factory.romfs', 'booted again unconfirmed (a crash): back to the factory one')
        eq(fwslot.read(), None, 'pointer gone')
        r = fwslot.take_result()
        eq((r['ok'], r['ver'], r['running']), (False, '0.8.0', '0.7.0'), 'the rollback is reported once')
        eq(fwslot.take_result(), None, 'once')
        # confirmed: it stays; the next update goes into the other slot and can come back to it
        fwslot.switch('fw.a', '0.8.0', '0.7.0')
        image('f')
        fwslot.confirm()
        eq(fwslot.read(), {'img': 'fw.a', 'ver': '0.8.0'}, 'confirmed')
        eq(image('f'), 'fw.a', 'and booted from now on')
        eq(fwslot.free_image(), 'fw.b', 'the next update never overwrites the running image')
        fwslot.switch('fw.b', '0.9.0', '0.8.0')
        image('f')
        fwslot.give_up('no broker connection within 300 s')
        eq(image('f'), 'fw.a', 'given up by the health check: the previous update runs')
        eq(fwslot.take_result()['err'], 'no broker connection within 300 s', 'with the reason')
        eq(fwslot.read(), {'img': 'fw.a', 'ver': '0.8.0'}, 'pointer back')
    in_tmpdir('ota_trial', t)


def case_a_vm_update_goes_to_the_other_esp32_partition_and_rolls_back():
    import esp32_double as d

    def t():
        d.install()
        d.Partition._setup(size=16384)
        sys.modules.pop('ota_esp32', None)
        try:
            _fast()
            import gc
            gc.collect()
            data = bytes(range(200)) * 21 + b'vm'      # crosses a 4 KB flash block
            app, cl, left = _update(data, offer=_offer(data, kind='vm'))
            eq(app.types(), ['system.ota_started', 'system.ota_switching'], 'taken by the ESP32 sink %r' % (app.events,))
            part = d.Partition('ota_0')
            buf = bytearray(len(data))
            part.readblocks(0, buf)
            eq(bytes(buf), data, 'written into ota_0 block by block')
            eq(d.Partition(d.Partition.BOOT).info()[4], 'ota_0', 'set to boot next')
            eq(fwslot.read()['part'], 'ota_0', 'the pointer names the partition')
            eq(d.Partition._reset(), 'ota_0', 'the reset runs the new VM (pending verification)')
            eq(fwslot.trial(), '9.0.0', 'on trial')
            eq(d.Partition._reset(), 'factory', 'not confirmed: the bootloader rolls back')
            eq(fwslot.trial(), None, 'the old VM sees its own partition running')
            r = fwslot.take_result()
            eq((r['ok'], r['ver']), (False, '9.0.0'), 'and reports the rollback')
            # again, confirmed this time
            app, cl, left = _update(data, offer=_offer(data, ver='9.0.1', kind='vm', ctr=5000))
            eq(d.Partition._reset(), 'ota_0', 'the new VM %r' % (app.events,))
            eq(fwslot.trial(), '9.0.1', 'on trial')
            fwslot.confirm()
            eq(d.Partition._reset(), 'ota_0', 'confirmed (mark_app_valid_cancel_rollback): it stays')
            eq(fwslot.read(), {'part': 'ota_0', 'ver': '9.0.1'}, 'settled')
            app, cl, left = _update(data, offer=_offer(data, ver='9.1.0', kind='vm', ctr=6000, size=20000))
            check('does not fit' in app.events[0][1]['err'], 'an image larger than the partition')
        finally:
            d.uninstall()
    in_tmpdir('ota_esp32', t)


def _bundle(files):
    out = b''
    for name, data in files:
        out += b'F' + bytes([len(name)]) + name.encode() + len(data).to_bytes(4, 'big') + data
    return out


def case_a_lib_bundle_streams_into_a_folder_beside_lib():
    def t():
        _fast()
        files = [('app.mpy', b'A' * 1500), ('empty.mpy', b''), ('door.mpy', bytes(range(256)) * 3)]
        data = _bundle(files)
        app, cl, left = _update(data, offer=_offer(data, kind='lib'))
        eq(app.types(), ['system.ota_started', 'system.ota_switching'], 'taken (headers split across chunks)')
        for name, body in files:
            with open('lib.a/' + name, 'rb') as f:
                eq(f.read(), body, name)
        eq(fwslot.read()['img'], 'lib.a', 'the pointer names the folder')
        check('lib.new' not in os.listdir(), 'the staging folder became lib.a')
        image = _main_image()
        eq(image(None), 'lib.a', 'main.py boots from it (on trial)')
        fwslot.confirm()
        ctr = 5000
        for bad, why in ((_bundle([('../main.mpy', b'x')]), 'file name'), (_bundle([('a/b.mpy', b'x')]), 'file name'),
                         (_bundle([('boot.py', b'x')]), 'file name'), (b'Z' + data, 'not a file header'),
                         (_bundle([('a.mpy', b'xy')])[:-1], 'truncated inside a file')):
            ctr += 1
            app, cl, left = _update(bad, offer=_offer(bad, kind='lib', ctr=ctr, ver='9.1.%d' % ctr))
            eq(app.types(), ['system.ota_started', 'system.ota_rejected'], why)
            check(why in app.events[1][1]['err'], '%s: %s' % (why, app.events[1][1]['err']))
            check('lib.new' not in os.listdir() and 'lib.b' not in os.listdir(), '%s: nothing left' % why)
            check('main.mpy' not in os.listdir() and 'boot.py' not in os.listdir(), 'nothing written outside')
        eq(fwslot.read(), {'img': 'lib.a', 'ver': '9.0.0'}, 'the running update stays')

    def clean():
        try:
            t()
        finally:
            for d in ('lib.a', 'lib.b', 'lib.new'):
                ota_lib._rmdir(d)       # (in_tmpdir empties files, not folders)
    in_tmpdir('ota_lib', clean)

