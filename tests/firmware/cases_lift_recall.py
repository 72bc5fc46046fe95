# Lift recall on the site fire state (firmware/lift_recall.py), on CPython and the MicroPython
# unix port: every transition of LIFT_T, the alarm when the lifts do not report recalled in
# recall_s, the fail_recall safe value, and the real fire linkage driving it.
import json
import lift_recall as L
from harness import Bench, check, eq, in_tmpdir

CFG = {'recall_s': 30, 'debounce_ms': 50, 'pins': {'recalled': 4, 'recall': 25}}


def make(over=None):
    cfg = dict(CFG)
    if over:
        cfg.update(over)
    b = Bench(L.LiftRecall('lift', cfg))
    b.run(100)
    return b


def st(b):
    return L.NAMES[b.c.st]


def fire(b, active):
    b.c.site_fire(active, b.t)
    b.drain()


def case_quiet_without_a_fire():
    b = make()
    eq((st(b), b.out('recall')), ('normal', 0), 'relay off')
    b.set('recalled', 1)
    b.run(100)
    eq((st(b), b.events), ('normal', []), 'feedback without a fire means nothing')


def case_fire_recalls_the_lifts_and_holds_them_until_the_reset():
    b = make()
    fire(b, True)
    eq((st(b), b.out('recall')), ('recalling', 1), 'relay on at once')
    eq(b.types(), ['lift_recall.recalling'], 'recalling')
    b.run(12000)
    b.set('recalled', 1)
    b.run(100)
    eq(st(b), 'recalled', 'feedback arrived')
    eq(b.find('lift_recall.recalled')[3], {'s': 12}, 'seconds it took')
    b.set('recalled', 0)            # fire service moves a lift: still held
    b.run(60000)
    eq((st(b), b.out('recall')), ('recalled', 1), 'held however long the fire lasts')
    check(b.find('lift_recall.not_recalled') is None, 'no alarm')
    fire(b, True)
    eq(b.types().count('lift_recall.recalling'), 1, 'a second raise changes nothing')
    fire(b, False)
    eq((st(b), b.out('recall')), ('normal', 0), 'released by the fire reset only')
    eq(b.types()[-1], 'lift_recall.released', 'released')


def case_no_feedback_within_recall_s_raises_the_alarm_until_it_comes():
    b = make()
    fire(b, True)
    b.run(29900)
    check(b.find('lift_recall.not_recalled') is None, 'not before recall_s')
    b.run(200)
    eq((st(b), b.find('lift_recall.not_recalled', True)[3]), ('overdue', {'active': True, 'recall_s': 30}), 'alarm')
    eq(b.out('recall'), 1, 'the relay stays on')
    b.set('recalled', 1)
    b.run(100)
    eq(b.find('lift_recall.not_recalled', False)[3]['reason'], 'recalled', 'cleared by the feedback')
    eq((st(b), b.find('lift_recall.recalled')[3]['s']), ('recalled', 30), 'recalled, 30 s after the recall')


def case_a_fire_reset_while_overdue_clears_the_alarm():
    b = make()
    fire(b, True)
    b.run(31000)
    fire(b, False)
    eq(b.find('lift_recall.not_recalled', False)[3]['reason'], 'fire_reset', 'cleared by the reset')
    eq((st(b), b.out('recall')), ('normal', 0), 'normal')
    b = make()
    fire(b, True)
    b.run(1000)
    fire(b, False)
    eq((st(b), b.types()), ('normal', ['lift_recall.recalling', 'lift_recall.released']), 'a reset while recalling')


def case_lifts_already_recalled_when_the_fire_comes():
    b = make()
    b.set('recalled', 1)
    b.run(100)
    fire(b, True)
    eq((st(b), b.find('lift_recall.recalled')[3]['s']), ('recalled', 0), 'recalled at once')


def case_a_fault_drives_fail_recall():
    eq(L.LiftRecall.safe_values({}), {'recall': 1}, 'default: a fault recalls')
    eq(L.LiftRecall.safe_values({'fail_recall': False}), {'recall': 0}, 'or drops the relay')
    b = make({'fail_recall': True})
    b.c.safe('test')
    eq(b.out('recall'), 1, 'safe: recalled')


def case_the_fire_linkage_drives_the_recall_and_a_reboot_keeps_it():
    from cases_fire import StubApp, RAISE, RESET, raise_, reset, KEY
    from fire import FireLinkage

    def run():
        lift = L.LiftRecall('lift', dict(CFG))
        app = StubApp([lift])
        f = FireLinkage(app, KEY)
        f.heard(RAISE, raise_(0))
        eq(lift.outputs['recall'], 1, 'the site fire recalls')
        lift2 = L.LiftRecall('lift', dict(CFG))      # a reboot: the state from fire.json
        FireLinkage(StubApp([]), KEY).join(lift2)
        eq((L.NAMES[lift2.st], lift2.outputs['recall']), ('recalling', 1), 'held through a reboot')
        f.heard(RESET, reset(100))
        eq((L.NAMES[lift.st], lift.outputs['recall']), ('normal', 0), 'the signed reset releases it')
        check(json.loads(json.dumps(lift.snapshot()))['type'] == 'lift_recall', 'snapshot')
    in_tmpdir('lift-link', run)
