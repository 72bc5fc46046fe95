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
