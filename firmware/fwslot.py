# Which firmware image the board runs, and the trial of a new one. The pointer fw.slot
# (one small JSON file, always replaced in one rename, written last by an update):
#   absent                     the factory image (the ROM partition; the simulator's EDGE_ROMFS)
#   {"img", "ver"}             an updated image file (fw.a or fw.b; the simulator mounts it) or lib
#                              folder (lib.a or lib.b: the lib layout) that passed its trial
#   + "prev", "pver", "tries"  on trial: main.py boots it once; a second boot goes back to prev
#   {"part", ...}              the same for a MicroPython VM in an ESP32 OTA partition (ota_esp32.py)
# ota_result.json: the outcome of the last trial, reported once at the next boot.
# Small and loaded only at boot, by the health check and by an update (config.once).
import json
import os

SLOT = 'fw.slot'
RESULT = 'ota_result.json'


def read():
    try:
        with open(SLOT) as f:
            p = json.load(f)
        return p if isinstance(p, dict) else None
    except (OSError, ValueError):
        return None


def put(path, obj):
    with open(path + '.tmp', 'w') as f:
        json.dump(obj, f)
    os.rename(path + '.tmp', path)


def free_image(base='fw.'):
    """The image file (fw.a, fw.b) or lib folder (lib.a, lib.b) an update may write: never
    the one running (an update is refused while a trial runs: no image to go back to is lost)."""
    p = read()
    return base + ('b' if p and p.get('img') == base + 'a' else 'a')


def trial():
    """The version on trial, or None. On an ESP32 VM update, a boot into the old partition
    (the bootloader rolled back) settles the trial as rolled back."""
    p = read()
    if not p or 'tries' not in p:
        return None
    if 'part' in p:
        import ota_esp32
        return ota_esp32.boot_check(p)
    return p.get('ver')


def switch(img, ver, running, part=None, prev=None):
    """Boot `img` (or ESP32 partition `part`) next, on trial: the pointer goes last."""
    p = read() or {}
    new = {'ver': ver, 'pver': running, 'tries': 0}
    if part:
        new['part'] = part
        new['prev'] = prev
    else:
        new['img'] = img
        new['prev'] = p.get('img')
    put(SLOT, new)


def confirm():
    """The image on trial stays: the pointer loses its trial fields. Returns the old pointer."""
    p = read()
    keep = {'ver': p.get('ver')}
    for k in ('img', 'part'):
        if k in p:
            keep[k] = p[k]
    if 'part' in p:
        import ota_esp32
        ota_esp32.confirm()
    put(SLOT, keep)
    return p


def give_up(why):
    """The trial failed while running: the next boot goes back to the previous image."""
    p = read()
    p['tries'] = 1
    p['why'] = why
    put(SLOT, p)
    if 'part' in p:
        import ota_esp32
        ota_esp32.roll_back(p)


def boot(app):
    """At boot: the version on trial (app.fw_trial), and the outcome of a trial that ended in
    a rollback (system.ota_rolled_back, from the image it went back to)."""
    app.fw_trial = trial()
    r = take_result()
    if r and not r.get('ok'):
        put('ota_last.json', {'ver': r.get('ver'), 'ok': False, 'err': r.get('err'), 'rolled_back': True})
        from app import FW
        from ctrl_base import short
        app.event('system.ota_rolled_back', 'warn', {'ver': r.get('ver'), 'err': short(r.get('err')), 'running': FW})


def settle(app, ok, trial_ms):
    """The health check's verdict on the image on trial: ok (healthy and connected) keeps it
    (system.ota_applied), else (trial_s without the broker) the next boot goes back."""
    if ok:
        confirm()
        put('ota_last.json', {'ver': app.fw_trial, 'ok': True})
        app.event('system.ota_applied', 'info', {'ver': app.fw_trial})
        app.fw_trial = None
    else:
        give_up('no broker connection within %d s' % (trial_ms // 1000))
        app.reboot('ota')


def take_result():
    """{'ok', 'ver', 'running', 'err'} of the last trial, once; or None."""
    try:
        with open(RESULT) as f:
            r = json.load(f)
        os.remove(RESULT)
        return r if isinstance(r, dict) else None
    except (OSError, ValueError):
        return None
