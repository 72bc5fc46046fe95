# Boot-only code, loaded for the moment it runs and then dropped from the heap (config.once):
# a board that loads its code into RAM keeps only what runs afterwards.
import gc
import bootlog
import config
import hal
import link
import health
import settings
import settings_spec     # kept while the board is built (settings.spec), dropped after
from ctrl_base import SEV_ALARM, SEV_WARN, SEV_INFO, short
from app import App, FW


def _names():
    """Load and drop the code the board loads on demand while running, for its names: a name
    (qstr) made at runtime can need a new qstr pool, several KB in one block, which a
    fragmented heap may not have (MemoryError on the first signed command). Made now, while
    the heap is in one piece, the names stay; the code goes."""
    import sys
    had = set(sys.modules)
    for m in ('signing', 'appsys', 'config_push'):
        __import__(m)
    for m in list(sys.modules):
        if m not in had:
            del sys.modules[m]
    gc.collect()


def up():
    """Pick the config (a trial candidate or the last good one), count the boot, choose normal
    or safe mode, build the app, its link and its watchdog: (app, io, log, link, safe, trial, watch), or the code start.main returns (2: no
    config, 0: back to the good config, 3: crashed)."""
    _names()
    log = bootlog.BootLog()
    try:
        cfg, trial = config.boot()
    except config.ConfigError as e:
        print('edgectl: cannot start:', e)
        return 2
    reset = bootlog.take_reset(None)
    safe = log.begin(settings.get(cfg, 'safe_boots'))
    damaged = config.recovered      # config.json was damaged: running the last good one, or safe
    if damaged and damaged['safe']:
        safe = 'no usable config: ' + damaged['err']
        log.short = 0       # not a crash: the next boot (a pushed config) runs normally
    try:
        io = hal.make(cfg)
        app = App(cfg, io, log, reset or hal.reset_cause(), safe, trial)
    except Exception as e:
        if trial:   # the candidate does not even build: straight back to the good config
            config.abandon(trial, 'failed to start: %s' % e)
            bootlog.note_reset('config')
            return 0
        print('edgectl: crashed at boot:', repr(e))
        bootlog.note_crash(e, 'boot')
        return 3
    if damaged:
        app.event('system.config_damaged', SEV_WARN, {'err': damaged['err'][:160], 'rev': damaged['rev'],
                                                     'safe_mode': damaged['safe']})
    io.info['device'] = app.device
    lk = link.Link(app, cfg)
    watch = health.setup(cfg, io)       # the watchdog runs from here on
    import sys
    sys.modules.pop('settings_spec', None)
    return app, io, log, lk, safe, trial, watch


def boot_events(self):
    """The events every boot reports (App.__init__)."""
    self.event('system.boot', SEV_INFO, {'boot': self.log.boots, 'reset': self.reset, 'fw': FW,
                                         'rev': self.rev, 'safe_mode': bool(self.safe_mode)})
    for c in self.cfg['controllers']:      # acknowledged inversions of safety signals: every boot
        for sig in c.get('invert_ack') or ():
            self.event('system.signal_inverted', SEV_WARN, {'target': c['name'], 'signal': sig,
                                                            'pin': c['pins'].get(sig)})
    m = bootlog.take_memory()      # an earlier boot ran out of heap (bootlog.note_crash)
    if m:
        self.event('system.memory', SEV_ALARM, m)
    c = take_crash()               # an earlier boot crashed: its traceback, to the journal
    if c:
        self.event('system.crash', SEV_WARN, c)
        self.logline(1, 'crashed (%s): %s' % (c['where'], c['tb'][-120:]))
    if config._exists('fw.slot') or config._exists('ota_result.json'):    # (fwslot's names only when updated)
        config.once('fwslot', 'boot', self)     # a firmware image on trial, or one that was rolled back
    r = config.take_result()
    if r:
        if r.get('ok'):
            self.event('system.config_applied', SEV_INFO, {'rev': r.get('rev')})
        else:
            config.remember_rejected(r.get('rev'))
            self.event('system.config_rejected', SEV_WARN, {'rev': r.get('rev'), 'err': r.get('err'),
                                                            'kept': self.rev})
    if self.safe_mode:
        self.log.safe_alarm = True
        self.log.save()
        self.event('system.safe_mode', SEV_ALARM, {'active': True, 'boots': self.log.short - 1,
                                                   'why': short(self.safe_mode) if isinstance(self.safe_mode, str)
                                                   else 'boots in a row died young'})


TB_KEEP = 400       # characters of a traceback reported (its end: the frame that raised, the error)


def take_crash():
    """{'where', 'tb'} of a crash bootlog.note_crash wrote down before this boot (once; the
    traceback's last TB_KEEP characters), or None."""
    import os
    try:
        with open('crash.txt') as f:
            where = f.readline().strip()
            tb = f.read()
        os.remove('crash.txt')
    except OSError:
        return None
    return {'where': where, 'tb': tb[-TB_KEEP:].strip()}
