# Run by `edgectl bench boot-heap` on the MicroPython unix port, in a simulated board's
# folder (config.json, secrets.json), with the board's heap: builds the runtime as
# start.main() does, one part at a time, and prints what each part leaves in the heap
# (gc.mem_alloc() after gc.collect()) as one JSON line. Not part of the firmware.
import gc

import rom_mount
ROM = rom_mount.mount()                   # the ROMFS layout, mounted as main.py does

gc.collect()
_last = gc.mem_alloc()
BASE = _last
parts = []


def mark(group, what):
    global _last
    gc.collect()
    a = gc.mem_alloc()
    parts.append([group, what, a - _last])
    _last = a


import json
import asyncio
mark('runtime', 'asyncio, json (frozen in MicroPython)')
import compat
import clock
import debounce
import ctrl_base
mark('runtime', 'clock, debounce, ctrl_base')
import hal
if hal.is_board():
    import hal_esp32
else:
    import hal_sim
mark('runtime', 'hal + back-end')
import bootlog
import config
mark('runtime', 'bootlog, config')
import command
import ratelimit
import controllers
mark('runtime', 'command, ratelimit, controllers')
import outbox
mark('outbox', 'outbox module')
import topics
import mqtt
import link
mark('link+mqtt', 'topics, mqtt, link modules')
import health
mark('runtime', 'health')
import app as appmod
mark('runtime', 'app module')
import start
mark('runtime', 'start module')

log = bootlog.BootLog()
cfg, trial = config.boot()
mark('runtime', 'config + boot log read')
io = hal.make(cfg)
mark('runtime', 'hal instance')
ctrls = cfg['controllers']
cfg['controllers'] = []
a = appmod.App(cfg, io, log, 'power', False, None)
mark('runtime', 'App (no controllers; its outbox, fire state)')
lk = link.Link(a, cfg)
mark('link+mqtt', 'Link + mqtt.Client instances')
for c in ctrls:
    controllers.load(c['type'])
    mark('ctrl:' + c['type'], 'code')
    a._add(c)
    mark('ctrl:' + c['type'], 'objects (%s)' % c['name'])
cfg['controllers'] = ctrls

# what App holds for its parts, measured by what dropping them gives back
booted = gc.mem_alloc()


def drop(group, what, fn):
    global _last
    gc.collect()
    before = gc.mem_alloc()
    fn()
    gc.collect()
    parts.append([group, what, before - gc.mem_alloc()])
    _last = gc.mem_alloc()


def _no_outbox():
    a.events.close()
    a.events = None


def _no_fire():
    a.fire = None


def _no_secrets():
    a.secrets = None


drop('outbox', 'Outbox instance (in App)', _no_outbox)
drop('fire', 'fire state (in App)', _no_fire)
drop('signing', 'secrets dict (in App)', _no_secrets)
import micropython
micropython.qstr_info()                   # one line: pools, qstrs, bytes (the host reads it)
print('HEAP_PROBE ' + json.dumps({'base': BASE - ROM, 'rom': ROM, 'booted': booted - ROM, 'free': gc.mem_free(),
                                   'parts': parts}))
