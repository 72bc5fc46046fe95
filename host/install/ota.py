"""Firmware updates over the network (`edgectl ota push`, `edgectl fleet status`).

The image is the firmware as `deploy --layout romfs` puts it on a board: the ROMFS image of
firmware/*.py compiled with mpy-cross (host/build.py), version FW of firmware/app.py. For each
board the host signs an offer with *that board's* key (protocols/signing.py, pseudo
controller `_ota`): version, size, SHA-256, kind, update window. The board pulls the image one
chunk at a time (it asks on <dev>/ota_req, the host answers on <dev>/ota), checks the hash,
waits until it is idle and inside the window, switches and runs the new image on trial
(firmware/ota.py, fwslot.py). The rollout goes canary first, then in batches, and stops after
the first batch in which a board refused the update, rolled back or did not come back.
"""
import hashlib
import json
import re
import sys
import threading
import time

from ..core.errors import EdgeError
from ..core.proto import topics

SIGNED_AS = '_ota'          # firmware/ota.py: the same name
MAX_CHUNK = 4096            # the most served per request, whatever a board asks
STALL_S = 30.0              # a board that asks for nothing this long during its transfer is gone
RESTART_S = 5.0             # a board back from a restart has said by then whether it had switched
SILENT_S = 5.0              # a board that has not asked for a chunk this long is shown as not answering
NOTE_EVERY_S = 30.0         # the line of who is waiting and why is printed again this often
FINAL = ('applied', 'rejected', 'rolled back', 'no answer', 'did not return', 'current', 'offline', 'timed out')


def fw_version(firmware=None):
    """FW of firmware/app.py (the version the image reports once it runs)."""
    from ..core.paths import firmware_constant
    return firmware_constant('app.py', 'FW', firmware)


def image():
    """(ROMFS image bytes, version) of this checkout's firmware (EDGE_FIRMWARE: another tree)."""
    from ..core.build import build_romfs
    return build_romfs().read_bytes(), fw_version()


def bundle(files):
    """The lib layout's image: each file as b'F', its name's length (1 byte), the name, its
    size (4 bytes, big endian), its bytes (firmware/ota.py LibSink)."""
    out = bytearray()
    for name, data in sorted(files.items()):
        n = name.encode()
        out += b'F' + bytes([len(n)]) + n + len(data).to_bytes(4, 'big') + data
    return bytes(out)


def lib_image(arch=None):
    """The lib files `deploy` puts in lib/ (main.py stays as deployed), as a bundle."""
    from .deploy import LIB, local_files
    return bundle({p[len(LIB) + 1:]: d for p, d in local_files(arch).items() if p.startswith(LIB + '/')})


def vm_image(path):
    """The bytes of a MicroPython VM for an ESP32's other OTA app partition (kind `vm`,
    firmware/ota_esp32.py): an ESP32 app image (EdgeError, exit 2, for anything else)."""
    from .flash import check_image
    return check_image(path).read_bytes()


def images(arch=None):
    """({kind: image bytes}, version): what a board of either layout takes."""
    romfs, ver = image()
    return {'romfs': romfs, 'lib': lib_image(arch)}, ver


def newer(a, b):
    """True when version text a is newer than b (None: unknown, never newer)."""
    try:
        return tuple(int(x) for x in a.split('.')) > tuple(int(x) for x in b.split('.'))
    except (AttributeError, ValueError):
        return False


