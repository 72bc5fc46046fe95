# Config trial and promotion, the boot log and crash-loop detection.
# Runs on CPython and on the MicroPython unix port, each case in its own folder.
import json
import os
import config
import bootlog
from harness import check, eq, in_tmpdir

GOOD = {'rev': 'r1', 'site': 's', 'device': 'd', 'broker': {'host': '127.0.0.1', 'port': 1883},
        'controllers': [{'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'lock': 25}}]}


def _write(path, obj):
    with open(path, 'w') as f:
        json.dump(obj, f)


def _with_rev(rev):
    c = json.loads(json.dumps(GOOD))
    c['rev'] = rev
    return c


def _exists(p):
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def case_boot_uses_the_good_config():
    def t():
        _write('config.json', GOOD)
        cfg, trial = config.boot()
        eq((cfg['rev'], trial), ('r1', None), 'boot')
    in_tmpdir('b1', t)


def case_staged_config_is_tried_once_then_abandoned():
    def t():
        _write('config.json', GOOD)
        config.stage(_with_rev('r2'))
        cfg, trial = config.boot()
        eq((cfg['rev'], trial), ('r2', 'r2'), 'first boot tries the candidate')
        cfg, trial = config.boot()            # that boot died: the next one goes back
        eq((cfg['rev'], trial), ('r1', None), 'second boot falls back')
        r = config.take_result()
        eq((r['rev'], r['ok']), ('r2', False), 'result')
        check('did not stay up' in r['err'], r['err'])
        eq(config.take_result(), None, 'result reported once')
        check(not _exists('config.new'), 'candidate removed')
    in_tmpdir('b2', t)


def case_promotion_is_one_rename():
    def t():
        _write('config.json', GOOD)
        config.stage(_with_rev('r3'))
        config.boot()
        config.promote('r3')
        cfg, trial = config.boot()
        eq((cfg['rev'], trial), ('r3', None), 'after promotion')
        check(not _exists('trial.json') and not _exists('config.new'), 'no leftovers')
    in_tmpdir('b3', t)


def case_power_cut_between_rename_and_marker_counts_as_applied():
    def t():
        _write('config.json', _with_rev('r4'))     # the rename happened
        _write('trial.json', {'rev': 'r4', 'tries': 1})
        cfg, trial = config.boot()
        eq((cfg['rev'], trial), ('r4', None), 'boot')
        eq(config.take_result(), {'rev': 'r4', 'ok': True}, 'result')
    in_tmpdir('b4', t)


def case_unreadable_candidate_is_abandoned():
    def t():
        _write('config.json', GOOD)
        with open('config.new', 'w') as f:
            f.write('{"rev": "r5", trunc')
        _write('trial.json', {'rev': 'r5', 'tries': 0})
        cfg, trial = config.boot()
        eq((cfg['rev'], trial), ('r1', None), 'boot')
        eq(config.take_result()['ok'], False, 'result')
    in_tmpdir('b5', t)


def case_check_refuses_what_the_board_cannot_run():
    bad = []
    c = _with_rev('x')
    c['controllers'][0]['pins']['lock'] = 'twenty'
    bad.append(c)
    c = _with_rev('x')
    c['controllers'].append(dict(c['controllers'][0]))
    bad.append(c)
    c = _with_rev('x')
    c['controllers'][0]['name'] = 'system'
    bad.append(c)
    c = _with_rev('x')
    c['controllers'][0]['type'] = 'toaster'
    bad.append(c)
    c = _with_rev('x')
    del c['broker']
    bad.append(c)
    bad.append([1, 2])
    for b in bad:
        try:
            config.check(b)
        except config.ConfigError:
            continue
        raise AssertionError('accepted %r' % (b,))
    config.check(GOOD)


def case_crash_loop_detection():
    def t():
        log = bootlog.BootLog()
        eq(log.begin(3), False, 'boot 1')
        eq(bootlog.BootLog().begin(3), False, 'boot 2 (1 died young)')
        eq(bootlog.BootLog().begin(3), False, 'boot 3 (2 died young)')
        log = bootlog.BootLog()
        eq(log.begin(3), True, 'boot 4 (3 died young): safe mode')
        eq(log.boots, 4, 'boot counter')
        log.healthy()
        eq(bootlog.BootLog().begin(3), False, 'after a healthy boot')
        eq(bootlog.BootLog().begin(0), False, 'safe_boots 0 never')
    in_tmpdir('b6', t)


def case_reset_cause_is_read_once():
    def t():
        eq(bootlog.take_reset('power'), 'power', 'no note')
        bootlog.note_reset('watchdog')
        eq(bootlog.take_reset('power'), 'watchdog', 'noted')
        eq(bootlog.take_reset('power'), 'power', 'read once')
    in_tmpdir('b7', t)


def case_memory_error_is_kept_for_the_next_boot():
    def t():
        bootlog.note_crash(ValueError('not heap'), 'boot')
        eq(bootlog.take_reset(None), 'crash', 'any crash is the reset cause')
        eq(bootlog.take_memory(), None, 'only a MemoryError is written down')
        bootlog.note_crash(MemoryError('memory allocation failed, allocating 168 bytes'), 'boot')
        eq(bootlog.take_reset(None), 'crash', 'reset cause')
        m = bootlog.take_memory()
        eq((m['where'], m['err']), ('boot', 'memory allocation failed, allocating 168 bytes'), 'record')
        check(isinstance(m['free'], int), 'free heap noted: %r' % (m,))
        eq(bootlog.take_memory(), None, 'reported once')
    in_tmpdir('b_mem', t)


def case_a_crash_traceback_is_kept_for_the_next_boot():
    from bringup import take_crash, TB_KEEP

    def t():
        eq(take_crash(), None, 'no crash noted')

        def deep():
            raise ValueError('sensor table index 7')
        try:
            deep()
        except ValueError as e:
            bootlog.note_crash(e, 'running')
        c = take_crash()
        eq(c['where'], 'running', 'where it crashed')
        check('ValueError: sensor table index 7' in c['tb'] and 'deep' in c['tb'], 'the traceback: %r' % (c,))
        check(len(c['tb']) <= TB_KEEP, 'bounded: %d' % len(c['tb']))
        eq(take_crash(), None, 'reported once')
    in_tmpdir('b_crash', t)
