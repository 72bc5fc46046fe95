"""What `edgectl web` serves, over the control room's own model (host/monitor.py, the same
intake and journal as `edgectl monitor`): a snapshot of the site for the page (devices
coloured by state, alarms with acknowledgement and shelving, calls, the fire state), the
live log, and the operators' actions, each carried out with the logged-in operator's
identity (never one from the request) and journaled.

One pump thread turns what the intake changed into pushes: a new snapshot when it differs
from the last one, and every shown record for the live log, to each open page's queue
(pages that cannot keep up are dropped; their browser reconnects and starts from a fresh
snapshot)."""
import collections
import json
import sys
import threading
import time

from ..monitor import ROOM, SKIP_FIELDS, Monitor
from ..shelving import ShelfError

# the commands a page may send, per controller type (intercom ones act on the station's call)
ACTIONS = {'door': ('unlock', 'lock'), 'barrier': ('open', 'close', 'stop'), 'intercom': ('answer', 'unlock', 'hangup'),
           'pump': ('start', 'stop', 'reset')}
LAST_EVENTS = 20
QUEUE_MAX = 2000          # pushes waiting for a page; beyond it the page is dropped (it reconnects)
OFFLINE_TYPES = ('room.offline', 'room.silent')


class ActionError(Exception):
    """An action refused: `status` is the HTTP status, the message says why."""

    def __init__(self, msg, status=409):
        Exception.__init__(self, msg)
        self.status = status


class WebMonitor(Monitor):
    """The monitor the web serves from: its model changes under `lock`, and `changed` is
    called after every batch from the broker."""

    def __init__(self, *a, changed=None, **kw):
        self.notes = collections.deque(maxlen=100)     # what the model says (gaps, a new event log, ...)
        kw.setdefault('say', self._note)
        Monitor.__init__(self, *a, **kw)
        self.lock = threading.RLock()
        self.changed = changed or (lambda: None)

    def _note(self, markup):
        from rich.text import Text
        text = Text.from_markup(markup).plain
        self.notes.append((time.time(), text))
        print(text, flush=True)
        self.changed()

    def show(self, rec):
        pass                     # the pages show it

    def handle_batch(self, batch):
        with self.lock:
            Monitor.handle_batch(self, batch)
        self.changed()


class Page:
    """One open page's push queue (server-sent events)."""

    def __init__(self, token):
        self.token = token
        self.items = collections.deque()
        self.cond = threading.Condition()
        self.dropped = False

    def push(self, kind, data):
        with self.cond:
            if len(self.items) >= QUEUE_MAX:
                self.dropped = True
            else:
                self.items.append((kind, data))
            self.cond.notify()

    def take(self, timeout):
        """Everything queued (a run of snapshots folded to the newest), waiting up to timeout."""
        with self.cond:
            if not self.items and not self.dropped:
                self.cond.wait(timeout)
            items, self.items = list(self.items), collections.deque()
        out = []
        for kind, data in items:
            if kind == 'state' and out and out[-1][0] == 'state':
                out[-1] = (kind, data)
            else:
                out.append((kind, data))
        return out


