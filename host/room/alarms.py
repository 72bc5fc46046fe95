"""Alarm management for the control room (issue 21): each alarm's priority, when an
unacknowledged one is escalated, chattering alarms folded, and the site's notification
hooks (a command, an HTTP webhook) run on raise, escalate and clear.

The defaults are in protocols/controllers.json (`alarms`); a site file overrides them
under its top-level `alarms:` key, and a device's priorities under the device's `alarms:`
key. The Monitor (host/monitor.py) asks a Policy for priorities and escalation times,
keeps a Chatter per alarm to fold floods, and hands notifications to a Notifier: one
worker thread per hook, each with a bounded queue, so a hook that hangs or fails never
holds up the intake (what fails is kept in `failures` for the monitor to journal and show).
"""
import collections
import http.client
import json
import os
import shlex
import subprocess
import tempfile
import threading
import time
import urllib.parse

from rich.markup import escape

from ..core import proto

EVENTS = ('raise', 'escalate', 'clear')
QUEUE_MAX = 200             # notifications waiting per hook; past it the newest are dropped (and said)
OUTPUT_KEEP = 300           # characters of a failing command's output kept in its failure
BELL_REPEAT_S = 10.0        # an escalated alarm nobody acknowledged rings again this often
STYLE = {'critical': 'bold white on red', 'high': 'bold red', 'medium': 'yellow', 'low': 'cyan'}
BADGE = {'critical': 'CRIT', 'high': 'HIGH', 'medium': 'MED', 'low': 'LOW'}


def defaults():
    return proto.controllers()['alarms']


def rank(priority):
    """0 for critical .. 3 for low (unknown: after low): what views sort by."""
    order = defaults()['priorities']
    return order.index(priority) if priority in order else len(order)


class Policy:
    """Priorities, escalation times and chatter limits: controllers.json's defaults with
    the site file's `alarms:` over them, and each device's `alarms.priority` over those."""

    def __init__(self, site_alarms=None, device_alarms=None):
        d = defaults()
        site_alarms = site_alarms or {}
        self.default = d['default_priority']
        self.priorities = dict(d['priority'], **site_alarms.get('priority', {}))
        self.by_device = {dev: dict(a.get('priority', {})) for dev, a in (device_alarms or {}).items() if a}
        self.escalate = dict(d['escalate_s'], **site_alarms.get('escalate_s', {}))
        chatter = dict(d['chatter'], **site_alarms.get('chatter', {}))
        self.chatter_max, self.chatter_window_s = chatter['max'], chatter['window_s']
        self.hooks = [Hook(h) for h in site_alarms.get('notify', [])]

    @classmethod
    def from_site(cls, site):
        """From a validated site (host/site.py Site)."""
        return cls(site.data.get('alarms'), {dev: d.get('alarms') for dev, d in site.devices.items()})

    def priority(self, device, etype):
        own = self.by_device.get(device)
        if own and etype in own:
            return own[etype]
        return self.priorities.get(etype, self.default)

    def escalate_after(self, priority):
        """Seconds an unacknowledged alarm of this priority waits; None: never escalated."""
        s = self.escalate.get(priority, 0)
        return s or None


class Chatter:
    """Raises of each alarm (device, ctrl, type) within the chatter window: past `max` the
    alarm is chattering until it stays quiet for a whole window. The intake's thread counts
    raises while the view's housekeeping asks which episodes are over: one lock."""

    def __init__(self, max_raises, window_s):
        self.max, self.window_s = max_raises, window_s
        self.raises = {}        # key -> deque of raise times within the window
        self.folded = {}        # key -> raises since the episode began (chattering keys only)
        self._lock = threading.Lock()

    def raised(self, key, now):
        """Count a raise; returns the episode's count when the alarm chatters, else None."""
        with self._lock:
            return self._raised(key, now)

    def _raised(self, key, now):
        times = self.raises.setdefault(key, collections.deque())
        times.append(now)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if key in self.folded:
            self.folded[key] += 1
        elif len(times) > self.max:
            self.folded[key] = len(times)
        return self.folded.get(key)

    def chattering(self, key):
        return key in self.folded

    def devices(self):
        """The devices with an alarm chattering now."""
        with self._lock:
            return {k[0] for k in self.folded}

    def quiet(self, now):
        """Keys whose episode is over (no raise for a whole window): forgotten and returned."""
        with self._lock:
            return self._quiet(now)

    def _quiet(self, now):
        over = [k for k in self.folded if not self.raises[k] or self.raises[k][-1] <= now - self.window_s]
        for k in over:
            del self.folded[k]
        for k in [k for k, t in self.raises.items() if not t or t[-1] <= now - self.window_s]:
            del self.raises[k]
        return over


