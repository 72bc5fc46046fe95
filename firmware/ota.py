# Firmware updates over the board's MQTT link. Loaded only when an offer arrives, dropped
# when the update is over (done() forgets the module).
#
# 1. The host publishes an offer on <dev>/ota: {"op": "offer", "kind", "ver", "size", "sha",
#    "win", "ctr", "sig"}, signed with THIS board's key for the pseudo controller `_ota`
#    (protocols/signing.py): a stolen board's key makes offers for that board only.
#    Refused (system.ota_rejected with the reason): unsigned or forged, an older or the same
#    version (downgrade), an image kind this board cannot run, a size that does not fit.
# 2. The board pulls the image one chunk at a time: it publishes {"ver", "off", "len"} on
#    <dev>/ota_req and the host answers on <dev>/ota with b'C' + offset (4 bytes, big endian)
#    + data. A chunk is at most CHUNK bytes (well under the 2 KB a small board reads), so one
#    chunk at a time fits a board with 30 KB free. Each is appended to the free image slot and
#    hashed as it comes; a chunk longer than asked or past the size, a transfer that ends early
#    (an empty chunk, or the host silent) is refused: truncated.
# 3. Whole and its SHA-256 right: the switch waits while the board is busy (an arm moving, a
#    door released by fire, a call open, an alarm active) and outside the update window, then
#    writes the pointer (fwslot.switch, one rename) and reboots into a trial (fwslot.py).
import gc
import hashlib
import json
import os
import sys
import asyncio
from clock import wall_ms
from ctrl_base import SEV_WARN, SEV_INFO, short
import fwslot
import topics

SIGNED_AS = '_ota'
CHUNK = 512             # bytes asked for at a time: small, as the lib layout leaves little heap
RETRY_MS = 3000         # a chunk not here by then is asked for again
RETRIES = 3             # then the transfer is over: truncated
BUSY_MS = 1000          # how often a waiting switch looks again
CLOCK_KNOWN_MS = 1700000000000
MOVING = ('opening', 'closing', 'reversing', 'eye_test')
CALL = ('ringing', 'answered')

_cur = None             # the update in progress (one at a time)


class Refused(Exception):
    pass


def window(s):
    """'02:00-05:00' (UTC) -> (120, 300) minutes of the day; Refused otherwise."""
    try:
        a, b = [int(x[:2]) * 60 + int(x[3:]) for x in s.split('-')]
        if len(s) == 11 and 0 <= a < 1440 and 0 <= b < 1440 and s[2] == s[8] == ':':
            return a, b
    except (ValueError, AttributeError):
        pass
    raise Refused('update window %r: HH:MM-HH:MM (UTC)' % short(s, 20))


class FileSink:
    """A ROMFS image into a file beside the running one (fw.a / fw.b), via fw.new (the
    simulator mounts it; a board with a ROM partition takes `vm` instead)."""

    def __init__(self, size):
        self.f = open('fw.new', 'wb')

    def write(self, data):
        self.f.write(data)

    def close(self):
        self.f.close()

    def commit(self, m, running):
        img = fwslot.free_image()
        os.rename('fw.new', img)
        fwslot.switch(img, m['ver'], running)

    def drop(self):
        self.close()
        try:
            os.remove('fw.new')
        except OSError:
            pass


def room():
    """Bytes the filesystem can take for a new image."""
    try:
        s = os.statvfs('.')
        return s[0] * s[4]
    except (OSError, AttributeError):
        return 1 << 20


class Update:
    def __init__(self, app, link, m, sink):
        self.app = app
        self.link = link
        self.m = m
        self.sink = sink
        self.off = 0
        self.want = 0           # length asked for at self.off
        self.low = None         # the least heap free seen while chunks came in (reported)
        self.h = hashlib.sha256()
        self.got = asyncio.Event()
        self.end = None         # why the transfer ended early
        self.task = asyncio.create_task(self.run())

    def chunk(self, payload):
        """A chunk from the reader: appended and hashed at once (the heap keeps none)."""
        if len(payload) < 5:
            return
        off = int.from_bytes(payload[1:5], 'big')
        if off != self.off or self.end:
            return      # a late copy of a chunk already taken (asked again): nothing new
        n = len(payload) - 5
        if n == 0:
            self.end = 'truncated: the sender ended at %d of %d bytes' % (self.off, self.m['size'])
        elif n > self.want:
            self.end = 'oversized chunk: %d bytes where %d were asked' % (n, self.want)
        else:
            data = memoryview(payload)[5:]
            try:
                self.sink.write(data)
                self.h.update(data)
                self.off += n
                if hasattr(gc, 'mem_free') and not self.off % (8 * CHUNK):     # every 8 chunks:
                    gc.collect()        # the garbage of the last ones goes, and the heap left is seen
                    f = gc.mem_free()
                    if self.low is None or f < self.low:
                        self.low = f
            except Exception as e:      # a refused bundle, a full filesystem: the update is over
                self.end = str(e) if isinstance(e, Refused) else 'cannot write the image: %r' % (e,)
        self.got.set()

    async def ask(self):
        n = self.m['size'] - self.off
        self.want = CHUNK if n > CHUNK else n
        self.got.clear()
        await self.link.client.publish(topics.ota_req(self.app.site, self.app.device),
                                       json.dumps({'ver': self.m['ver'], 'off': self.off, 'len': self.want}), 0)

    async def run(self):
        app = self.app
        try:
            tries = 0
            while self.off < self.m['size'] and not self.end:
                at = self.off
                try:
                    await self.ask()
                except Exception:       # the link is down: ask again when it is back
                    pass
                try:
                    await asyncio.wait_for_ms(self.got.wait(), RETRY_MS)
                except asyncio.TimeoutError:
                    pass
                tries = 0 if self.off != at else tries + 1
                if tries >= RETRIES:
                    self.end = 'truncated: transfer stalled at %d of %d bytes' % (self.off, self.m['size'])
            if self.end:
                raise Refused(self.end)
            self.sink.close()
            from binascii import hexlify
            if hexlify(self.h.digest()).decode() != self.m['sha']:
                raise Refused('wrong hash: the image received is not the one signed')
            self.h = None
            said = None
            while True:         # whole and right: switch when the board is idle and in the window
                why = busy(app, window(self.m['win']) if self.m.get('win') else None)
                if why is None:
                    break
                if why != said:
                    said = why
                    app.event('system.ota_deferred', SEV_INFO, {'ver': self.m['ver'], 'why': why})
                await asyncio.sleep_ms(BUSY_MS)
            self.sink.commit(self.m, app_fw())
            app.event('system.ota_switching', SEV_INFO, {'ver': self.m['ver'], 'size': self.m['size'],
                                                         'heap_min': self.low})
            app.reboot('ota')
        except Exception as e:
            self.sink.drop()
            reject(app, self.m.get('ver'), e if isinstance(e, Refused) else repr(e))
        finally:
            done()


