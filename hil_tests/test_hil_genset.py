"""Standby generator cases on the rig, with the engine plant closing the loop through the rig:
a blackout starts the engine after mains_fail_s, the mains back stop it after cooldown_s, a
crank lasts crank_s. Site: dut-genset in hil_tests/site.yaml (mains_fail_s 1, crank_s 1,
cooldown_s 1; the plant's engine starts 0.3 s into a crank)."""


def test_blackout_starts_the_engine_and_the_mains_back_stop_it(genset):
    since = genset.mark()
    genset.plant.set('mains', 0)
    lost = genset.edge('gen.mains_ok', 0, 1.0, since)
    start = genset.edge('gen.gen_start', 1, 3.0, since)
    genset.timing('blackout: mains_ok off -> gen_start on (mains_fail_s 1 s)', start.t - lost.t, 1.0, 1.1)
    genset.event('genset.started', since=since)
    since = genset.mark()
    genset.plant.set('mains', 1)
    back = genset.edge('gen.mains_ok', 1, 1.0, since)
    stop = genset.edge('gen.gen_start', 0, 3.0, since)
    genset.timing('mains back: mains_ok on -> gen_start off (cooldown_s 1 s)', stop.t - back.t, 1.0, 1.1)
    assert genset.event('genset.stopped', since=since)[2]['reason'] == 'mains_back'


def test_a_crank_without_running_feedback_lasts_crank_s(genset):
    genset.plant.set('fails', 1)
    since = genset.mark()
    genset.plant.set('mains', 0)
    on = genset.edge('gen.gen_start', 1, 3.0, since)
    off = genset.edge('gen.gen_start', 0, 3.0, since)
    genset.timing('crank: gen_start on -> off with no running feedback (crank_s 1 s)', off.t - on.t, 0.99, 1.06)
    genset.plant.set('mains', 1)