class AlarmDesk:
    """Alarm management in the control room's model (a part of Monitor, host/room/monitor.py,
    which provides alarms, acked, store, record, show, say, _ring and _room_alarm): each
    alarm's priority, escalation, chattering alarms folded, the hooks told."""

    def __init__(self, policy=None, notifier=None):
        self.policy = policy or Policy()
        self.chatter = Chatter(self.policy.chatter_max, self.policy.chatter_window_s)
        self.notifier = notifier              # the site's notification hooks (Notifier), or None
        self.shelved = {}                     # alarm key -> shelving (a view's, host/room/shelving.py): not escalated

    def _board_alarm(self, key, payload, when, rec):
        """A board's alarm raised or cleared: its priority, the hooks told; an alarm that
        chatters (raised more than the site's chatter max within its window) is folded into
        its one entry with a count, room.chattering raised, and its lines no longer shown."""
        payload['priority'] = self.policy.priority(key[0], key[2])    # (the intake's own parsed copy)
        if payload.get('active'):
            count = self.chatter.raised(key, when)
            if count is None or key not in self.alarms:
                ack = None if key in self.alarms else self.acked.get(key)
                self.alarms[key] = dict(payload, _since=when)
                if ack is not None and (ack.get('seq'), ack.get('log')) != (payload.get('seq'), payload.get('log')):
                    self._clear_ack(key)     # left from a raise whose clearing no view saw: this one is new
            if count is None:
                self._ring()
                self._notify('raise', key, self.alarms[key], when)
                return
            self.alarms[key].update(count=count, chattering=True, cleared=False)
            if count == self.policy.chatter_max + 1:
                self._room_alarm(key[0], 'room.chattering', True, {'alarm': '%s/%s' % key[1:], 'count': count})
            else:
                self._room_alarm(key[0], 'room.chattering', True, {'count': count})
                rec['hidden'] = True
        elif self.chatter.chattering(key) and key in self.alarms:
            self.alarms[key]['cleared'] = True      # the folded entry stays until the device is quiet
            rec['hidden'] = True
        else:
            ev = self.alarms.pop(key, None)
            if ev is not None:
                if key in self.acked:
                    self._clear_ack(key)
                self._notify('clear', key, ev, when)

    def _notify(self, what, key, ev, now=None):
        if self.notifier is not None and key[2] != 'room.notify_failed':    # never about itself: no loop
            self.notifier.notify(what, key, ev, now)

    def check_escalation(self, now=None):
        """Escalate each alarm not acknowledged within its priority's time (the site file's
        alarms.escalate_s): marked, journaled, shown, the hooks told; the bell rings again
        every BELL_REPEAT_S until someone acknowledges it."""
        now = now or time.time()
        ring = False
        for key, ev in list(self.alarms.items()):
            if key in self.acked or key in self.shelved:
                continue
            if ev.get('escalated'):
                ring = ring or now - ev.get('_rung', 0) >= BELL_REPEAT_S
                continue
            after = self.policy.escalate_after(ev.get('priority'))
            if after is None or now - ev.get('_since', now) < after:
                continue
            ev['escalated'] = True
            ring = True
            detail = {'alarm': '%s/%s' % key[1:], 'priority': ev.get('priority'), 'after_s': after,
                      'since': ev.get('_since')}
            if self.store is not None:
                self.store.room_alarm(key[0], 'room.escalated', True, detail)
            rec = {'t': now, 'device': key[0], 'kind': 'evt', 'ctrl': 'room', 'retained': False,
                   'msg': dict(detail, type='room.escalated', sev='warn', ctrl='room', priority=ev.get('priority'))}
            self.record(rec)
            self.show(rec)
            self._notify('escalate', key, ev, now)
        if ring:
            for ev in list(self.alarms.values()):     # the intake's thread changes the dict meanwhile
                if ev.get('escalated'):
                    ev['_rung'] = now
            self._ring()

    def check_chatter(self, now=None):
        """A chattering alarm quiet for a whole window: its folded entry goes if it is
        cleared, and room.chattering clears once none of its device's alarms chatter."""
        now = now or time.time()
        for key in self.chatter.quiet(now):
            ev = self.alarms.get(key)
            if ev is not None:
                ev['chattering'] = False
                if ev.get('cleared'):
                    self._board_alarm(key, dict(ev, active=False), now, {})
            if key[0] not in self.chatter.devices():
                self._room_alarm(key[0], 'room.chattering', False)

    def check_notifier(self):
        """Notifications that failed (after their retries) or were dropped: journaled, shown,
        and room.notify_failed raised (latched until acknowledged)."""
        from .monitor import ROOM           # (monitor imports this module)
        while self.notifier is not None and self.notifier.failures:
            hook, note, why = self.notifier.failures.popleft()
            detail = {'hook': hook, 'why': why, 'event': note.get('event'),
                      'alarm': '%s/%s/%s' % (note.get('device'), note.get('ctrl'), note.get('type'))}
            n = self.alarms.get((ROOM, 'room', 'room.notify_failed'), {}).get('count', 0) + 1
            self._room_alarm(ROOM, 'room.notify_failed', True, dict(detail, count=n))
            if self.store is not None and n > 1:      # the raise journals the first; each later one here
                self.store.room_alarm(ROOM, 'room.notify_failed', True, dict(detail, count=n))
            self.say('[yellow]notification to %s failed: %s (%s)[/]' % (
                escape(hook), escape(why), escape(detail['alarm'])))