class Hub:
    def __init__(self, site, mon, store=None):
        """site: the loaded site file (host/site.py) or None; mon: a WebMonitor attached
        to the broker (or fed by a test); store: its journal."""
        self.site = site
        self.mon = mon
        self.store = store
        self.shelf = mon.shelf             # the site's shelvings, in the journal (host/room/shelving.py)
        self.pages = set()
        self.pages_lock = threading.Lock()
        self.kick = threading.Event()
        mon.changed = self.kick.set
        self.mark = mon.mark()
        self.last_state = None
        self.stopped = threading.Event()
        self.t = None

    # --- pushing ---------------------------------------------------------------------------
    def start(self):
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()
        return self

    def stop(self):
        """Stop pushing. The site's shelvings stay (in the journal); without a journal they
        end here (journaled `stopped`: the alarms are back for whoever watches next)."""
        self.stopped.set()
        self.kick.set()
        if self.t is not None:
            self.t.join(5)
        with self.mon.lock:
            self.shelf.stop()

    def _run(self):
        last_house = 0.0
        while not self.stopped.is_set():
            self.kick.wait(0.25)
            self.kick.clear()
            try:
                if time.monotonic() - last_house >= 0.25:
                    last_house = time.monotonic()
                    with self.mon.lock:
                        self.mon.housekeep()
                self.tick()
            except Exception as e:       # the pages must keep getting pushes: say it, go on
                sys.stderr.write('edgectl web: pushing failed: %r\n' % e)
                time.sleep(1)

    def tick(self):
        """Push what changed since the last tick: shown records to the live log, the
        snapshot when it differs. Shelvings that are over end here."""
        with self.mon.lock:
            self.mon.review_shelf()
            state = json.dumps(self._snapshot())
        recs = self._new_records()
        while self.mon.notes:
            t, text = self.mon.notes.popleft()
            recs.append({'t': t, 'device': ROOM, 'kind': 'note', 'ctrl': None, 'msg': {'text': text}})
        for rec in recs:
            self._broadcast('log', json.dumps(rec))
        if state != self.last_state:
            self.last_state = state
            self._broadcast('state', state)

    def _new_records(self):
        m = self.mon
        with m.cond:
            items = m.items[max(0, self.mark - m.base):]
            self.mark = m.base + len(m.items)
        return [public(r) for r in items if not r.get('hidden')]

    def _broadcast(self, kind, data):
        with self.pages_lock:
            pages = list(self.pages)
        for p in pages:
            p.push(kind, data)

    def open_page(self, token):
        p = Page(token)
        with self.mon.lock:
            p.push('state', json.dumps(self._snapshot()))
        with self.pages_lock:
            self.pages.add(p)
        return p

    def close_page(self, p):
        with self.pages_lock:
            self.pages.discard(p)

    # --- what a page sees ------------------------------------------------------------------
    def state(self):
        with self.mon.lock:
            return self._snapshot()

    def _controllers(self, dev):
        """[(name, type)] of a device: the site file's, else what its state snapshots said."""
        if self.site is not None and dev in self.site.devices:
            return [(c['name'], c['type']) for c in self.site.devices[dev]['controllers']]
        return sorted((c, t) for (d, c), t in self.mon.ctrl_types.items() if d == dev and t)

    def _device_names(self):
        m = self.mon
        names = set(m.devices) | {k[0] for k in m.alarms}
        if self.site is not None:
            names |= set(self.site.devices)
        names.discard(ROOM)
        return sorted(names)

    def _device_state(self, dev):
        m = self.mon
        fire = bool((m.fire or {}).get('active'))
        mine = [k for k in m.alarms if k[0] == dev and self.shelf.get(k) is None]
        if fire or any(k[2].endswith('.fire_release') for k in mine):
            return 'fire'
        status = m.devices.get(dev)
        if status is None and not mine:
            return 'unknown'
        if (status is not None and not status.get('online')) or any(k[2] in OFFLINE_TYPES for k in mine):
            return 'offline'
        if any(k[2].endswith('.fault') for k in mine):
            return 'fault'
        if any(k not in m.acked for k in mine):
            return 'alarm'
        return 'acknowledged' if mine else 'normal'

    def _snapshot(self):
        m = self.mon
        devices = []
        for d in self._device_names():
            conf = self.site.devices.get(d, {}) if self.site is not None else {}
            devices.append({'id': d, 'state': self._device_state(d), 'online': (m.devices.get(d) or {}).get('online'),
                            'ctrls': [{'name': c, 'type': t, 'actions': list(ACTIONS.get(t, ()))}
                                      for c, t in self._controllers(d)],
                            'camera': conf.get('camera')})
        alarms = []
        for key, ev, ack in m.active_alarms():
            alarms.append({'key': list(key), 'device': key[0], 'ctrl': key[1], 'type': key[2],
                           'since': ev.get('_since'), 'seq': ev.get('seq'), 'priority': ev.get('priority'),
                           'acked': ack, 'shelved': self.shelf.get(key), 'escalated': bool(ev.get('escalated')),
                           'count': ev.get('count'),
                           'detail': {k: v for k, v in ev.items() if k not in SKIP_FIELDS and k != 'priority'}})
        calls = [{'device': d, 'station': s, 'call': c['call'], 'state': c['state'], 'by': c.get('by'),
                  'since': c.get('since')} for d, s, c in m.calls.listing()]
        return {'site': m.site, 'devices': devices, 'alarms': alarms, 'calls': calls,
                'fire': m.fire if (m.fire or {}).get('active') else None}

    def details(self, dev):
        """A device's pop-up: its state, controllers, camera, alarms and last events."""
        with self.mon.lock:
            snap = self._snapshot()
        d = next((x for x in snap['devices'] if x['id'] == dev), None)
        if d is None:
            raise ActionError('no device %r' % dev, 404)
        d['events'] = self._last_events(dev)
        d['alarms'] = [a for a in snap['alarms'] if a['device'] == dev]
        d['calls'] = [c for c in snap['calls'] if c['device'] == dev]
        return d

    def _last_events(self, dev):
        """A device's last events, newest first: from the journal (those before this server
        started too, however busy the other devices were), else from what arrived since."""
        if self.store is not None:
            self.store.flush(2)
            return [{'t': ev.pop('received'), 'device': ev.pop('device'), 'kind': 'evt', 'ctrl': ev.get('ctrl'), 'msg': ev}
                    for ev in self.store.query(dev, limit=LAST_EVENTS, newest=True)]
        with self.mon.cond:
            recent = [r for r in self.mon.items if r['device'] == dev and r['kind'] == 'evt']
        return [public(r) for r in recent[-LAST_EVENTS:]][::-1]

    # --- what an operator does ----------------------------------------------------------------
    def _journal(self, op, action, key=(None, None, None), detail=None):
        if self.store is not None:
            self.store.action(op, action, key[0], key[1], key[2], detail)

    def _alarm(self, key):
        ev = self.mon.alarms.get(key)
        if ev is None:
            raise ActionError('no active alarm %s/%s %s' % key)
        return ev

    def acknowledge(self, op, key):
        """Acknowledge for the whole site as `op` (retained: every monitor and page sees it)."""
        with self.mon.lock:
            self._alarm(key)
            ack = self.mon.acked.get(key)
            if ack is not None:
                raise ActionError('already acknowledged by %s' % ack.get('by'))
            body = self.mon.acknowledge(key, by=op)
        self._journal(op, 'ack', key)
        self.kick.set()
        return body

    def shelve(self, op, key, seconds, reason):
        with self.mon.lock:
            try:
                entry = self.shelf.shelve(key, self.mon.alarms.get(key), op, seconds, reason)
            except ShelfError as e:
                raise ActionError(str(e), 400)
        self.kick.set()
        return entry

    def unshelve(self, op, key):
        with self.mon.lock:
            entry = self.shelf.unshelve(key, op)
        if entry is None:
            raise ActionError('%s/%s %s is not shelved' % key)
        self.kick.set()
        return entry

    def command(self, op, dev, ctrl, what):
        """Send a command from the page (signed by the monitor with the device's key); the
        intercom's carry the open call, and `answer` the operator's name."""
        ctrl_type = dict(self._controllers(dev)).get(ctrl)
        if ctrl_type is None:
            raise ActionError('no controller %s/%s' % (dev, ctrl), 404)
        if what not in ACTIONS.get(ctrl_type, ()):
            raise ActionError('%s is not an action of a %s (%s)' % (what, ctrl_type, ', '.join(ACTIONS.get(ctrl_type, ()))),
                              400)
        args = {}
        with self.mon.lock:
            if ctrl_type == 'intercom':
                call = self.mon.calls.open.get((dev, ctrl))
                if call is None:
                    raise ActionError('no call at %s/%s' % (dev, ctrl))
                if what == 'answer' and call['state'] != 'ringing':
                    raise ActionError('call %s is already answered by %s' % (call['call'], call.get('by')))
                if what == 'unlock' and (call['state'] != 'answered' or call.get('by') != op):
                    raise ActionError('answer the call first: the gate is released by who answered it')
                args['call'] = call['call']
                if what == 'answer':
                    args['by'] = op
            if self.mon.client is None:
                raise ActionError('not connected to the broker', 503)
            cid = self.mon.send(dev, ctrl, what, args)
        self._journal(op, 'command', (dev, ctrl, None), dict(args, op=what, id=cid))
        return {'id': cid}

    def journal(self, device=None, etype=None, sev=None, since=None, until=None, limit=500, newest=True):
        """Events of the journal (newest first: a limit keeps the latest; else in order, for CSV)."""
        if self.store is None:
            raise ActionError('this web runs without a journal (--no-journal)', 404)
        self.store.flush(5)
        return self.store.query(device, etype, sev, since, until, limit, newest)

    def actions(self, operator=None, since=None, until=None, limit=500):
        if self.store is None:
            raise ActionError('this web runs without a journal (--no-journal)', 404)
        self.store.flush(5)
        return self.store.actions(operator, since, until, limit)

    def login(self, op, ok, addr):
        self._journal(op, 'login' if ok else 'login_refused', detail={'from': addr})


def public(rec):
    """A record as a page gets it."""
    return {'t': rec['t'], 'device': rec['device'], 'kind': rec['kind'], 'ctrl': rec['ctrl'], 'msg': rec['msg']}
