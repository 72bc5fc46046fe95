"""The control room's model: devices online/offline, each event as it arrives, alarms
and their acknowledgements, calls, duplicates dropped and gaps reported by (device, log,
seq); shown as lines here (`--plain`, `--json`) or full screen by host/roomview.py.

Every message passes host/intake.py first: one that fails (not JSON, not an object, an
event off the schema or out of bounds) is set aside in the journal's quarantine, counted
(`quarantined`) and raises the control-room alarm room.malformed for its device; nothing
else of it reaches the view or the journal. A gap in a device's seqs becomes a report only
once it outlives the reorder window (host/journal.py)."""
import contextlib
import json
import threading
import time
import uuid

from rich.console import Console
from rich.markup import escape

from . import intake
from .calls import Calls
from .fire import SiteState
from .journal import Journal
from .shelving import Shelf
from ..core.recorder import Recorder
from .alarms import BADGE, STYLE, AlarmDesk, rank
from .screen import clean
from ..core.errors import EdgeError

from ..core.proto import topics
from ..core import centre

SKIP_FIELDS = ('seq', 'log', 'ts', 'type', 'sev', 'ctrl', 'active', '_since', 'priority', '_rung', 'escalated',
               'chattering', 'cleared')
KEYS = {'a': 'answer', 'u': 'unlock', 'h': 'hangup'}
ROOM = 'control-room'     # the device named in the control room's alarms about itself
LATCHED = ('room.malformed', 'room.journal_damaged', 'room.notify_failed')   # no condition ends them: acknowledging does
HELP = ('keys: k acknowledge the newest alarm, a answer the oldest ringing call, u release the gate, '
        'h hang up, b block the ringing station, c list calls, z arm the zones, q quit')