class Hook:
    """One `notify:` entry of the site file (validated): what it is for and how to run it."""

    def __init__(self, spec):
        self.events = tuple(spec.get('events', EVENTS))
        self.priorities = tuple(spec.get('priorities', defaults()['priorities']))
        cmd = spec.get('cmd')
        self.argv = shlex.split(cmd) if isinstance(cmd, str) else list(cmd) if cmd else None
        self.url = spec.get('webhook')
        self.timeout_s = float(spec.get('timeout_s', 5))
        self.retries = int(spec.get('retries', 3 if self.url else 0))
        self.backoff_s = float(spec.get('backoff_s', 1))
        if self.url:
            u = urllib.parse.urlsplit(self.url)
            self.name = 'webhook %s://%s%s' % (u.scheme, u.hostname, (':%d' % u.port) if u.port else '')  # no secrets
        else:
            self.name = 'cmd %s' % os.path.basename(self.argv[0])

    def wants(self, what, priority):
        return what in self.events and priority in self.priorities

    def run(self, note):
        """Deliver one notification once; raises OSError/RuntimeError saying why it failed."""
        body = json.dumps(note, sort_keys=True).encode()
        if self.url:
            return self._post(body)
        # edgectl's own variables (operator and Wi-Fi passwords) stay here: the hook gets the alarm's
        env = {k: v for k, v in os.environ.items() if not k.startswith('EDGE_')}
        env.update({'EDGE_ALARM_' + k.upper(): str(note.get(k, '')) for k in
                    ('event', 'site', 'device', 'ctrl', 'type', 'priority', 'since', 'count')})
        env['EDGE_ALARM_ESCALATED'] = '1' if note.get('escalated') else ''
        with tempfile.TemporaryFile() as out:      # its output to a file: a chatty hook cannot fill memory
            try:
                r = subprocess.run(self.argv, input=body, stdout=out, stderr=subprocess.STDOUT,
                                   timeout=self.timeout_s, env=env)
            except subprocess.TimeoutExpired:
                raise RuntimeError('did not finish within %gs (killed)' % self.timeout_s)
            if r.returncode != 0:
                out.seek(max(0, out.tell() - OUTPUT_KEEP))
                said = out.read().decode('utf-8', 'replace').strip()
                raise RuntimeError('exit status %d%s' % (r.returncode, (': ' + said) if said else ''))

    def _post(self, body):
        u = urllib.parse.urlsplit(self.url)
        cls = http.client.HTTPSConnection if u.scheme == 'https' else http.client.HTTPConnection
        conn = cls(u.hostname, u.port, timeout=self.timeout_s)     # no redirects, no proxies: this URL only
        try:
            path = (u.path or '/') + ('?' + u.query if u.query else '')
            conn.request('POST', path, body, {'Content-Type': 'application/json', 'User-Agent': 'edgectl'})
            r = conn.getresponse()
            r.read(4096)
            if not 200 <= r.status < 300:
                raise RuntimeError('HTTP %d %s' % (r.status, r.reason))
        except (OSError, http.client.HTTPException) as e:
            raise RuntimeError(str(e) or type(e).__name__)
        finally:
            conn.close()


