"""`edgectl bench flood`, run small: the fullest board takes a command flood and a broker
outage on the VM given (--vm), and its figures add up."""
from edgectl.core import paths
from edgectl.qa.floodbench import command_mix, flood


def test_the_command_mix_means_three_in_ten_refused():
    mix = command_mix(40, 'full-1', b'\x11' * 32)
    assert len(mix) == 40 and sum(1 for _, _, ok in mix if not ok) == 12
    ctrs = [b['ctr'] for _, b, _ in mix if 'sig' in b]
    assert ctrs and ctrs == sorted(set(ctrs)), 'signed counters rise'


def test_a_small_flood_and_outage_add_up(tmp_path):
    calls = tmp_path / 'calls'
    vm = tmp_path / 'mp-wrapper'          # the default VM, through a wrapper that notes each run
    vm.write_text('#!/bin/sh\necho "$@" >> %s\nexec %s "$@"\n' % (calls, paths.micropython()))
    vm.chmod(0o755)
    # the 64-bit VM's objects take 1.5-1.8x an ESP32's: its 110 KB as 165 KB (as the installer tests)
    r = flood(commands=40, outage_s=1, vm=str(vm), event_period_s=0.1, backoff_max_s=1, heap_kb=165)
    assert 'main.py' in calls.read_text(), 'the board ran on the VM given'
    assert isinstance(r['heap_min'], int) and 0 < r['heap_min'] <= r['heap_free_lowest_tele']
    assert r['heap_min'] <= r['heap_min_before'], 'the lowest since boot only falls'
    f = r['flood']
    assert f['acknowledged'] + f['refused'] + f['unanswered'] == 40
    assert (f['unanswered'], f['not_as_meant'], f['refused']) == (0, 0, 12), f
    e = r['events']
    assert r['outage']['settled'] and r['outage']['raised_during_outage'] > 0, r['outage']
    assert e['delivered'] + e['lost'] == e['raised'] and e['lost'] == 0 and e['dropped_on_board'] == 0, e
    assert r['board_restarts'] == 0 and 'board_log_tail' not in r and r['controller_faults'] == []