class Monitor(Recorder, AlarmDesk):
    def __init__(self, site, console=None, as_json=False, quiet_state=True, operator=None, store=None,
                 tele_s=None, bell=None, secrets=None, say=None, policy=None, notifier=None, sites=None):
        """site None: every site on the broker (a monitoring centre): devices are named
        SITE/DEVICE, each site's bridge state is watched (room.bridge_down), `sites` (names)
        filters which are shown and kept."""
        self.site = site
        self.sites = set(sites) if sites else None
        self.fire_states = {}        # all sites: site -> SiteState
        # the view's: an event shown (show) and a line for the operator (say, rich markup)
        self.say = say or (lambda markup: self.console.print(markup))
        AlarmDesk.__init__(self, policy, notifier)     # priorities, escalation, chatter, hooks
        self.operator = operator or 'control-room'
        self.calls = Calls()
        self.store = store           # the SQLite journal (host/store.py), or None
        self.shelf = Shelf(store)    # the site's shelvings (in the journal: shared by every view)
        self.shelved = self.shelf.items      # a shelved alarm is not escalated (host/room/alarms.py)
        self.tele_s = tele_s or {}   # device -> telemetry period: silent for 3 periods is an alarm
        self.bell = bell             # called on every new alarm
        self.secrets = secrets       # the site's secrets: commands are signed with the device's key
        self.acked = {}              # alarm key -> {'by', 'seq', 'at'} (retained site acks)
        self.last_seen = {}          # device -> time of its last message
        self.fire = None             # the site fire state, derived from the retained raises and reset
        self.fire_state = SiteState()
        self.tele = {}               # device -> its last telemetry
        self.ctrl_types = {}         # (device, controller) -> type, from state snapshots
        self.ack_prefix = topics.base(site, topics.SITE) + 'alarm_ack/'
        self.console = console or Console(highlight=False, soft_wrap=True)
        self.as_json = as_json
        self.quiet_state = quiet_state
        self.devices = {}        # device -> status dict
        self.alarms = {}         # (device, ctrl, type) -> event
        self.journal = Journal(keep=False)   # the events themselves are in the store
        self.gaps = []           # (device, first missing, last missing), once past the reorder window
        self.quarantined = 0     # messages set aside (host/intake.py refused them)
        Recorder.__init__(self, keep=20000)
        self.records = self.items    # the newest records, in order (marks count every one)
        self.client = None           # paho, for publishing
        self.sub = None              # the reader
        self._received = 0
        self.reconnects = 0
        self.persistent = False
        self.shared = False          # one of several writers on a shared subscription: sees part of each stream
        self._held = threading.local()   # .recs: this thread's records inside handle_batch

    # --- feeding -----------------------------------------------------------------------
    def handle(self, topic, raw, retained=False, when=None):
        when = when or time.time()
        if self.site is None:
            return self._handle_any(topic, raw, retained, when)
        if topic.startswith(self.ack_prefix):
            return self._alarm_ack(topic[len(self.ack_prefix):], raw)
        parsed = topics.parse(topic)
        if parsed is None or parsed[0] != self.site:
            return None
        return self._handle(parsed, topic, raw, retained, when)

    def _handle_any(self, topic, raw, retained, when):
        """A centre's monitor: any site's message, its devices named SITE/DEVICE."""
        parts = topic.split('/')
        if len(parts) < 5 or parts[:2] != [topics.ROOT, topics.VERSION] or (self.sites and parts[2] not in self.sites):
            return None
        site = parts[2]
        if parts[3] == topics.SITE and parts[4] == 'alarm_ack' and len(parts) == 8:
            return self._alarm_ack('%s/%s/%s/%s' % (site, parts[5], parts[6], parts[7]), raw)
        if parts[3] == topics.SITE and parts[4] == centre.BRIDGE_STATE and len(parts) == 5:
            self._room_alarm(site + '/' + topics.SITE, 'room.bridge_down', raw.strip() != b'1', {'site': site})
            return None
        parsed = topics.parse(topic)
        if parsed is None:
            return None
        return self._handle((site, site + '/' + parsed[1]) + parsed[2:], topic, raw, retained, when)

    def _handle(self, parsed, topic, raw, retained, when):
        site, dev, kind, ctrl = parsed
        if dev.split('/')[-1] == topics.SITE:
            if kind == 'fire':       # the reset record (ctrl None) or a raise (ctrl: who raised)
                state = self.fire_state if self.site else self.fire_states.setdefault(site, SiteState())
                was, self.fire = self.fire, state.update(ctrl, raw)
                rec = {'t': when, 'device': dev, 'kind': kind, 'ctrl': None, 'msg': self.fire or {}, 'retained': retained}
                self.record(rec)
                if self.fire != was:     # shown when the site's state changes, not per message
                    self.show(rec)
                return rec
            return None
        self.last_seen[dev] = when
        self._room_alarm(dev, 'room.silent', False)
        payload, why = intake.check(kind, raw)
        if why is not None:
            return self._quarantine(topic, dev, raw, why)
        rec = {'t': when, 'device': dev, 'kind': kind, 'ctrl': ctrl, 'msg': payload, 'retained': retained}
        if kind == 'status':
            self.devices[dev] = payload
            self._room_alarm(dev, 'room.offline', not payload.get('online'))
        elif kind == 'evt':
            if not self._fresh(dev, payload, when):
                return None
            if self.store is not None:
                self.store.event(dev, payload, when, raw)
            self.calls.feed(dev, kind, ctrl, payload)
            if payload.get('sev') == 'alarm':
                self._board_alarm((dev, payload.get('ctrl'), payload.get('type')), payload, when, rec)
        elif kind == 'log':              # a board's log line (intake-checked): journaled, not in the event log
            if self.store is not None:
                self.store.board_log(dev, payload, when)
            rec['hidden'] = True
        elif kind == 'ack' and self.store is not None:
            self.store.ack(*(v if v is None or type(v) in (str, bool) else str(v)
                             for v in (payload.get('id'), payload.get('ok'), payload.get('err'))))
        elif kind in ('cmd', 'tele') or (kind == 'state' and self.quiet_state):
            if kind == 'state':
                self.calls.feed(dev, kind, ctrl, payload)
                self.ctrl_types[(dev, ctrl)] = payload.get('type')
            elif kind == 'tele':
                self.tele[dev] = payload
            rec['hidden'] = True
        self.record(rec)
        if not rec.get('hidden'):
            self.show(rec)
        return rec

    def handle_batch(self, batch):
        """handle() for each (topic, payload, retained) of an MQTT batch, their journal rows
        handed to the store's writer at once; the records become visible to wait_for()
        only after that (whoever waits for one and then flushes the store finds its row)."""
        when = time.time()
        held = self._held.recs = []
        try:
            with self.store.hold() if self.store is not None else contextlib.nullcontext():
                for topic, raw, retained in batch:
                    try:
                        self.handle(topic, raw, retained, when)
                    except Exception as e:     # a message this code cannot take must not stop the intake
                        parsed = topics.parse(topic)
                        self._quarantine(topic, parsed[1] if parsed else None, raw, 'could not be handled: %r' % e)
                self.check_gaps(when)
        finally:
            self._held.recs = None
            Recorder.record_many(self, held)

    def record(self, rec):
        held = getattr(self._held, 'recs', None)
        if held is not None:
            held.append(rec)
        else:
            Recorder.record(self, rec)

    @property
    def duplicates(self):
        return self.journal.duplicates

    def _fresh(self, dev, ev, when=None):
        verdict, gap = self.journal.admit(dev, ev, when)
        if verdict == 'dup':
            return False
        if verdict == 'new-log':
            self.say('[cyan]%s started a new event log (flash erased or board replaced): its events '
                               'count from #%s again[/]' % (escape(dev), ev.get('seq')))
        return True

    def check_gaps(self, now=None):
        """Report the gaps that outlived the reorder window (late events inside it never
        make one): journaled and printed."""
        if self.shared:          # a share of the stream: its holes are the other writers' events
            return
        if not self.journal.pending or self.journal.pending[0][0] > (now or time.time()):
            return
        for dev, log, first, last in self.journal.overdue(now):
            self.gaps.append((dev, first, last))
            del self.gaps[:-1000]
            if self.store is not None:
                self.store.gap(dev, log, first, last)
            self.say('[yellow]%s  gap: events %d..%d have not arrived (still missing %gs after later ones)[/]'
                               % (escape(dev), first, last, self.journal.reorder_s))

    def _quarantine(self, topic, dev, raw, why):
        """Set a message aside: kept raw in the journal, counted, room.malformed for its device."""
        self.quarantined += 1
        if self.store is not None:
            self.store.quarantine(topic, dev, raw, why)
        dev = dev or ROOM
        n = self.alarms.get((dev, 'room', 'room.malformed'), {}).get('count', 0) + 1    # since the alarm was raised
        self._room_alarm(dev, 'room.malformed', True, {'why': why, 'topic': topic, 'count': n})
        return None

    # --- control-room alarms and acknowledgements --------------------------------------------
    def _ring(self):
        if self.bell:
            try:
                self.bell()
            except Exception:
                pass

    def _room_alarm(self, dev, etype, active, detail=None):
        """Alarms the control room raises itself: a board offline (its will, or a clean
        disconnect) or silent (no message for 3 telemetry periods, when no will could fire);
        a message from it set aside (room.malformed); the journal file found damaged
        (room.journal_damaged). The last two (LATCHED) end when acknowledged. `detail`
        goes with the alarm (while it is active, a repeat only updates it)."""
        key = (dev, 'room', etype)
        if active == (key in self.alarms):
            if active and detail:
                self.alarms[key].update(detail)
            return
        ev = dict(detail or {}, type=etype, sev='alarm', ctrl='room', active=active, _since=time.time(),
                  priority=self.policy.priority(dev, etype))
        if active:
            self.alarms[key] = ev
            self._ring()
            self._notify('raise', key, ev)
        else:
            was = self.alarms.pop(key, None)
            if key in self.acked:
                self._clear_ack(key)
            self._notify('clear', key, was or ev)
        if self.store is not None:
            self.store.room_alarm(dev, etype, active, detail)
        rec = {'t': time.time(), 'device': dev, 'kind': 'evt', 'ctrl': 'room', 'msg': ev, 'retained': False}
        self.record(rec)
        self.show(rec)

    def housekeep(self):
        """What every running view calls now and then: silent boards raised, gaps past the
        reorder window reported, rows the journal refused alarmed, the link to the broker
        checked (see check_link); True when it was re-established."""
        self.check_silence()
        self.check_gaps()
        self.review_shelf()
        self.check_escalation()
        self.check_chatter()
        self.check_notifier()
        while self.store is not None and self.store.refused:
            dev, why = self.store.refused.popleft()
            self._room_alarm(dev or ROOM, 'room.malformed', True, {'why': why})
        return self.check_link()

    def review_shelf(self):
        """Shelvings over (time up, alarm cleared or raised anew) end: whichever view runs."""
        try:
            self.shelf.review(self.alarms)
        except Exception as e:       # sqlite3.Error and the like: the view carries on; said once
            if getattr(self, '_shelf_error', None) != repr(e):
                self._shelf_error = repr(e)
                self.say('[red]cannot read the shelvings: %s[/]' % escape(str(e)))

    def check_silence(self, now=None):
        """Raise room.silent for devices not heard from for 3 x their tele period."""
        now = now or time.time()
        for dev, period in self.tele_s.items():
            seen = self.last_seen.get(dev)
            if seen is not None and now - seen > 3 * period and self.devices.get(dev, {}).get('online'):
                self._room_alarm(dev, 'room.silent', True)

    def _alarm_ack(self, rest, raw):
        parts = rest.split('/')
        if len(parts) == 4 and self.site is None:           # a centre's: SITE/DEVICE/CTRL/TYPE
            parts[:2] = ['/'.join(parts[:2])]
        if len(parts) != 3:
            return None
        key = tuple(parts)
        body = intake.parse(raw, intake.MAX_BYTES_OTHER)[0] if raw else None
        if body:
            self.acked[key] = body
            if key[1] == 'room' and key[2] in LATCHED:     # acknowledged by another monitor: over here too
                self._room_alarm(key[0], key[2], False)
        else:
            self.acked.pop(key, None)
        return key

    def acknowledge(self, key, by=None):
        """Acknowledge an active alarm for the whole site (retained, so every monitor agrees)."""
        ev = self.alarms.get(key)
        if ev is None:
            return None
        body = {'by': by or self.operator, 'at': time.time(), 'seq': ev.get('seq'), 'log': ev.get('log')}
        self.acked[key] = body
        if self.client is not None:
            self.client.publish(topics.alarm_ack(*self._where(key[0]) + key[1:]), json.dumps(body), qos=1, retain=True)
        if self.store is not None:
            self.store.alarm_ack(key[0], key[1], key[2], ev.get('seq') or 0, body['by'], body['at'])
        if key[1] == 'room' and key[2] in LATCHED:
            self._room_alarm(key[0], key[2], False)
        return body

    def _clear_ack(self, key):
        self.acked.pop(key, None)
        if self.client is not None:        # the alarm is over: its retained acknowledgement goes
            self.client.publish(topics.alarm_ack(*self._where(key[0]) + key[1:]), b'', qos=1, retain=True)

    def active_alarms(self):
        """(key, event, ack or None): by priority (critical first), escalated first within
        it, then newest first."""
        return sorted(((k, e, self.acked.get(k)) for k, e in self.alarms.items()),
                      key=lambda x: (rank(x[1].get('priority')), not x[1].get('escalated'), -x[1].get('_since', 0)))

    # --- showing -------------------------------------------------------------------------
    def show(self, rec):
        if self.as_json:
            print(json.dumps({k: v for k, v in rec.items() if k != 'hidden'}), flush=True)
            return
        self.console.print(self.render(rec))

    def render(self, rec):
        ts = time.strftime('%H:%M:%S', time.localtime(rec['t'])) + '.%03d' % (int(rec['t'] * 1000) % 1000)
        dev = rec['device']
        m = rec['msg']
        kind = rec['kind']
        if kind == 'status':
            if m.get('online'):
                return '%s  [bold green]%-12s ONLINE[/]  fw %s boot %s reset %s%s' % (
                    ts, escape(dev), m.get('fw'), m.get('boot'), m.get('reset'), ' (retained)' if rec['retained'] else '')
            return '%s  [bold red]%-12s OFFLINE[/]' % (ts, escape(dev))
        if kind == 'evt':
            extra = clean(' '.join('%s=%s' % (k, v) for k, v in m.items() if k not in SKIP_FIELDS))  # no ESC from a board
            sev = m.get('sev')
            label = '%-10s %-22s' % (escape(str(m.get('ctrl'))), escape(str(m.get('type'))))
            prio = m.get('priority')
            if sev == 'alarm' and m.get('active'):
                body = '[bold white on red] ALARM [/] [%s]%-4s[/] [bold red]%s[/]' % (
                    STYLE.get(prio, 'bold red'), BADGE.get(prio, ''), label)
            elif sev == 'alarm':
                body = '[bold green] CLEAR [/] %-4s [green]%s[/]' % (BADGE.get(prio, ''), label)
            elif m.get('type') == 'room.escalated':
                body = '[blink bold white on red] ESCAL [/] [%s]%-4s[/] [bold red]%s[/]' % (
                    STYLE.get(prio, 'bold red'), BADGE.get(prio, ''), label)
            elif sev == 'warn':
                body = '[bold yellow] WARN  [/] [yellow]%s[/]' % label
            elif m.get('type') == 'intercom.call':
                body = '[bold black on cyan] CALL  [/] [bold cyan]%s[/]' % label
                extra += '  (a: answer)'
            elif m.get('type') == 'intercom.answered':
                body = '[bold cyan] TALK  [/] [cyan]%s[/]' % label
                extra += '  (u: release the gate, h: hang up)' if m.get('by') == self.operator else ''
            elif m.get('type') in ('intercom.ended', 'intercom.unlock'):
                body = '        [cyan]%s[/]' % label
            else:
                body = '        %s' % label
            seq = '#%s ' % m['seq'] if 'seq' in m else ''     # the control room's own alarms have none
            return '%s  %-12s %s %s%s' % (ts, escape(dev), body, seq, escape(extra))
        if kind == 'fire':
            if m.get('active'):
                return '%s  [bold white on red] FIRE  [/] [bold red]site fire state ACTIVE[/] by %s' % (ts, escape(str(m.get('by'))))
            return '%s  [bold green] FIRE  [/] site fire state clear%s' % (ts, (' (reset by %s)' % escape(str(m.get('by')))) if m else '')
        if kind == 'ack':
            if m.get('ok'):
                return '%s  %-12s ack %s %s ok' % (ts, escape(dev), rec['ctrl'], m.get('id'))
            return '%s  %-12s [yellow]ack %s %s refused: %s[/]' % (ts, escape(dev), rec['ctrl'], m.get('id'),
                                                                   escape(clean(m.get('err'))))
        return '%s  %-12s %s/%s %s' % (ts, escape(dev), kind, rec['ctrl'], escape(json.dumps(m)))

    # --- the operator's keys ------------------------------------------------------------
    def key(self, ch):
        """One key from the operator (the line view); returns what was done, also printed."""
        msg = self.act(ch)
        if not self.as_json:
            self.say('[bold]>[/] ' + escape(msg))
        return msg

    def act(self, ch):
        """Carry out an operator's key; returns what was done (printing is the view's)."""
        if ch == 'k':
            pending = [x for x in self.active_alarms() if x[2] is None]
            if pending:
                key = pending[0][0]
                self.acknowledge(key)
                msg = 'acknowledged %s/%s %s' % key
            else:
                msg = 'no unacknowledged alarm'
        elif ch == 'c':
            lines = ['%s/%s call %s %s%s' % (d, st, c['call'], c['state'], ' by %s' % c['by'] if c.get('by') else '')
                     for d, st, c in self.calls.listing()]
            msg = 'open calls: ' + ('; '.join(lines) if lines else 'none')
        elif ch == 'b':         # a nuisance caller: block the oldest ringing station (ends its call)
            t = self.calls.target('answer', self.operator)
            if t is None:
                msg = 'no call is ringing: unblock or block a station with edgectl cmd DEVICE STATION block|unblock'
            else:
                cid = self.send(t[0], t[1], 'block', {'by': self.operator})
                msg = 'block %s/%s (%s)' % (t[0], t[1], cid)
        elif ch == 'z':         # one key arms; disarming takes a PIN: `edgectl zone disarm`
            zones = sorted(k for k, t in self.ctrl_types.items() if t == 'zone')
            for dev, zone in zones:
                self.send(dev, zone, 'arm', {'by': self.operator})
            msg = ('arm %s sent' % ', '.join('%s/%s' % z for z in zones)) if zones else 'no zone known on this site yet'
        elif ch in KEYS:
            action = KEYS[ch]
            t = self.calls.target(action, self.operator)
            if t is None:
                msg = {'answer': 'no call is ringing',
                       'unlock': 'no call answered by %s: answer one first (a)' % self.operator,
                       'hangup': 'no call to hang up'}[action]
            else:
                dev, station, c = t
                args = {'call': c['call']}
                if action == 'answer':
                    args['by'] = self.operator
                cid = self.send(dev, station, action, args)
                msg = '%s %s/%s call %s (%s)' % (action, dev, station, c['call'], cid)
        else:
            msg = HELP
        return msg

    def send(self, device, ctrl, op, args):
        """Publish a command; its ack comes back on the site's topics and is shown."""
        from ..core import secrets as _secrets
        from ..core.commands import signed
        cid = 'm-%s' % uuid.uuid4().hex[:8]
        body = dict(args, id=cid, op=op)
        key = _secrets.cmd_key(self.secrets, device)
        if key is not None:
            body = signed(body, device, ctrl, key)
        if self.store is not None:
            self.store.command(cid, device, ctrl, op, body)
        self.client.publish(topics.cmd(*self._where(device) + (ctrl,)), json.dumps(body), qos=1)
        return cid

    def _where(self, device):
        """(site, device) of a device as this monitor names it (a centre's: SITE/DEVICE)."""
        return (self.site, device) if self.site else tuple(device.split('/', 1))

    def wait_ack(self, cid, timeout):
        return self.wait_for(lambda r: r['kind'] == 'ack' and r['msg'].get('id') == cid, timeout)

    # --- running -------------------------------------------------------------------------
    def attach(self, ep, client_id=None, persistent=False, publish=True, share=None):
        """Listen to the site: the lean reader (host/mqttraw.py) hands over messages in
        batches and acknowledges each batch only once it is handled and, with a store,
        committed. persistent: a fixed client_id whose session the broker keeps while we
        are away (the headless journal). publish: also a paho client for commands and
        acknowledgements. `ep`: the broker and login (mqttc.Endpoint)."""
        from ..core.mqttraw import RawSubscriber
        if publish:
            self.client = ep.connect('monitor')
        cid = client_id or 'monitor-%s' % uuid.uuid4().hex[:8]
        self.persistent = persistent
        sub = topics.site_filter(self.site or '+')
        if share:          # writers sharing the load: each message goes to one of the group
            sub = '$share/%s/%s' % (share, sub)
        self._link = lambda: RawSubscriber(ep.host, ep.port, cid, [sub], self._batch,
                                           clean=not persistent, auth=ep.auth, ca=ep.ca)
        self.check_store()
        self.sub = self._link()
        return self

    def check_store(self):
        """A journal file found damaged at open (host/store.py set it aside): the alarm
        room.journal_damaged and a line say so."""
        d = self.store.damaged if self.store is not None else None
        if d and not d.get('raised'):
            d['raised'] = True
            self.say('[bold red]the journal %s was damaged (%s): set aside as %s; journaling into a fresh '
                               'one[/]' % (escape(str(self.store.path)), escape(d['why']), escape(d['file'])))
            self._room_alarm(ROOM, 'room.journal_damaged', True, {'file': d['file'], 'why': d['why']})

    def _batch(self, batch, release):
        self.handle_batch(batch)
        if self.store is not None and self.persistent:
            self.store.then(release)      # acknowledged once committed: the broker keeps it till then
        else:
            release()                     # a clean session loses unacknowledged ones anyway: keep reading

    @property
    def received(self):
        """Messages read from the broker so far (across reconnects)."""
        return self._received + (self.sub.received if self.sub else 0)

    def check_link(self):
        """Call now and then: raises when the journal can no longer keep what arrives (the
        broker keeps every unacknowledged message for the next run); reconnects when the
        link dropped (what comes again is dropped by (device, log, seq)). True when it
        reconnected."""
        if self.store is not None and self.store.error and self.persistent:
            raise EdgeError('the journal cannot write %s (%s): stopped without acknowledging; the broker keeps '
                            'the events for the next run' % (self.store.path, self.store.error))
        if self.sub is not None and self.sub.failed and self.persistent:
            raise EdgeError('the journal\'s intake failed (%s): stopped; the broker keeps what was not '
                            'acknowledged for the next run' % self.sub.failed)
        if self.sub is None or self.sub.t.is_alive():
            return False
        if self.store is not None:
            self.store.flush()
        self._received += self.sub.received
        self.sub.received = 0
        self.sub.close()
        try:
            self.sub = self._link()
        except EdgeError:
            return False              # the dead one is kept: the next call tries again
        self.reconnects += 1
        return True

    def detach(self):
        if self.sub is not None:
            self.sub.close()
            self._received += self.sub.received
            self.sub = None
        if self.client:
            self.client.disconnect()      # first: its network thread then ends at once (else up to 1 s)
            self.client.loop_stop()
            self.client = None

    def wait_event(self, device, etype, timeout, active=None, start=0):
        """Wait for an event record (index >= start); returns the record or None."""
        return self.wait_for(lambda r: r['kind'] == 'evt' and r['device'] == device and
                             r['msg'].get('type') == etype and (active is None or r['msg'].get('active') == active),
                             timeout, start)

    def summary(self):
        online = sorted(d for d, s in self.devices.items() if s.get('online'))
        offline = sorted(d for d, s in self.devices.items() if not s.get('online'))
        return {'online': online, 'offline': offline,
                'active_alarms': ['%s/%s %s' % k for k in sorted(self.alarms)],
            'acknowledged': ['%s/%s %s' % k for k in sorted(self.acked)],
                'duplicates_dropped': self.duplicates, 'gaps': self.gaps, 'set_aside': self.quarantined}
