# Configs and the settings spec on the board (issue 15 findings 1, 10, 12): ranges from
# settings_spec (generated from protocols/controllers.json), inversions of safety signals,
# signed config pushes, a damaged config.json. Runs on CPython and the MicroPython unix port.
import json
import cfgcheck
import config_push
import config
import settings
import signing
from harness import check, eq, in_tmpdir

KEY = b'k' * 32
GOOD = {'rev': 'r1', 'site': 's', 'device': 'd', 'broker': {'host': '127.0.0.1', 'port': 1883},
        'controllers': [{'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'lock': 25}}]}


def _cfg(**ctrl):
    c = json.loads(json.dumps(GOOD))
    c['controllers'][0].update(ctrl)
    return c


def _refused(cfg, *words):
    try:
        config.check(cfg)
    except config.ConfigError as e:
        for w in words:
            check(w in str(e), 'the refusal names %r: %s' % (w, e))
        return str(e)
    raise AssertionError('accepted %r' % (cfg,))


def _gate():
    return {'rev': 'g', 'site': 's', 'device': 'd', 'broker': {'host': 'h', 'port': 1883},
            'controllers': [{'name': 'arm', 'type': 'barrier',
                             'pins': {'beam': 4, 'up_limit': 5, 'down_limit': 13, 'motor_up': 25,
                                      'motor_down': 26, 'eye_tx': 27}}]}


def case_the_findings_configs_are_refused_with_setting_value_and_range():
    g = _gate()
    g['controllers'][0]['beam_debounce_ms'] = 4000
    _refused(g, 'arm', 'beam_debounce_ms', '4000', '0..20')
    g = _gate()
    g['controllers'][0]['eye_test_ms'] = 10000
    _refused(g, 'eye_test_ms', '10000', '50..1000')
    _refused(_cfg(unlock_s=10000000), 'front', 'unlock_s', '10000000', '1..600')
    c = _cfg()
    c['keepalive_s'] = 0
    _refused(c, 'keepalive_s', '0', '5..120')
    c = _cfg()
    c['watchdog_ms'] = 0
    _refused(c, 'watchdog_ms')
    _refused(_cfg(active_low=['lock']), 'lock', 'invert_ack')


def case_every_bound_of_the_spec_is_enforced_at_its_edges():
    n = 0
    import settings_spec
    for ctype in (None,) + settings_spec.TYPES:
        for line in settings_spec.SPEC[0 if ctype is None else 1 + settings_spec.TYPES.index(ctype)].split('\n')[1:-1]:
            key, kind, default, lo, hi = settings.spec(line.split(' ')[0], ctype)
            if kind not in ('i', 'n'):
                continue
            for v, ok in ((lo, True), (hi, True), (lo - 1, False), (hi + 1, False)):
                c = _cfg() if ctype is None else {'name': 'x', 'type': ctype}
                c[key] = v
                err = cfgcheck.ranges(c, ctype)
                eq(err is None, ok, '%s %s = %s' % (ctype, key, v))
                n += 1
            eq(settings.get({}, key, ctype), default, 'default of ' + key)
    check(n > 100, 'bounds tried: %d' % n)
    eq(cfgcheck.ranges({'unlock_s': 'soon'}, 'door'), 'unlock_s must be a number', 'type')
    eq(cfgcheck.ranges({'debounce_ms': 2.5}, 'door'), 'debounce_ms must be a whole number', 'int')
    eq(cfgcheck.ranges({'fail_safe': 1}, 'door'), 'fail_safe must be true or false', 'bool')
    check(cfgcheck.ranges({'schedule': [[0, 60, 0]]}, 'pump') is not None, 'a window with no days')
    check(cfgcheck.ranges({'schedule': [[0, 60, 127]]}, 'pump') is None, 'a good window')
    check(cfgcheck.ranges({'except_days': ['2026-12-25']}, 'pump') is not None, 'days are numbers')
    check(cfgcheck.ranges({'ntp_host': 'x' * 65}) is not None, 'text length')


def case_the_firmware_reads_only_declared_settings_and_has_no_defaults_of_its_own():
    import settings_spec
    for ctype in settings_spec.TYPES:
        try:
            settings.spec('no_such_setting', ctype)
        except KeyError:
            continue
        raise AssertionError('an undeclared setting was read')
    import pump
    p = pump.Pump('pool', {})
    eq(p._deb['low_level'].ms, settings.spec('low_debounce_ms', 'pump')[2], 'low-water debounce from the spec')
    eq(p._deb['level'].ms, 0, 'the analog level: hysteresis, no debounce')
    import door
    d = door.Door('front', {})
    eq(d.unlock_ms, settings.spec('unlock_s', 'door')[2] * 1000, 'unlock_s default from the spec')
    check('1..600' in d.command('unlock', {'s': 601}, 0), 'unlock s= has the same bound as unlock_s')


def case_inverting_a_safety_signal_needs_its_acknowledgement():
    _refused(_cfg(active_low=['lock']), 'active_low inverts safety signal lock', 'invert_ack: [lock]')
    config.check(_cfg(active_low=['lock'], invert_ack=['lock']))
    config.check(_cfg(active_low=['contact']))               # not a safety signal: no ack needed
    _refused(_cfg(active_low=['contact'], invert_ack=['lock']), 'invert_ack names lock')
    _refused(_cfg(active_low='lock'), 'lists of signal names')
    import door
    d = door.Door('front', _cfg(active_low=['lock'], invert_ack=['lock'])['controllers'][0])
    s = d.snapshot()
    eq((s['lock'], s['inverted_pins']), ('locked', {'lock': 0}), 'state shows the pin beside the logical lock')


def _envelope(cfg, key=None, ctr=None):
    env = {'rev': cfg['rev'], 'cfg': json.dumps(cfg)}
    if key:
        env['ctr'] = ctr
        env['sig'] = signing.sign(key, cfg['device'], config_push.SIGNED_AS, env)
    return json.dumps(env)


def _receive(payload, key=KEY):
    try:
        return config.receive(payload, 'r1', key, 's', 'd'), None
    except config.ConfigError as e:
        return e.rev, str(e), e.rev is not None and config.last_rejected() == e.rev


def case_a_config_push_is_signed_like_unlock():
    def t():
        new = _cfg(held_open_s=7)
        new['rev'] = 'r2'
        r = _receive(_envelope(new))
        check('config push refused: unsigned' in r[1] and r[2] is False, r)
        forged = json.loads(_envelope(new, KEY, 100))
        forged['cfg'] = forged['cfg'].replace('"held_open_s": 7', '"held_open_s": 3000')
        r = _receive(json.dumps(forged))
        check('bad signature' in r[1] and r[0] == 'r2' and r[2] is False, r)
        got, err = _receive(_envelope(new, KEY, 100))
        eq((got['rev'], err), ('r2', None), 'signed: accepted')
        r = _receive(_envelope(new, KEY, 100))
        check('stale counter' in r[1], 'a replay is refused: %r' % (r,))
        eq(_receive(_envelope(GOOD, KEY, 50))[0], None, 'the retained copy of what runs: ignored')
        got, err = _receive(_envelope(new), None)     # a board without a key takes it unsigned
        eq(got['rev'], 'r2', 'no key')
        bad = _cfg(unlock_s=10000000)
        bad['rev'] = 'r3'
        r = _receive(_envelope(bad, KEY, 200))
        check('unlock_s' in r[1] and r[0] == 'r3' and r[2] is True, 'signed but out of range: %r' % (r,))
    in_tmpdir('cfg-sign', t)


def case_malformed_cfg_json_is_reported_as_malformed():
    def t():
        for payload in ('{"rev": "r9",', '[1, 2', '{"rev": "r9", trunc'):   # (MicroPython's lax json: finding 5)
            r = _receive(payload, None)
            check('not valid JSON (malformed)' in r[1], '%s -> %r' % (payload, r))
        r = _receive(json.dumps({'rev': 'r9', 'cfg': '{"rev": "r9", trunc'}), None)
        check('config is not valid JSON (malformed)' in r[1], r)

    in_tmpdir('cfg-malformed', t)


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)


def _exists(p):
    import os
    try:
        os.stat(p)
        return True
    except OSError:
        return False


def case_a_truncated_config_falls_back_to_the_last_good_one():
    def t():
        _write('config.json', json.dumps(GOOD))
        cfg, trial = config.boot()
        eq((cfg['rev'], config.recovered), ('r1', None), 'a good boot keeps a last good copy')
        check(_exists('config.good'), 'config.good written')
        _write('config.json', json.dumps(GOOD)[:40])            # a write cut short
        cfg, trial = config.boot()
        eq(cfg['rev'], 'r1', 'runs the last good config')
        eq((config.recovered['rev'], config.recovered['safe']), ('r1', False), 'reported')
        check('not valid JSON' in config.recovered['err'], config.recovered['err'])
        check(_exists('config.damaged'), 'the damaged file is kept aside')
        eq(config.read_json('config.json')['rev'], 'r1', 'config.json repaired')
    in_tmpdir('cfg-trunc', t)


def case_with_no_usable_config_the_board_starts_safe_with_its_outputs():
    def t():
        old = _cfg(unlock_s=10000000, active_low=['contact'])    # out of range (e.g. older bounds)
        _write('config.json', json.dumps(old))
        _write('config.good', json.dumps(GOOD)[:30])
        cfg, trial = config.boot()
        eq(config.recovered['safe'], True, 'safe mode')
        check('unlock_s' in config.recovered['err'], config.recovered['err'])
        eq((cfg['site'], cfg['device'], cfg['broker']['port']), ('s', 'd', 1883), 'identity kept: online')
        c = cfg['controllers'][0]
        eq((c['name'], c['pins'], settings.get(c, 'fail_safe', 'door'), c['active_low']),
           ('front', {'contact': 4, 'lock': 25}, True, ['contact']), 'outputs known')
        check('unlock_s' not in c, 'settings dropped')
        _write('config.json', '{"site": "s", "dev')
        try:
            config.boot()
        except config.ConfigError as e:
            check('not valid JSON' in str(e), str(e))
        else:
            raise AssertionError('nothing to run from')
    in_tmpdir('cfg-safe', t)


def case_accepted_configs_become_the_last_good_one():
    def t():
        _write('config.json', json.dumps(GOOD))
        config.boot()
        new = _cfg()
        new['rev'] = 'r7'
        config.stage(new)
        config.boot()
        config.promote('r7')
        eq(config.read_json('config.good')['rev'], 'r7', 'promoted: kept as last good')
        _write('push.json', json.dumps(_cfg(unlock_s=0)))
        r = config.install('push.json')
        check(not r['ok'] and 'unlock_s' in r['err'], 'serial: ranges checked too: %r' % (r,))
        eq(config.read_json('config.good')['rev'], 'r7', 'a refused one changes nothing')
    in_tmpdir('cfg-good', t)


def _whole(cfg):
    """cfg with every declared setting written out at its default, as the host writes it."""
    from settings_spec import SPEC, TYPES
    def fill(d, rows):
        for line in rows.split('\n'):
            if line:
                d.setdefault(line.split(' ')[0], json.loads(line.split(' ')[2]))
    fill(cfg, SPEC[0])
    for c in cfg['controllers']:
        c.setdefault('active_low', [])
        fill(c, SPEC[1 + TYPES.index(c['type'])])
    return cfg


def case_the_board_keeps_its_config_lean_and_reads_every_setting_the_same():
    def t():
        whole = _whole(_cfg(unlock_s=9, fail_safe=False))
        whole['tele_s'] = 5
        _write('config.json', json.dumps(whole))
        cfg, trial = config.boot()
        c, w = cfg['controllers'][0], whole['controllers'][0]
        eq((cfg.get('keepalive_s'), c.get('held_open_s'), c.get('active_low')), (None, None, None),
           'settings at their default and empty lists are not kept in RAM')
        eq((cfg['tele_s'], c['unlock_s'], c['fail_safe'], c['pins'], cfg['rev'], cfg['broker']),
           (5, 9, False, w['pins'], 'r1', whole['broker']), 'what differs from the default is kept')
        from settings_spec import SPEC, TYPES
        n = 0
        for rows, ctype, lean, full in ((SPEC[0], None, cfg, whole), (SPEC[1 + TYPES.index('door')], 'door', c, w)):
            for line in rows.split('\n'):
                if line:
                    k = line.split(' ')[0]
                    eq(settings.get(lean, k, ctype), settings.get(full, k, ctype), 'setting %s reads the same' % k)
                    n += 1
        check(n > 20, 'every declared setting compared (%d)' % n)
        eq(config.read_json('config.json'), whole, 'the file on flash stays whole')
        eq(config.read_json('config.good'), whole, 'and so does the last good copy')
    in_tmpdir('cfg-lean', t)