def app_fw():
    from app import FW
    return FW


def busy(app, win=None, now_ms=None):
    """Why a switch must wait now (None: it may go): never mid-motion or mid-call."""
    if app.fire.active:
        return 'site fire: doors released'
    for name in app.ctrls:
        s = app.ctrls[name].state()
        if s.get('state') in MOVING:
            return '%s is moving' % name
        if s.get('call') in CALL:
            return 'call in progress on %s' % name
        if s.get('fire'):
            return '%s released by fire' % name
    if app.alarms:
        return 'alarm active: %s' % sorted(app.alarms)[0]
    if win is not None:
        now = wall_ms() if now_ms is None else now_ms
        if now < CLOCK_KNOWN_MS:
            return 'clock not set: cannot tell the update window'
        m = (now // 60000) % 1440
        a, b = win
        if not (a <= m < b if a <= b else m >= a or m < b):
            return 'outside the update window %02d:%02d-%02d:%02d UTC' % (a // 60, a % 60, b // 60, b % 60)
    return None


def reject(app, ver, why):
    why = short(why)
    fwslot.put('ota_last.json', {'ver': ver, 'ok': False, 'err': why})
    app.event('system.ota_rejected', SEV_WARN, {'ver': short(ver, 20) if ver else None, 'err': why,
                                                'running': app_fw()})


def kinds():
    """The images this board takes: `romfs` (an image file; the simulator, which mounts it),
    `lib` (a folder of .mpy files, the lib layout), `vm` (an ESP32 OTA partition)."""
    esp = sys.platform == 'esp32' or 'esp32' in sys.modules
    rom = '/rom' in sys.path
    k = () if rom and esp else ('romfs',) if rom else ('lib',)
    return k + ('vm',) if esp else k


def sink_for(kind):
    """(room for the image, its sink) of one kind of image."""
    if kind == 'vm':
        import ota_esp32
        return ota_esp32.room(), ota_esp32.Sink
    if kind == 'lib':
        import ota_lib
        return room(), ota_lib.LibSink
    return room(), FileSink


def message(app, link, payload):
    """Everything that arrives on the board's ota topic (the reader calls this)."""
    global _cur
    if payload[:1] == b'C':
        if _cur is not None:
            _cur.chunk(payload)
        else:
            done()
        return
    ver = None
    try:
        import config
        try:
            msg = config.once('strictjson', 'loads', payload)     # (each phase's code leaves the heap)
        except ValueError:
            raise Refused('the offer is not valid JSON (malformed)')
        if not isinstance(msg, dict) or msg.get('op') != 'offer':
            raise Refused('an ota message is an offer {"op": "offer", ...} or a chunk')
        ver = msg.get('ver')
        if app.fw_trial:
            raise Refused('a firmware trial is running: offer again once it is settled')
        if _cur is not None:
            if _cur.m.get('sha') == msg.get('sha') and _cur.m.get('ver') == ver:
                return      # the same offer again (the host restarted): the transfer goes on
            raise Refused('an update to %s is in progress' % _cur.m['ver'])
        k = kinds()
        n, cls = sink_for(msg.get('kind')) if msg.get('kind') in k else (0, None)
        import gc
        gc.collect()
        m = config.once('ota_offer', 'check', msg, app.key, app.device, app_fw(), k, n)
        sink = cls(m['size'])
        _cur = Update(app, link, m, sink)
        app.event('system.ota_started', SEV_INFO, {'ver': m['ver'], 'size': m['size']})
    except Exception as e:
        reject(app, ver if isinstance(ver, str) else None, e if isinstance(e, Refused) else repr(e))
        if _cur is None:
            done()


def oversized(app, size):
    """A message on the ota topic over the board's limit (read off and discarded by mqtt.py)."""
    if _cur is not None and not _cur.end:
        _cur.end = 'oversized chunk: a message of %d bytes' % size
        _cur.got.set()
    else:
        reject(app, None, 'oversized message: %d bytes' % size)
        done()


def done():
    """The update is over: its module and state leave the heap."""
    global _cur
    _cur = None
    sys.modules.pop('ota', None)
