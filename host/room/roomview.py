"""The control room's full-screen view (`edgectl monitor` on a terminal): devices with
online/offline, last seen and outbox depth; active alarms newest first with their
acknowledgement; intercom calls; the site fire state; a scrolling event log. Keys act on
the selected alarm, the calls and the barriers. The model is the Monitor; this only draws
it (host/screen.py: only the rows that changed are written) and reads keys (`--plain`
gives the line-per-event view instead).

A message that changes the view wakes the drawing loop at once (a pipe beside the
keyboard in its select), so an alarm is on screen within a frame's painting time, not a
polling period."""
import collections
import os
import select
import sys
import time

from rich.text import Text

from .keys import Keyboard
from .monitor import SKIP_FIELDS as SKIP, Monitor
from .alarms import BADGE, STYLE
from .screen import Screen, clean, table

KEYS = ('↑/↓ select alarm  k/Enter acknowledge  a answer call  u release gate  h hang up  '
        'o/x open/close barrier  b block caller  z arm zones  q quit')


def _ago(t, now):
    if not t:
        return '-'
    d = now - t
    return '%ds' % d if d < 120 else '%dm' % (d // 60) if d < 7200 else '%dh' % (d // 3600)


def segments(markup):
    """A monitor line (rich markup, as `--plain` prints it) as screen segments."""
    t = Text.from_markup(markup)
    plain = clean(t.plain)
    if not t.spans:
        return [(plain, None)]
    styles = [None] * len(plain)
    for sp in t.spans:
        for i in range(sp.start, min(sp.end, len(plain))):
            styles[i] = str(sp.style)
    out, start = [], 0
    for i in range(1, len(plain) + 1):
        if i == len(plain) or styles[i] != styles[start]:
            out.append((plain[start:i], styles[start]))
            start = i
    return out


class RoomView:
    def __init__(self, site, ep, operator, store, tele_s, bell, duration=None, log_lines=200, secrets=None,
                 out=None, size=None, keyboard=True, policy=None, notifier=None, sites=None):
        """site None: a monitoring centre's view of every site (or of `sites`), with a site column."""
        self.mon = Monitor(site, operator=operator, store=store, tele_s=tele_s, bell=bell, secrets=secrets,
                           say=self._say, policy=policy, notifier=notifier, sites=sites)
        self.mon.show = self._log
        self.ep = ep               # the broker and login (mqttc.Endpoint)
        self.duration = duration
        self.lines = collections.deque(maxlen=log_lines)
        self.sel = 0
        self.note = ''
        self.drawn = {}            # alarm key -> when a frame first showed it (while it is shown)
        self.screen_bytes = 0
        self.dirty = True
        self.max_devices = 12      # rows: offline ones first; a site of 500 boards fits a screen
        self.max_alarms = 15
        self.out = out if out is not None else sys.stdout
        self.size = size           # (columns, rows); None: the terminal's
        self.keyboard = keyboard
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._stop = False

    def _log(self, rec):
        if not rec.get('hidden'):
            self.lines.append(segments(self.mon.render(rec)))
            self.wake()

    def _say(self, markup):
        """A line the control room's model has for the operator (a gap, a damaged journal):
        into the log pane, as the events are."""
        self.lines.append(segments(markup))
        self.wake()

    def wake(self):
        """Something changed: draw now (called from the MQTT thread)."""
        self.dirty = True
        try:
            os.write(self._wake_w, b'.')
        except (BlockingIOError, OSError):
            pass            # already awake (the pipe is full), or closing

    def stop(self):
        self._stop = True
        self.wake()

    # --- drawing --------------------------------------------------------------------------
    def frame(self, width, height):
        """The view as rows of (text, style) segments for a width x height terminal."""
        m = self.mon
        now = time.time()
        alarms = m.active_alarms()
        self.sel = min(self.sel, max(0, len(alarms) - 1))
        fire = m.fire or {}
        where = ('site', m.site) if m.site else ('centre: sites', ','.join(sorted(m.sites)) if m.sites else 'all')
        head = [('edgectl control room', 'bold'), ('  %s ' % where[0], None), (clean(where[1]), 'cyan'),
                ('  operator %s  ' % clean(m.operator), None)]
        if fire.get('active'):
            head.append((' FIRE ACTIVE (by %s) ' % clean(fire.get('by')), 'bold white on red'))
            head.append(('  ', None))
        head.append((time.strftime('%H:%M:%S'), None))
        rows = [head]
        if m.sub is not None and not m.sub.t.is_alive():
            rows.append([(' NO LINK TO THE BROKER: reconnecting; what is shown may be stale ', 'bold white on red')])
        if m.store is not None and m.store.error:
            rows.append([(' JOURNAL NOT WRITING: %s ' % clean(m.store.error), 'bold white on red')])
        if m.store is not None and m.store.damaged:
            rows.append([(' JOURNAL FILE WAS DAMAGED (%s): set aside as %s; journaling into a fresh one ' % (
                clean(m.store.damaged['why']), clean(m.store.damaged['file'])), 'bold white on red')])
        rows.append([])

        first = max(0, min(self.sel - self.max_alarms // 2, len(alarms) - self.max_alarms))
        shown, styles, keys = [], [], []
        for i, (key, ev, ack) in enumerate(alarms[first:first + self.max_alarms], first):
            details = ' '.join('%s=%s' % (k, v) for k, v in ev.items() if k not in SKIP)
            if ev.get('chattering'):
                details = 'CHATTERING x%s %s' % (ev.get('count'), details)
            prio = ev.get('priority')
            escalated = ev.get('escalated') and not ack
            shelf = m.shelf.get(key)      # shelved (by any view of the site): shown, dim, till it is back
            shown.append(['>' if i == self.sel else '', time.strftime('%H:%M:%S', time.localtime(ev.get('_since', now))),
                          ('ESCALATED', 'blink bold white on red') if escalated else (BADGE.get(prio, '?'), STYLE.get(prio)),
                          ] + self._named(key[0]) + [key[1], key[2], details, 'by %s' % ack.get('by') if ack else
                                                     'SHELVED by %s to %s: %s' % (shelf['by'], time.strftime(
                                                         '%H:%M', time.localtime(shelf['until'])), shelf['reason'])
                                                     if shelf else 'NO'])
            # unacknowledged: the priority's colour; escalated: reverse video, louder still
            styles.append('reverse' if i == self.sel else 'dim' if ack or shelf else
                          'reverse ' + STYLE.get(prio, 'bold red') if escalated else STYLE.get(prio, 'bold red'))
            keys.append(key)
        n_esc = sum(1 for a in alarms if a[1].get('escalated') and not a[2])
        rows += table('active alarms (%d, %d unacknowledged%s)' % (len(alarms), sum(1 for a in alarms if not a[2] and
                                                                                   m.shelf.get(a[0]) is None),
                                                                   ', %d ESCALATED' % n_esc if n_esc else ''),
                      ['', 'since', 'prio'] + self._named() + ['controller', 'type', 'details', 'acknowledged'], shown,
                      width, styles, widths=[1, 8, 9] + self._named(widths=True) + [12, 22, 30, 12])
        if not alarms:
            rows.append([('  none', 'dim')])
        rows.append([])

        devs = sorted(set(m.devices) | set(m.last_seen), key=lambda d: (bool(m.devices.get(d, {}).get('online')), d))
        n_on = sum(1 for d in devs if m.devices.get(d, {}).get('online'))
        drows = []
        for dev in devs[:self.max_devices]:
            st = m.devices.get(dev, {})
            tele = m.tele.get(dev, {})
            drows.append(self._named(dev) + [('online', 'green') if st.get('online') else ('OFFLINE', 'bold red'),
                          str(st.get('fw', '')), _ago(m.last_seen.get(dev), now), str(tele.get('outbox', ''))])
        rows += table('devices: %d online, %d offline%s' % (
            n_on, len(devs) - n_on, (' (first %d shown, offline first)' % self.max_devices)
            if len(devs) > self.max_devices else ''), self._named() + ['status', 'fw', 'last seen', 'outbox'], drows,
            width, widths=self._named(widths=True) + [8, 8, 10, 6])
        rows.append([])

        calls = m.calls.listing()
        if calls:
            crows = [['%s/%s' % (dev, station), str(c['call']),
                      ('RINGING', 'bold cyan') if c['state'] == 'ringing' else 'answered',
                      _ago(c.get('since'), now), str(c.get('by') or '')] for dev, station, c in calls]
            rows += table('intercom calls', ['station', 'call', 'state', 'since', 'by'], crows, width,
                          widths=[20, 8, 9, 6, 10])
            rows.append([])

        foot = [[(KEYS, 'dim')]]
        if self.note:
            foot.append([(clean(self.note), None)])
        del rows[max(1, height - len(foot) - 2):]     # a small terminal: the keys stay on it
        room = height - len(rows) - len(foot) - 1
        log = list(self.lines)[-room:] if room > 0 else []
        rows.append([('events', 'bold')])
        top = len(rows)
        rows += log or [[('no events yet', 'dim')]]
        rows += [[] for _ in range(max(0, height - len(rows) - len(foot)))]
        self.log_rows = (top, len(rows))
        rows += foot
        return rows, keys

    def _named(self, dev=None, widths=False):
        """The device's cells (or the headings, or their widths): a centre's view has a
        site column before the device."""
        if self.mon.site:
            return [14] if widths else [dev] if dev is not None else ['device']
        if widths:
            return [10, 14]
        if dev is None:
            return ['site', 'device']
        return dev.split('/', 1) if '/' in dev else ['', dev]      # the centre's own alarms name no site

    def draw(self, screen):
        width, height = screen.dimensions()
        rows, keys = self.frame(width, height)
        screen.draw(rows, scroll=self.log_rows)
        self.screen_bytes = screen.bytes
        now = time.time()
        self.drawn = {k: self.drawn.get(k, now) for k in keys}

    # --- keys ---------------------------------------------------------------------------------
    def key(self, ch):
        self.dirty = True
        m = self.mon
        alarms = m.active_alarms()
        if ch in ('\x1b[A', '\x1bOA'):
            self.sel = max(0, self.sel - 1)
        elif ch in ('\x1b[B', '\x1bOB'):
            self.sel = min(max(0, len(alarms) - 1), self.sel + 1)
        elif ch in ('k', '\r', '\n'):
            if alarms:
                key = alarms[self.sel][0]
                m.acknowledge(key)
                self.note = 'acknowledged %s/%s %s' % key
            else:
                self.note = 'no alarm to acknowledge'
        elif ch in ('o', 'x'):
            target = self._barrier(alarms)
            if target is None:
                self.note = 'no barrier known on this site yet'
            else:
                op = 'open' if ch == 'o' else 'close'
                m.send(target[0], target[1], op, {})
                self.note = '%s %s/%s sent' % (op, target[0], target[1])
        elif ch in ('a', 'u', 'h', 'c', 'z', 'b'):
            self.note = m.act(ch)

    def _barrier(self, alarms):
        """The barrier of the selected alarm's device, else the first barrier on the site."""
        barriers = sorted(k for k, t in self.mon.ctrl_types.items() if t == 'barrier')
        if alarms:
            dev = alarms[self.sel][0][0]
            for k in barriers:
                if k[0] == dev:
                    return k
        return barriers[0] if barriers else None

    def run(self):
        self.mon.attach(self.ep)
        end = time.monotonic() + self.duration if self.duration else None
        try:
            with Keyboard(self.keyboard) as keyboard, Screen(self.out, self.size) as screen:
                last = 0
                while not self._stop and (end is None or time.monotonic() < end):
                    now = time.monotonic()
                    if self.dirty or now - last >= 1.0:     # new things at once; the clock each second
                        self.dirty = False
                        last = now
                        self.draw(screen)
                    watch = [self._wake_r] + ([sys.stdin] if self.keyboard else [])
                    ready, _, _ = select.select(watch, [], [], max(0.0, min(1.0, last + 1.0 - time.monotonic())))
                    if self._wake_r in ready:
                        os.read(self._wake_r, 4096)
                    if self.keyboard and sys.stdin in ready:
                        ch = keyboard(0)
                        if ch == 'q':
                            break
                        if ch:
                            self.key(ch)
                    if self.mon.housekeep():
                        self.note = 'reconnected to the broker'
                        self.wake()
        except KeyboardInterrupt:
            pass
        finally:
            self.mon.detach()
            if self.mon.store is not None:
                self.mon.store.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
        return 0