class Notifier:
    """Runs the hooks off the intake: notify() only queues (never blocks, never raises);
    one worker per hook delivers in order, retrying a failed delivery `retries` times
    after backoff_s, 2*backoff_s, ... What finally fails, or is dropped because the
    hook's queue is full, goes to `failures` as (hook name, note, why)."""

    def __init__(self, hooks, site=None):
        self.hooks = list(hooks)
        self.site = site
        self.failures = collections.deque(maxlen=1000)
        self.sent = 0
        self.dropped = 0
        self._stop = threading.Event()
        self._queues = []
        self._threads = []
        for h in self.hooks:
            q = collections.deque()
            cv = threading.Condition()
            t = threading.Thread(target=self._work, args=(h, q, cv), daemon=True, name='notify-' + h.name)
            self._queues.append((h, q, cv))
            self._threads.append(t)
            t.start()

    def notify(self, what, key, ev, now=None):
        """Queue a notification of `what` (raise, escalate, clear) for the hooks that want
        it; returns how many were queued."""
        if not self.hooks:
            return 0
        note = {'event': what, 'site': self.site, 'device': key[0], 'ctrl': key[1], 'type': key[2],
                'priority': ev.get('priority'), 'since': ev.get('_since'), 'at': now or time.time(),
                'escalated': bool(ev.get('escalated')), 'count': ev.get('count'),
                'fields': {k: v for k, v in ev.items() if not k.startswith('_') and k not in
                           ('type', 'ctrl', 'sev', 'active', 'priority', 'escalated', 'seq', 'log', 'ts')}}
        if ev.get('seq') is not None:
            note['seq'] = ev.get('seq')
        n = 0
        for h, q, cv in self._queues:
            if not h.wants(what, note['priority']):
                continue
            with cv:
                if len(q) >= QUEUE_MAX:
                    self.dropped += 1
                    self.failures.append((h.name, note, 'its queue is full (%d waiting): notification dropped'
                                          % QUEUE_MAX))
                    continue
                q.append(note)
                cv.notify()
            n += 1
        return n

    def _work(self, hook, q, cv):
        while not self._stop.is_set():
            with cv:
                cv.wait_for(lambda: q or self._stop.is_set())
                if self._stop.is_set():
                    return
                note = q[0]
            why = None
            for attempt in range(hook.retries + 1):
                if attempt and self._stop.wait(hook.backoff_s * 2 ** (attempt - 1)):
                    return
                try:
                    hook.run(note)
                    why = None
                    break
                except (OSError, RuntimeError, ValueError) as e:
                    why = '%s%s' % (e, (' (after %d tries)' % (attempt + 1)) if attempt else '')
            with cv:
                q.popleft()
            if why is None:
                self.sent += 1
            else:
                self.failures.append((hook.name, note, why))

    def pending(self):
        return sum(len(q) for _, q, _ in self._queues)

    def wait_idle(self, timeout):
        """Wait until every queue is empty and delivered (tests, shutdown); True if so."""
        end = time.monotonic() + timeout
        while self.pending() and time.monotonic() < end:
            time.sleep(0.01)
        return not self.pending()

    def close(self):
        self._stop.set()
        for _, _, cv in self._queues:
            with cv:
                cv.notify_all()
