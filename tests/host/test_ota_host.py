"""Host side of firmware updates (host/install/ota.py): the window in the boards' UTC, the
rollout's batches, the lib bundle as the firmware unpacks it, the fleet table."""
import os

import pytest

from edgectl.core.errors import EdgeError
from edgectl.install import ota


def test_the_window_is_sent_in_utc():
    assert ota.utc_window('02:00-05:00', offset_s=3600) == '01:00-04:00'       # UTC+1
    assert ota.utc_window('00:30-02:00', offset_s=2 * 3600) == '22:30-00:00'    # across midnight
    assert ota.utc_window('02:00-05:00', offset_s=-5 * 3600) == '07:00-10:00'
    for bad in ('2:00-5:00', '25:00-26:00', '02:00', '02:00-05:60', ''):
        with pytest.raises(EdgeError) as e:
            ota.utc_window(bad, 0)
        assert e.value.code == 2


def test_canary_first_then_batches():
    devs = ['d%d' % i for i in range(7)]
    assert ota.batches(devs, 1, 3) == [['d0'], ['d1', 'd2', 'd3'], ['d4', 'd5', 'd6']]
    assert ota.batches(devs, 0, 10) == [devs]
    assert ota.batches(devs[:2], 5, 3) == [['d0', 'd1']]


def test_the_lib_bundle_unpacks_on_the_board(tmp_path, monkeypatch):
    import fwslot
    import ota_lib
    files = {'app.mpy': b'\x4d\x06' + b'a' * 700, 'door.mpy': b'', 'z.mpy': os.urandom(3000)}
    data = ota.bundle(files)
    monkeypatch.chdir(tmp_path)
    sink = ota_lib.LibSink(len(data))
    for i in range(0, len(data), 7):        # headers and files split at every boundary
        sink.write(memoryview(data)[i:i + 7])
    sink.close()
    sink.commit({'ver': '9.9.9'}, '0.7.0')
    assert {p.name: p.read_bytes() for p in (tmp_path / 'lib.a').iterdir()} == files
    assert fwslot.read()['img'] == 'lib.a'


def test_fleet_rows():
    rows = ota.fleet_rows({
        'a-1': {'online': True, 'fw': '0.8.0', 'rev': 'r1', 'heap_free': 40960, 'uptime_s': 3725,
                'ota': {'ver': '0.8.0', 'ok': True}},
        'b-2': {'online': False, 'fw': '0.7.0', 'ota': {'ver': '0.8.0', 'ok': False, 'err': 'did not stay up',
                                                        'rolled_back': True}},
        'c-3': {}})
    assert rows[0].split()[:3] == ['DEVICE', 'ONLINE', 'FW']
    assert rows[1].split()[:6] == ['a-1', 'yes', '0.8.0', 'r1', '40', 'KB'] and rows[1].endswith('0.8.0 ok')
    assert '1h02m' in rows[1]
    assert rows[2].endswith('0.8.0 rolled back: did not stay up') and ' no ' in rows[2]
    assert rows[3].split()[:3] == ['c-3', '?', '-']


def test_the_default_deadline_follows_the_window():
    assert ota.default_timeout(3600, None, 300) == 3600
    ten = 10 * 3600.0       # 10:00 UTC
    assert ota.default_timeout(3600, '12:00-13:00', 300, now=ten) == 3 * 3600 + 360     # waits for it, then its hour
    assert ota.default_timeout(3600, '09:00-11:00', 300, now=ten) == 3600 + 360         # inside: until it closes
    assert ota.default_timeout(3600, '22:00-02:00', 0, now=ten) == 16 * 3600 + 60       # across midnight


