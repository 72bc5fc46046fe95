"""Pump safety cases on the rig, with the basin plant driving the level switches through
the rig: low-water cutoff and restart after restore_s, lockout after repeated trips.
Site: dut-fountain in hil_tests/site.yaml (low_debounce_ms 50, restore_s 1, max_trips 2)."""
import time


def running(f):
    since = f.mark()
    assert f.command('pool', 'start')['ok']
    f.edge('pool.pump', 1, 2.0, since)


def test_low_water_cuts_the_pump_and_it_restarts_after_restore_s(fountain):
    f = fountain
    running(f)
    since = f.mark()
    f.plant.set('level', 10)
    low = f.edge('pool.low_level', 1, 1.0, since)
    off = f.edge('pool.pump', 0, 1.0, since)
    # the debounce counts whole ms ticks: up to 1 ms short of 50 on a µs clock
    f.timing('low water -> pump off (debounce 50 ms)', off.t - low.t, 0.045, 0.1)
    f.event('pump.low_water', True, since=since)
    since = f.mark()
    f.plant.set('level', 60)
    ok = f.edge('pool.low_level', 0, 1.0, since)
    on = f.edge('pool.pump', 1, 3.0, since)
    f.timing('level back -> pump on (debounce + restore_s 1 s)', on.t - ok.t, 1.05, 1.15)
    f.event('pump.low_water', False, since=since)


def test_repeated_trips_lock_the_pump_out_until_reset(fountain):
    f = fountain
    running(f)
    since = f.mark()
    for i in range(2):
        trip = f.mark()
        f.plant.set('level', 10)
        f.edge('pool.pump', 0, 1.0, trip)
        back = f.mark()
        f.plant.set('level', 60)
        f.edge('pool.low_level', 0, 1.0, back)
        if i == 0:
            f.edge('pool.pump', 1, 3.0, back)
    f.event('pump.lockout', True, since=since)
    t0 = time.monotonic()
    assert f.rig.wait('pool.pump', 1, 2.0, f.mark()[0]) is None, 'the pump restarted while locked out'
    assert time.monotonic() - t0 >= 1.9
    ack = f.command('pool', 'start')
    assert ack['ok'] is False and 'lockout' in ack['err']
    since = f.mark()
    assert f.command('pool', 'reset')['ok']
    f.event('pump.lockout', False, since=since)
    f.edge('pool.pump', 1, 2.0, since)
