"""The control room's painter, checked on a terminal emulator (pyte): what the operator
sees after each frame equals the frame, whatever was written to get there (only changed
rows, a scrolled log region, a resize); field text cannot steer the terminal."""
import os
import time

import pyte
import pytest

from edgectl.room.roomview import RoomView, segments
from edgectl.room.screen import Screen, cells, clean, pad, sgr, table
from edgectl.core.mqttc import Endpoint

W, H = 60, 12


class Term:
    def __init__(self, w=W, h=H):
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        self.vt = pyte.Screen(w, h)
        self.stream = pyte.ByteStream(self.vt)
        self.got = b''

    def pump(self):
        data = b''
        while True:
            try:
                d = os.read(self.r, 65536)
            except BlockingIOError:
                break
            if not d:
                break
            data += d
        self.got = data
        self.stream.feed(data)
        return data

    def lines(self):
        return [line.rstrip() for line in self.vt.display]

    def close(self):
        os.close(self.r)
        os.close(self.w)


def rows_of(texts):
    return [[(t, None)] for t in texts]


def test_only_changed_rows_are_written_and_the_screen_matches():
    t = Term()
    sc = Screen(t.w, (W, H))
    with sc:
        frame = ['row %d' % i for i in range(H)]
        sc.draw(rows_of(frame))
        t.pump()
        assert t.lines() == frame
        frame[3] = 'ALARM lobby-1 door.forced'
        assert sc.draw(rows_of(frame)) == 1
        data = t.pump()
        assert b'row 2' not in data and b'ALARM' in data
        assert t.lines() == frame
        assert sc.draw(rows_of(frame)) == 0 and t.pump() == b''
        shorter = frame[:5]
        sc.draw(rows_of(shorter))
        t.pump()
        assert t.lines() == shorter + [''] * (H - 5)
    t.close()


def test_a_scrolling_log_is_scrolled_by_the_terminal_and_only_new_lines_written():
    t = Term()
    sc = Screen(t.w, (W, H))
    log = ['event %02d' % i for i in range(20)]
    with sc:
        for k in range(8, 12):
            frame = ['header', 'alarms: 0'] + log[k - 8:k] + ['', 'keys']
            sc.draw(rows_of(frame), scroll=(2, 10))
            data = t.pump()
            assert t.lines() == frame
        assert b'event 10' in data and b'event 05' not in data, 'the old lines were rewritten'
        assert b'\x1b[3;10r' in data
    t.close()


def test_resize_repaints_everything():
    t = Term(W, H)
    size = [W, H]
    sc = Screen(t.w)
    sc.dimensions = lambda: tuple(size)
    with sc:
        frame = ['line %d' % i for i in range(H)]
        sc.draw(rows_of(frame))
        t.pump()
        size[0] = 40
        t.vt.resize(H, 40)
        sc.draw(rows_of(frame))
        data = t.pump()
        assert data.count(b'line') == H and t.lines() == frame
    t.close()


def test_styles_cells_and_cleaning():
    assert sgr('bold white on red') == '\x1b[1;37;41m'
    assert sgr('') == '' and sgr(None) == ''
    with pytest.raises(ValueError):
        sgr('blinking')
    assert clean('evil\x1b[2Jname\x07') == 'evil?[2Jname?'
    assert cells('门禁') == 4 and pad('门禁abc', 5) == '门禁a' and cells(pad('x', 4)) == 4
    t = Term()
    sc = Screen(t.w, (W, H))
    with sc:
        sc.draw(table('devices', ['device', 'status'], [['lobby\x1b[31m-1', ('OFFLINE', 'bold red')]], W))
        t.pump()
        assert t.lines()[2].startswith('lobby?[31m-1') and 'OFFLINE' in t.lines()[2]
        cell = t.vt.buffer[2][t.lines()[2].index('OFFLINE')]
        assert cell.bold and cell.fg == 'red'
    t.close()


def test_monitor_markup_becomes_segments():
    segs = segments('12:00  [bold white on red] ALARM [/] [bold red]front door.forced[/] #3')
    assert ''.join(s[0] for s in segs) == '12:00   ALARM  front door.forced #3'
    assert (' ALARM ', 'bold white on red') in segs and ('front door.forced', 'bold red') in segs


def test_the_view_frame_shows_alarms_devices_calls_and_fits_the_terminal():
    v = RoomView('s', Endpoint('127.0.0.1', 1), 'ann', None, {}, None, out=1, size=(100, 30), keyboard=False)
    m = v.mon
    m.handle('edge/v1/s/lobby-1/status', b'{"online": true, "fw": "0.5.0"}')
    m.handle('edge/v1/s/gate-1/status', b'{"online": false}')
    m.handle('edge/v1/s/lobby-1/evt/front', b'{"seq": 3, "ts": 1, "type": "door.forced", "sev": "alarm", "ctrl": "front", '
                                            b'"active": true}')
    m.handle('edge/v1/s/gate-1/evt/call', b'{"seq": 9, "ts": 1, "type": "intercom.call", "sev": "info", "ctrl": "call", '
                                           b'"call": 1001}')
    rows, keys = v.frame(100, 30)
    text = [''.join(s[0] for s in r) for r in rows]
    assert len(rows) == 30 and text[-1].startswith('↑/↓ select alarm')
    assert keys == [('lobby-1', 'front', 'door.forced'), ('gate-1', 'room', 'room.offline')]
    assert any('door.forced' in r and r.rstrip().endswith('NO') for r in text)
    assert [r.split()[:2] for r in text if r.startswith(('lobby-1 ', 'gate-1 '))] == [['gate-1', 'OFFLINE'],
                                                                                      ['lobby-1', 'online']]
    assert any('RINGING' in r and '1001' in r for r in text)
    v.key('k')
    text = [''.join(s[0] for s in r) for r in v.frame(100, 30)[0]]
    assert any('door.forced' in r and 'by ann' in r for r in text)
    rows, _ = v.frame(100, 12)                 # a small terminal: the keys line is still there
    text = [''.join(s[0] for s in r) for r in rows]
    assert len(rows) == 12 and text[-2].startswith('↑/↓') and text[-1].startswith('acknowledged lobby-1')
