"""Door safety cases on the rig: every timing measured on the rig's clock from the input
edge to the DUT's output edge, and the alarm on MQTT. Site: hil_tests/site.yaml
(held_open_s 2, prealarm_s 1, unlock_s 1, debounce_ms 20)."""
import time

REACT = 0.15        # input edge -> output edge: debounce 20 ms + tick 10 ms + margin


def test_rex_unlocks_then_relocks_after_unlock_s(door):
    since = door.mark()
    t0 = door.set('front.rex', 1)
    rel = door.edge('front.lock', 0, 1.0, since)
    door.timing('REX -> lock released', rel.t - t0, 0.0, REACT)
    door.set('front.rex', 0)
    back = door.edge('front.lock', 1, 3.0, since)
    door.timing('lock released -> relocked (unlock_s=1)', back.t - rel.t, 0.95, 1.15)
    door.event('door.unlocked', since=since)
    door.event('door.locked', since=since)


def test_forced_door_sounds_buzzer_and_raises_alarm(door):
    since = door.mark()
    h0 = time.time()
    t0 = door.set('front.contact', 1)
    bz = door.edge('front.buzzer', 1, 1.0, since)
    door.timing('forced: contact -> buzzer', bz.t - t0, 0.0, REACT)
    alarm = door.event('door.forced', True, since=since)
    door.timing('forced: contact -> alarm at the control room', alarm[0] - h0, 0.0, 0.5)
    door.set('front.contact', 0)
    door.edge('front.buzzer', 0, 1.0, since)
    door.event('door.forced', False, since=since)


def test_held_open_prealarm_and_alarm_timing(door):
    since = door.mark()
    t_rex = door.set('front.rex', 1)
    door.edge('front.lock', 0, 1.0, since)
    door.set('front.rex', 0)
    h_open = time.time()
    t_open = door.set('front.contact', 1)
    pre = door.edge('front.buzzer', 1, 3.0, since)
    door.timing('held open: pre-alarm buzzer (2 s - 1 s)', pre.t - t_open, 0.95, 1.15)
    alarm = door.event('door.held_open', True, within_s=4.0, since=since)
    door.timing('held open: alarm at the control room (2 s)', alarm[0] - h_open, 2.0, 2.4)
    assert door.rig.get('front.buzzer') == 1
    door.set('front.contact', 0)
    door.edge('front.buzzer', 0, 1.0, since)
    door.event('door.held_open', False, since=since)
    assert t_rex < t_open


def test_fire_input_releases_the_lock(door):
    since = door.mark()
    t0 = door.set('front.fire', 1)
    rel = door.edge('front.lock', 0, 1.0, since)
    door.timing('fire -> lock released', rel.t - t0, 0.0, REACT)
    door.event('door.fire_release', True, since=since)
    fire = door.env.observer.wait(lambda t, p: '/_site/fire/' in t and isinstance(p, dict) and p.get('active'),
                                  2.0, since[1])
    assert fire and fire[2]['by'] == 'dut-door/front', 'the fire input raises the site fire state'
    since2 = door.mark()
    door.set('front.fire', 0)
    assert door.rig.wait('front.lock', 1, 1.0, since2[0]) is None, 'relocked while the site fire state holds'
    t1 = time.time()
    door.site_fire(False, 'guard')                 # the control room's acknowledged reset
    back = door.edge('front.lock', 1, 2.0, since2)
    door.event('door.fire_release', False, since=since2)
    assert back.host_t - t1 < 1.0, 'relocked %.2f s after the reset' % (back.host_t - t1)