def test_the_boards_still_waiting_are_named_with_why():
    now = 1000.0
    busy, win, mute, trial, sending = (ota.Target(d, 300) for d in ('a', 'b', 'c', 'd', 'e'))
    busy.state, busy.why = 'deferred', 'alarm active: front.forced'
    win.state, win.why = 'deferred', 'outside the update window 02:00-05:00 UTC'
    mute.state, mute.last, mute.asked = 'offered', now - 12, 0
    trial.state, trial.switched = 'on trial', now - 40
    sending.state, sending.last, sending.asked, sending.sent, sending.size = 'sending', now - 1, 3, 2048, 8192
    assert ota.waiting_for(busy, now) == 'busy: alarm active: front.forced'
    assert ota.waiting_for(win, now) == 'window: outside the update window 02:00-05:00 UTC'
    assert ota.waiting_for(mute, now) == 'no answer for 12 s (to the offer)'
    assert ota.waiting_for(trial, now) == 'on trial for 40 s (no verdict yet)'
    assert ota.waiting_for(sending, now) == 'sending 2/8 KB'
    assert ota.waiting_note([busy, win, mute], 30, now) == (
        'waiting for 3 boards (30 s left of --timeout): a busy: alarm active: front.forced; '
        'b window: outside the update window 02:00-05:00 UTC; c no answer for 12 s (to the offer)')

    class Srv(ota.Server):
        def __init__(self):
            self.lock = __import__('threading').Lock()
    for t in (busy, win):
        Srv().give_up(t, 60, now)
        assert t.final and t.state == 'timed out'
    assert busy.why == 'still waiting after 60 s: busy: alarm active: front.forced'
    v = ota.verdict([busy, win], ['x', 'y'], 60)
    assert '\n' not in v and v.startswith('timed out after 60 s (--timeout): a, b still waiting (a busy: alarm')
    assert 'b window: outside the update window' in v and v.endswith('the rollout stopped, not offered: x, y')
    assert 'a, b holds the whole image and still switches by itself' in v
    mute.state, mute.why = 'timed out', 'still waiting after 60 s: no answer for 12 s (to the offer)'
    assert 'holds the whole image' not in ota.verdict([mute], [], 60)


def test_on_a_terminal_the_waiting_note_is_drawn_under_the_board_lines():
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True
    out = Tty()
    p = ota.Printer(out)
    t = ota.Target('door-1', 300)
    t.state, t.why = 'deferred', 'outside the update window 02:00-05:00 UTC'
    p.show([t], 1000, '9.9')
    p.note('waiting for 1 board: door-1 window: outside')
    assert out.getvalue().count('\n') == 1, 'not written on its own'
    p.show([t], 1000, '9.9')
    frame = out.getvalue().split('\x1b[1A')[-1]        # moved up over the one board line drawn before
    assert frame.count('\n') == 2 and frame.rstrip('\n').endswith('waiting for 1 board: door-1 window: outside')


def test_the_rollout_stops_at_its_deadline_without_offering_the_next_batch(monkeypatch):
    class Srv:
        ver, data, site, ep = '9.9', b'x' * 100, 's', None
        info = {d: {'online': True, 'fw': '1.0'} for d in ('a', 'b', 'c')}
        changed = __import__('threading').Event()
        lock = __import__('threading').Lock()
        offered = []

        def start(self, t):
            self.offered.append(t.device)
            t.state, t.why, t.t0, t.last = 'deferred', 'site fire: doors released', 0, 0

        tick = ota.Server.tick
        give_up = ota.Server.give_up

    class Notes:
        def __init__(self):
            self.notes = []

        def show(self, *a):
            pass

        def end_batch(self):
            pass

        def note(self, text):
            self.notes.append(text)
    monkeypatch.setattr(ota, 'fleet', lambda *a: {})
    srv, p = Srv(), Notes()
    done, bad = ota.rollout(srv, ['a', 'b', 'c'], {}, 1, 10, p, poll=0.01, timeout=0.2)
    assert srv.offered == ['a'] and [t.device for t in bad] == ['a'] and bad[0].state == 'timed out'
    assert p.notes and p.notes[0].startswith('waiting for 1 board (') and 'a busy: site fire' in p.notes[0]


def test_a_vm_offer_as_the_cli_makes_it_passes_an_esp32_boards_check(tmp_path, monkeypatch):
    """`ota push --vm FILE.bin`: the file must be an ESP32 app image; the offer it makes
    (kind vm, signed with the board's key) is the one firmware/ota_offer.py takes on a board
    whose kinds include vm (the ESP32 sink itself: tests/firmware/cases_ota.py)."""
    import ota_offer
    bad = tmp_path / 'micropython.elf'
    bad.write_bytes(b'\x7fELF' + bytes(60))
    with pytest.raises(EdgeError) as e:
        ota.vm_image(bad)
    assert e.value.code == 2 and 'not an ESP32 firmware image' in str(e.value)
    good = tmp_path / 'ESP32_GENERIC-v1.25.0.bin'
    good.write_bytes(b'\xe9\x05\x02\x20' + os.urandom(9000))
    data = ota.vm_image(good)
    key = os.urandom(32)
    m = ota.offer('gate-1', key, data, '0.9.0', 'vm')
    monkeypatch.chdir(tmp_path)
    assert ota_offer.check(m, key, 'gate-1', '0.8.0', ('vm',), 1 << 20)['kind'] == 'vm'
    with pytest.raises(Exception) as e:
        ota_offer.check(ota.offer('gate-1', key, data, '0.9.1', 'vm'), key, 'gate-1', '0.8.0', ('romfs',), 1 << 20)
    assert 'image kind' in str(e.value)
