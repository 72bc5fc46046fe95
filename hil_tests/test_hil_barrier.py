"""Barrier safety cases on the rig, with the arm plant closing the loop through the rig:
anti-crush reversal, photo-eye self-test failure, motor supervision. Site: dut-gate in
hil_tests/site.yaml (reverse_dead_ms 200, eye_test_ms 300, travel_timeout_s 5; the plant's
arm travels in 3 s)."""
import time


def closing(gate):
    since = gate.mark()
    assert gate.command('gate', 'close')['ok']
    gate.edge('gate.motor_down', 1, 2.0, since)
    return since


def test_beam_broken_while_closing_stops_and_reverses(gate):
    closing(gate)
    time.sleep(0.8)
    since = gate.mark()              # after the eye test's own beam edges
    gate.plant.set('obstruction', 1)
    beam = gate.edge('gate.beam', 1, 1.0, since)
    stop = gate.edge('gate.motor_down', 0, 1.0, since)
    gate.timing('anti-crush: beam -> motor_down off', stop.t - beam.t, 0.0, 0.05)
    up = gate.edge('gate.motor_up', 1, 2.0, since)
    gate.timing('anti-crush: beam -> motor_up on (dead time 200 ms)', up.t - beam.t, 0.2, 0.3)
    gate.event('barrier.obstructed', True, since=since)
    gate.edge('gate.motor_up', 0, 4.0, since)          # opened fully
    gate.event('barrier.opened', since=since)
    gate.plant.set('obstruction', 0)
    gate.event('barrier.obstructed', False, since=since)


def test_photo_eye_self_test_failure_is_a_fault_and_the_arm_stays_up(gate):
    gate.plant.set('eye_dead', 1)
    since = gate.mark()
    assert gate.command('gate', 'close')['ok']
    off = gate.edge('gate.eye_tx', 0, 1.0, since)
    back = gate.edge('gate.eye_tx', 1, 1.0, since)
    gate.timing('eye test: emitter off until the verdict (eye_test_ms 300)', back.t - off.t, 0.29, 0.35)
    fault = gate.event('barrier.fault', True, since=since)
    assert fault[2]['reason'] == 'eye_test'
    assert gate.rig.wait('gate.motor_down', 1, 0.5, since[0]) is None, 'the arm moved with a failed eye'
    ack = gate.command('gate', 'close')
    assert ack['ok'] is False and 'fault' in ack['err']


def test_motor_that_never_reaches_its_limit_is_stopped(gate):
    gate.plant.set('jam', 1)
    since = closing(gate)
    on = gate.rig.last('gate.motor_down')
    off = gate.edge('gate.motor_down', 0, 7.0, since)
    gate.timing('motor supervision: motor_down on until stopped (5 s)', off.t - on.t, 4.99, 5.1)
    fault = gate.event('barrier.fault', True, since=since)
    assert fault[2]['reason'] == 'motor_timeout'


def test_hold_to_run_after_a_failed_eye_test_stops_on_release(gate):
    gate.plant.set('eye_dead', 1)
    since = gate.mark()
    assert gate.command('gate', 'close')['ok']
    gate.event('barrier.fault', True, since=since)
    since = gate.mark()
    gate.set('gate.close_held', 1)
    gate.edge('gate.motor_down', 1, 1.0, since)
    gate.edge('gate.warn', 1, 1.0, since)          # the warning while the arm moves
    time.sleep(0.5)
    since = gate.mark()
    released = gate.set('gate.close_held', 0)
    stop = gate.edge('gate.motor_down', 0, 1.0, since)
    gate.timing('hold-to-run: close_held released -> motor_down off', stop.t - released, 0.0, 0.05)
    assert gate.command('gate', 'status')['state']['fault'] == 'eye_test', 'the fault stays raised'
