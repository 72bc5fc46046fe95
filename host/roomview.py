"""The control room's full-screen view (`edgectl monitor` on a terminal): devices with
online/offline, last seen and outbox depth; active alarms newest first with their
acknowledgement; intercom calls; the site fire state; a scrolling event log. Keys act on
the selected alarm, the calls and the barriers. The model is the Monitor; this only draws
it and reads keys (`--plain` gives the line-per-event view instead)."""
import collections
import io
import time

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .keys import Keyboard
from .monitor import Monitor

KEYS = ('↑/↓ select alarm  k/Enter acknowledge  a answer call  u release gate  h hang up  '
        'o/x open/close barrier  q quit')


def _ago(t, now):
    if not t:
        return '-'
    d = now - t
    return '%ds' % d if d < 120 else '%dm' % (d // 60) if d < 7200 else '%dh' % (d // 3600)


class RoomView:
    def __init__(self, site, host, port, operator, store, tele_s, bell, duration=None, log_lines=12, secrets=None):
        self.mon = Monitor(site, console=Console(file=io.StringIO()), operator=operator, store=store,
                           tele_s=tele_s, bell=bell, secrets=secrets)
        self.mon.show = self._log
        self.host, self.port = host, port
        self.duration = duration
        self.lines = collections.deque(maxlen=log_lines)
        self.sel = 0
        self.note = ''
        self.drawn = {}            # alarm key -> when it was first drawn (the latency benchmark)
        self.dirty = True
        self.max_devices = 12      # rows: offline ones first; a site of 500 boards fits a screen
        self.max_alarms = 15

    def _log(self, rec):
        if not rec.get('hidden'):
            self.lines.append(self.mon.render(rec))
            self.dirty = True          # redraw now: an alarm is on screen within one frame

    # --- drawing --------------------------------------------------------------------------
    def view(self):
        m = self.mon
        now = time.time()
        alarms = m.active_alarms()
        self.sel = min(self.sel, max(0, len(alarms) - 1))
        fire = m.fire or {}
        head = Text.from_markup('[bold]edgectl control room[/]  site [cyan]%s[/]  operator %s  %s  %s' % (
            escape(m.site), escape(m.operator),
            '[bold white on red] FIRE ACTIVE (by %s) [/]' % escape(str(fire.get('by'))) if fire.get('active') else '',
            time.strftime('%H:%M:%S')))

        al = Table(title='active alarms (%d, %d unacknowledged)' % (len(alarms), sum(1 for a in alarms if not a[2])),
                   expand=True, title_justify='left', box=box.SIMPLE_HEAD)
        for col in ('', 'since', 'device', 'controller', 'type', 'details', 'acknowledged'):
            al.add_column(col)
        first = max(0, min(self.sel - self.max_alarms // 2, len(alarms) - self.max_alarms))
        for i, (key, ev, ack) in enumerate(alarms):
            self.drawn.setdefault(key, now)
            if not first <= i < first + self.max_alarms:
                continue
            details = ' '.join('%s=%s' % (k, v) for k, v in ev.items()
                               if k not in ('seq', 'ts', 'type', 'sev', 'ctrl', 'active', '_since'))
            style = 'reverse' if i == self.sel else ('bold red' if not ack else 'dim')
            al.add_row('>' if i == self.sel else '', time.strftime('%H:%M:%S', time.localtime(ev.get('_since', now))),
                       key[0], key[1], key[2], details, 'by %s' % ack.get('by') if ack else 'NO', style=style)

        devs = sorted(set(m.devices) | set(m.last_seen), key=lambda d: (bool(m.devices.get(d, {}).get('online')), d))
        n_on = sum(1 for d in devs if m.devices.get(d, {}).get('online'))
        dv = Table(title='devices: %d online, %d offline%s' % (
            n_on, len(devs) - n_on, (' (first %d shown, offline first)' % self.max_devices)
            if len(devs) > self.max_devices else ''), expand=True, title_justify='left', box=box.SIMPLE_HEAD)
        for col in ('device', 'status', 'fw', 'last seen', 'outbox'):
            dv.add_column(col)
        for dev in devs[:self.max_devices]:
            st = m.devices.get(dev, {})
            online = st.get('online')
            tele = m.tele.get(dev, {})
            dv.add_row(dev, '[green]online[/]' if online else '[bold red]OFFLINE[/]', str(st.get('fw', '')),
                       _ago(m.last_seen.get(dev), now), str(tele.get('outbox', '')))

        calls = m.calls.listing()
        parts = [head, al, dv]
        if calls:
            ct = Table(title='intercom calls', expand=True, title_justify='left', box=box.SIMPLE_HEAD)
            for col in ('station', 'call', 'state', 'since', 'by'):
                ct.add_column(col)
            for dev, station, c in calls:
                ct.add_row('%s/%s' % (dev, station), str(c['call']),
                           '[bold cyan]RINGING[/]' if c['state'] == 'ringing' else 'answered',
                           _ago(c.get('since'), now), str(c.get('by') or ''))
            parts.append(ct)
        parts.append(Panel(Text.from_markup('\n'.join(self.lines) or 'no events yet'), title='events'))
        parts.append(Text.from_markup('[dim]%s[/]%s' % (KEYS, ('\n' + escape(self.note)) if self.note else '')))
        return Group(*parts)

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
        elif ch in ('a', 'u', 'h', 'c'):
            out = io.StringIO()
            saved = m.console
            m.console = Console(file=out)
            try:
                self.note = m.key(ch)
            finally:
                m.console = saved

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
        self.mon.attach(self.host, self.port)
        console = Console()
        end = time.monotonic() + self.duration if self.duration else None
        try:
            with Keyboard(True) as read_key, Live(self.view(), console=console, screen=True,
                                                  auto_refresh=False) as live:
                last = 0
                while end is None or time.monotonic() < end:
                    ch = read_key(0.02)
                    if ch == 'q':
                        break
                    if ch:
                        self.key(ch)
                    self.mon.check_silence()
                    if self.dirty or time.monotonic() - last >= 1.0:   # new things at once; the clock each second
                        self.dirty = False
                        last = time.monotonic()
                        live.update(self.view(), refresh=True)
        except KeyboardInterrupt:
            pass
        finally:
            self.mon.detach()
            if self.mon.store is not None:
                self.mon.store.close()
        return 0
