"""`edgectl report` (issue 21) against a journal the test writes through the real Store:
alarms per type, device and priority, time to acknowledge (median, p90 by nearest rank),
escalations, chattering sources worked out from the raises, the HTML page with its
matplotlib charts inline, and the CLI's exit codes."""
import json
import math
import random
import re

from edgectl import cli
from edgectl.room import report
from edgectl.room.alarms import Policy
from edgectl.room.store import Store

T0 = 1764288000.0      # 2025-11-28, the window's start


def journal(tmp_path):
    """A journal with known alarms: returns (path, expected figures worked out here)."""
    rnd = random.Random(21)
    store = Store(tmp_path / 'j.sqlite3')
    seq = {}
    raised = []          # (device, type, at, ack wait or None)

    def alarm(dev, ctrl, etype, at, wait=None, active=True):
        seq[dev] = seq.get(dev, 0) + 1
        ev = {'seq': seq[dev], 'ts': 1, 'type': etype, 'sev': 'alarm', 'ctrl': ctrl, 'active': active}
        store.event(dev, ev, at)
        if active:
            raised.append((dev, etype, at, wait))
            if wait is not None:
                store.alarm_ack(dev, ctrl, etype, seq[dev], 'ann', at + wait)
    for i in range(20):
        alarm('lobby-1', 'front', 'door.forced', T0 + 100 * i, wait=rnd.uniform(5, 200))
    for i in range(7):
        alarm('gate-1', 'arm', 'barrier.fault', T0 + 50 + 300 * i, wait=None if i % 2 else rnd.uniform(1, 30))
    for i in range(8):                   # a flood: raised every 4 s -> chattering past 5 a minute
        alarm('fountain-1', 'pump', 'pump.low_water', T0 + 5000 + 4 * i)
        alarm('fountain-1', 'pump', 'pump.low_water', T0 + 5001 + 4 * i, active=False)
    alarm('lobby-1', 'front', 'door.forced', T0 - 10, wait=3)       # before the window: not counted
    alarm('lobby-1', 'front', 'door.forced', T0 + 90000, wait=3)    # after it
    store.room_alarm('gate-1', 'room.offline', True)                # at time.time(): outside the window
    store.room_alarm('gate-1', 'room.escalated', True, {'alarm': 'arm/barrier.fault'})
    assert store.flush()
    store.close()
    inside = [r for r in raised if T0 <= r[2] < T0 + 86400]
    return tmp_path / 'j.sqlite3', inside


def test_the_report_counts_and_times_what_the_journal_holds(tmp_path):
    path, inside = journal(tmp_path)
    r = report.build(path, T0, T0 + 86400, Policy())
    assert r['alarms'] == len(inside) == 35
    assert r['by_type'] == [['door.forced', 20], ['pump.low_water', 8], ['barrier.fault', 7]]
    assert dict(r['by_device']) == {'lobby-1': 20, 'fountain-1': 8, 'gate-1': 7}
    assert r['by_priority'] == {'critical': 0, 'high': 27, 'medium': 8, 'low': 0}
    waits = sorted(w for *_, w in inside if w is not None)
    assert r['ack']['acknowledged'] == len(waits) == 24 and r['ack']['unacknowledged'] == 11
    assert r['ack']['median_s'] == round(waits[math.ceil(0.5 * len(waits)) - 1], 1)
    assert r['ack']['p90_s'] == round(waits[math.ceil(0.9 * len(waits)) - 1], 1)
    assert r['escalations'] == 0                    # journaled now, outside the window
    top = r['chattering'][0]
    flood = [r for r in inside if r[1] == 'pump.low_water']      # every 4 s: all of them in one minute
    assert (top['device'], top['alarm'], top['episodes'], top['raises'], top['most']) == (
        'fountain-1', 'pump/pump.low_water', 1, len(flood), len(flood))
    assert len(r['chattering']) == 1
    txt = report.text(r)
    assert 'door.forced' in txt and 'fountain-1' in txt and '35 alarms' in txt


def test_percentile_is_nearest_rank():
    assert report.percentile([], 50) is None
    assert report.percentile([7], 90) == 7
    assert report.percentile(list(range(1, 11)), 90) == 9 and report.percentile(list(range(1, 11)), 50) == 5


def test_the_html_page_has_its_charts_inline_from_matplotlib(tmp_path):
    path, _ = journal(tmp_path)
    out = tmp_path / 'r.html'
    rc = cli.main(['report', '--db', str(path), '--from', str(T0), '--to', str(T0 + 86400), '--html', str(out)])
    assert rc == 0
    page = out.read_text()
    assert page.count('<svg') == 3 and 'Matplotlib' in page          # drawn by matplotlib, not by hand
    assert 'door.forced' in page.split('<h2>By device</h2>')[0]       # the labels are text in the SVG
    assert not re.search(r'(src|href)\s*=\s*"(?!#)|url\((?!#)|@import|<script', page)   # nothing to fetch when opened
    assert 'dc:date' not in page                                      # the same journal, the same page


def test_report_cli_json_and_errors(tmp_path, capsys):
    path, _ = journal(tmp_path)
    assert cli.main(['report', '--db', str(path), '--from', str(T0), '--to', str(T0 + 86400), '--json']) == 0
    assert json.loads(capsys.readouterr().out)['alarms'] == 35
    assert cli.main(['report', '--db', str(tmp_path / 'none.sqlite3')]) == 2
    assert 'no journal at' in capsys.readouterr().err
    assert cli.main(['report', '--db', str(path), '--from', 'yesterday-ish']) == 2
    assert cli.main(['report', '--db', str(path), '--from', '-1h', '--to', '-2h']) == 2
    assert '--to must be later' in capsys.readouterr().err
    bad = tmp_path / 'bad.sqlite3'
    bad.write_bytes(b'SQLite format 3\x00' + b'\xff' * 4000)
    assert cli.main(['report', '--db', str(bad)]) == 2