def utc_window(text, offset_s=None):
    """'02:00-05:00' in this host's local time -> the same window in UTC, as the board checks
    it (its clock is UTC). EdgeError (exit 2) for anything else."""
    m = re.fullmatch(r'([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])', text or '')
    if not m:
        raise EdgeError('--window %r: HH:MM-HH:MM in local time, e.g. 02:00-05:00' % text, 2)
    if offset_s is None:
        offset_s = time.localtime().tm_gmtoff
    a = (int(m.group(1)) * 60 + int(m.group(2)) - offset_s // 60) % 1440
    b = (int(m.group(3)) * 60 + int(m.group(4)) - offset_s // 60) % 1440
    return '%02d:%02d-%02d:%02d' % (a // 60, a % 60, b // 60, b % 60)


def default_timeout(plain, window=None, trial_s=0, now=None):
    """Seconds `ota push` waits in all by default: `plain`; with a window (UTC, as
    utc_window() gives it), until that window next closes, plus the longest trial and a minute
    (a board outside the window waits for it, and after it no board switches before tomorrow)."""
    if not window:
        return plain
    now = time.time() if now is None else now
    a, b = [int(x[:2]) * 60 + int(x[3:]) for x in window.split('-')]
    m = now % 86400 / 60.0
    inside = a <= m < b if a <= b else m >= a or m < b
    until = (b - m) % 1440 if inside else (a - m) % 1440 + (b - a) % 1440
    return until * 60 + trial_s + 60


def offer(device, key, data, ver, kind='romfs', window=None):
    """The signed offer of `data` for one board (its own key: no other board can use it)."""
    from ..core.commands import signed
    m = {'op': 'offer', 'kind': kind, 'ver': ver, 'size': len(data), 'sha': hashlib.sha256(data).hexdigest()}
    if window:
        m['win'] = window
    return signed(m, device, SIGNED_AS, key)


def chunk(off, data):
    """A chunk message: b'C', the offset (4 bytes, big endian), the bytes."""
    return b'C' + off.to_bytes(4, 'big') + data


class Target:
    """One board in a rollout: what it was sent, what it said."""

    def __init__(self, device, trial_s):
        self.device = device
        self.trial_s = trial_s
        self.state = 'waiting'
        self.why = ''
        self.sent = 0           # bytes of the image served (the highest offset reached)
        self.wire = 0           # bytes published to it (chunks with their headers, offers)
        self.asked = 0          # requests answered
        self.t0 = None
        self.last = None        # when it last asked for something
        self.done_at = None
        self.switched = None    # when it said it switches
        self.kind = None        # the image kind it was offered (romfs, lib)
        self.heap_min = None    # the least heap free the board saw during the transfer
        self.boot = None        # its boot count when offered
        self.restarted = None   # when its status showed another boot
        self.size = 0
        self.fw = None          # the version its status reports
        self.was = None         # the version it ran before
        self.online = None

    @property
    def final(self):
        return self.state in FINAL


class Server:
    """Serves the image to the boards that ask for it and follows their updates (one paho
    client; its network thread answers requests as they come)."""

    def __init__(self, ep, site, data, ver, keys, window=None, kind='romfs'):
        """data: the image, or {kind: image} with each board offered the kind its answer to
        `system status` names (`img`: romfs or lib; `info`, filled by rollout())."""
        self.site = site
        self.images = data if isinstance(data, dict) else {kind: data}
        self.data = self.images.get(kind) or next(iter(self.images.values()))
        self.ver = ver
        self.keys = keys
        self.window = window
        self.kind = kind
        self.targets = {}
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.statuses = {}      # device -> its retained status
        self.info = {}          # device -> fleet(): its status with its answer to `system status`
        self.ep = ep
        self.c = ep.connect('ota', on_message=self._on,
                            subscribe=[topics.ota_req(site, '+'), topics.evt(site, '+', 'system'),
                                       topics.status(site, '+')])

    def close(self):
        from ..core import mqttc
        mqttc.close(self.c)

    def start(self, t):
        """Offer the image to target t."""
        kind = (self.info.get(t.device) or {}).get('img') or self.kind
        if kind not in self.images:
            kind = self.kind
        with self.lock:
            self.targets[t.device] = t
            t.boot = (self.info.get(t.device) or self.statuses.get(t.device) or {}).get('boot')
            t.kind, t.size = kind, len(self.images[kind])
            t.state, t.t0, t.last = 'offered', time.monotonic(), time.monotonic()
        body = json.dumps(offer(t.device, self.keys[t.device], self.images[kind], self.ver, kind, self.window))
        t.wire += len(body)
        self.c.publish(topics.ota(self.site, t.device), body, qos=1)
        self.changed.set()

    def _on(self, client, userdata, msg):
        p = topics.parse(msg.topic)
        if p is None:
            return
        dev, kind = p[1], p[2]
        try:
            body = json.loads(msg.payload) if msg.payload else {}
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        if kind == 'status':
            self.statuses[dev] = body
        t = self.targets.get(dev)
        if t is None:
            return
        with self.lock:
            if kind == 'ota_req':
                self._serve(t, body)
            elif kind == 'evt':
                self._event(t, body)
            elif kind == 'status':
                t.online = body.get('online')
                t.fw = body.get('fw')
                if body.get('online') and t.boot is not None and body.get('boot') != t.boot and not t.restarted:
                    t.restarted = time.monotonic()      # its events say next whether it switched (tick)
        self.changed.set()

    def _serve(self, t, req):
        off, n = req.get('off'), req.get('len')
        if req.get('ver') != self.ver or t.final or not isinstance(off, int) or not isinstance(n, int) \
                or off < 0 or n < 0:
            return
        n = min(n, MAX_CHUNK)
        msg = self.payload(t, off, n)
        if msg is None:
            return
        self.c.publish(topics.ota(self.site, t.device), msg, qos=0)
        t.wire += len(msg)
        t.asked += 1
        t.sent = max(t.sent, min(off + n, t.size))
        t.last = time.monotonic()
        if t.state in ('offered', 'waiting'):
            t.state = 'sending'

    def payload(self, t, off, n):
        """The answer to a board's request for n bytes at off (None: no answer)."""
        return chunk(off, self.images[t.kind][off:off + n])

    def _event(self, t, e):
        typ = e.get('type', '')
        if not typ.startswith('system.ota_') or (e.get('ver') not in (self.ver, None)):
            return
        if typ == 'system.ota_rejected':
            t.state, t.why = 'rejected', e.get('err') or ''
        elif typ == 'system.ota_deferred':
            t.state, t.why = 'deferred', e.get('why') or ''
        elif typ == 'system.ota_switching':
            t.state, t.switched = 'on trial', time.monotonic()
            t.heap_min = e.get('heap_min')
        elif typ == 'system.ota_rolled_back':
            t.state, t.why = 'rolled back', e.get('err') or ''
        elif typ == 'system.ota_applied':
            t.state = 'applied'
        if t.final:
            t.done_at = time.monotonic()

    def tick(self, t, now=None):
        """Time outs: a transfer that stalls, a board that does not come back from its switch."""
        now = time.monotonic() if now is None else now
        with self.lock:
            if t.final:
                return
            if t.state in ('offered', 'sending') and now - t.last > STALL_S:
                t.state, t.why = 'no answer', 'asked for nothing for %.0f s (at %d of %d bytes)' % (
                    STALL_S, t.sent, t.size)
            elif t.state in ('offered', 'sending', 'deferred') and t.restarted and now - t.restarted > RESTART_S:
                t.state, t.why = 'no answer', 'the board restarted before it switched (its image is lost)'
            elif t.state == 'on trial' and now - t.switched > t.trial_s + 30:
                t.state, t.why = 'did not return', 'no verdict within trial_s %d s + 30 s' % t.trial_s
            if t.final:
                t.done_at = now

    def give_up(self, t, timeout, now=None):
        """The rollout's deadline passed with t still waiting: it is 'timed out', why says for
        what. (The board is not told: one that holds the whole image still switches by itself
        once idle and inside its window, unless it restarts first.)"""
        now = time.monotonic() if now is None else now
        with self.lock:
            if not t.final:
                t.why = 'still waiting after %s s: %s' % (_secs(timeout), waiting_for(t, now))
                t.state, t.done_at = 'timed out', now


def _secs(s):
    return '%g' % round(s, 1)


def waiting_for(t, now=None):
    """What a board not done yet is waiting for, in a few words: busy (its reason), window,
    no answer, sending, on trial."""
    now = time.monotonic() if now is None else now
    if t.state == 'deferred':
        return '%s: %s' % ('window' if 'window' in t.why else 'busy', t.why)
    if t.state in ('offered', 'sending'):
        if t.last is not None and now - t.last > SILENT_S:
            return 'no answer for %d s (%s)' % (now - t.last, 'to the offer' if not t.asked else
                                                 'at %d of %d bytes' % (t.sent, t.size))
        return 'sending %d/%d KB' % (t.sent // 1024, (t.size + 1023) // 1024)
    if t.state == 'on trial':
        return 'on trial for %d s (no verdict yet)' % (now - t.switched)
    return t.state


def waiting_note(targets, left_s, now=None):
    """The progress line while boards wait: which, why, and the time left."""
    ws = [t for t in targets if not t.final]
    return 'waiting for %d board%s%s: %s' % (
        len(ws), '' if len(ws) == 1 else 's', '' if left_s is None else ' (%s s left of --timeout)' % _secs(
            max(0.0, left_s)),
        '; '.join('%s %s' % (t.device, waiting_for(t, now)) for t in ws))


def verdict(timed_out, left, timeout):
    """The one line `ota push` ends with when its deadline passed."""
    held = [t.device for t in timed_out if ': busy: ' in t.why or ': window: ' in t.why]
    return ('timed out after %s s (--timeout): %s still waiting (%s);%s the rollout stopped%s' % (
        _secs(timeout), ', '.join(t.device for t in timed_out),
        '; '.join('%s %s' % (t.device, t.why.split(': ', 1)[-1]) for t in timed_out),
        ' %s holds the whole image and still switches by itself once idle and inside the window, '
        'unless it restarts first;' % ', '.join(held) if held else '',
        ', not offered: %s' % ', '.join(left) if left else ''))


def line(t, total, ver):
    """One board's progress line."""
    total = t.size or total
    took = ' (%.1f s)' % ((t.done_at or time.monotonic()) - t.t0) if t.t0 else ''
    if t.state in ('offered', 'sending'):
        what = 'sending %d/%d KB' % (t.sent // 1024, (total + 1023) // 1024)
    elif t.state in ('rejected', 'rolled back', 'no answer', 'did not return', 'deferred', 'offline', 'current',
                     'timed out'):
        what = '%s: %s' % (t.state, t.why) if t.why else t.state
    else:
        what = t.state
    return '%-20s %s -> %s  %s%s' % (t.device, t.was or t.fw or '?', ver, what, took if t.final else '')


def batches(devices, canary, batch):
    """Canary boards first (alone), then batches."""
    out = []
    if canary:
        out.append(devices[:canary])
        devices = devices[canary:]
    step = max(1, batch or len(devices) or 1)
    out += [devices[i:i + step] for i in range(0, len(devices), step)]
    return [b for b in out if b]


class Printer:
    """One line per board: rewritten in place on a terminal, a new line per change otherwise."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.shown = {}
        self.drawn = 0
        self.waiting = None     # (a terminal) the note drawn under the board lines

    def show(self, targets, total, ver):
        lines = [line(t, total, ver) for t in targets]
        if self.tty:
            lines += [self.waiting] if self.waiting else []
            if self.drawn:
                self.out.write('\x1b[%dA' % self.drawn)
            for s in lines:
                self.out.write('\r\x1b[K' + s + '\n')
            self.drawn = len(lines)
        else:
            for t, s in zip(targets, lines):
                key = (t.state, t.why, t.sent * 4 // max(1, total))     # quarter steps of a transfer
                if self.shown.get(t.device) != key:
                    self.shown[t.device] = key
                    self.out.write(s + '\n')
        self.out.flush()

    def end_batch(self):
        self.drawn = 0
        self.waiting = None

    def note(self, text):
        """The line of who is waiting and why (rollout() decides when): on a terminal the
        last line of the block drawn in place, else a line of its own."""
        if self.tty:
            self.waiting = text
            return
        self.out.write(text + '\n')
        self.out.flush()


def rollout(server, devices, trial_s, canary=1, batch=10, printer=None, poll=0.2, timeout=None):
    """Update `devices` in order: canary first, then batches. Returns (targets, stopped_at:
    the failed targets of the batch that stopped the rollout, or []). timeout: seconds for the
    whole rollout; when they pass, the boards still waiting are 'timed out' (stopped_at) and
    no further batch is offered. The printer's note(), when it has one, is told which boards
    wait and why each time that changes and every NOTE_EVERY_S while they do."""
    printer = printer or Printer()
    note = getattr(printer, 'note', None)
    t_end = None if timeout is None else time.monotonic() + timeout
    done = []
    server.info.update(fleet(server.ep, server.site, list(devices)))     # online, fw, image kind
    for group in batches(list(devices), canary, batch):
        if t_end is not None and time.monotonic() >= t_end:
            return done, []     # (the deadline passed as a batch ended: the rest are not offered)
        ts = [Target(d, trial_s.get(d, 300)) for d in group]
        for t in ts:
            st = server.info.get(t.device) or {}
            t.fw, t.online = st.get('fw'), st.get('online')
            t.was = t.fw
            if t.online is not True:
                t.state, t.why = 'offline', 'not offered (its status says offline or there is none)'
            elif t.fw == server.ver:
                t.state, t.why = 'current', 'already runs it'
            else:
                server.start(t)
        said, said_at = None, 0.0
        while True:
            now = time.monotonic()
            for t in ts:
                server.tick(t, now)
            if t_end is not None and now >= t_end:
                for t in ts:
                    server.give_up(t, timeout, now)
            printer.show(ts, len(server.data), server.ver)
            if all(t.final for t in ts):
                break
            why = [(t.device, waiting_for(t, now).split(' ')[0]) for t in ts if not t.final]
            if note and (why != said or now - said_at >= NOTE_EVERY_S) and \
                    any(w in ('window:', 'busy:', 'no') for d, w in why):
                note(waiting_note(ts, (t_end - now) if t_end is not None else None, now))
                said, said_at = why, now
            server.changed.wait(poll)
            server.changed.clear()
        printer.end_batch()
        done += ts
        bad = [t for t in ts if t.state not in ('applied', 'current', 'offline')]
        if bad:
            return done, bad
    return done, []


def fleet(ep, site, devices, timeout=3.0):
    """device -> {online, fw, rev, boot, heap_free, uptime_s, ota} from each board's retained
    status and its answer to `system status` (online boards only)."""
    got = {d: {} for d in devices}
    acks = {}
    lock = threading.Lock()
    done = threading.Event()

    def on(client, userdata, msg):
        p = topics.parse(msg.topic)
        if p is None or p[1] not in got:
            return
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        with lock:
            if p[2] == 'status':
                got[p[1]].update(body)
            elif p[2] == 'ack' and body.get('id') == 'fleet-%s' % p[1]:
                acks[p[1]] = body
                if len(acks) >= sum(1 for d in got if got[d].get('online')):
                    done.set()

    c = ep.connect('fleet', on_message=on, subscribe=[topics.status(site, '+'), topics.ack(site, '+', 'system')])
    try:
        end = time.monotonic() + 2.0    # the retained statuses (a board without one never came online)
        while time.monotonic() < end and not all(got[d] for d in devices):
            time.sleep(0.05)
        online = [d for d in devices if got[d].get('online')]
        for d in online:
            c.publish(topics.cmd(site, d, 'system'), json.dumps({'id': 'fleet-%s' % d, 'op': 'status'}), qos=1)
        if online:
            done.wait(timeout)
    finally:
        from ..core import mqttc
        mqttc.close(c)
    out = {}
    for d in devices:
        r = dict(got[d])
        st = (acks.get(d) or {}).get('state') or {}
        for k in ('heap_free', 'uptime_s', 'fw', 'rev', 'ota', 'boot', 'img'):
            if k in st:
                r[k] = st[k]
        r['answered'] = d in acks
        out[d] = r
    return out


def fleet_rows(status):
    """Text rows for `edgectl fleet status`."""
    rows = [('DEVICE', 'ONLINE', 'FW', 'REV', 'HEAP FREE', 'UPTIME', 'LAST UPDATE')]
    for d in sorted(status):
        s = status[d]
        o = s.get('ota') or {}
        last = '-' if not o else ('%s ok' % o.get('ver') if o.get('ok') else '%s %s: %s' % (
            o.get('ver'), 'rolled back' if o.get('rolled_back') else 'refused', o.get('err')))
        up = s.get('uptime_s')
        rows.append((d, 'yes' if s.get('online') else 'no' if s.get('online') is False else '?',
                     s.get('fw') or '-', str(s.get('rev') or '-'),
                     '%d KB' % (s['heap_free'] // 1024) if isinstance(s.get('heap_free'), int) else '-',
                     '%dh%02dm' % (up // 3600, up % 3600 // 60) if isinstance(up, int) else '-', last))
    w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return ['  '.join(r[i].ljust(w[i]) for i in range(len(w))) + '  ' + r[-1] for r in rows]
