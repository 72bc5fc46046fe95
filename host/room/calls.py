"""Intercom calls as the control room sees them, from the boards' intercom events and their
retained state snapshots (so a monitor started mid-call sees the call), and which call an
operator's key acts on."""
import time

RINGING = 'ringing'
ANSWERED = 'answered'


class Calls:
    def __init__(self):
        self.open = {}        # (device, station) -> {'call', 'state', 'since', 'by'}

    def feed(self, dev, kind, ctrl, msg):
        """One record from the site's topics; returns True when the call list changed."""
        key = (dev, ctrl)
        if kind == 'evt':
            t = msg.get('type')
            if t == 'intercom.call':
                self.open[key] = {'call': msg.get('call'), 'state': RINGING, 'since': time.time(), 'by': None}
            elif t == 'intercom.answered':
                c = self.open.setdefault(key, {'call': msg.get('call'), 'since': time.time()})
                c.update(state=ANSWERED, by=msg.get('by'), call=msg.get('call'), since=time.time())
            elif t == 'intercom.ended':
                c = self.open.get(key)
                if c is not None and c['call'] == msg.get('call'):
                    del self.open[key]
            else:
                return False
            return True
        if kind == 'state' and isinstance(msg, dict) and msg.get('type') == 'intercom':
            st, cid = msg.get('call'), msg.get('call_id')
            c = self.open.get(key)
            if st in (RINGING, ANSWERED) and cid is not None:
                if c is None or c['call'] != cid or c['state'] != st:
                    self.open[key] = {'call': cid, 'state': st, 'since': (c or {}).get('since', time.time()),
                                      'by': msg.get('by')}
                    return True
            elif st == 'idle' and c is not None:
                del self.open[key]
                return True
        return False

    def listing(self):
        """Open calls, ringing first, oldest first: (device, station, call dict)."""
        return sorted(((d, s, c) for (d, s), c in self.open.items()),
                      key=lambda x: (x[2]['state'] != RINGING, x[2]['since']))

    def target(self, action, operator):
        """The call a key acts on, or None: `answer` takes the oldest ringing call; `unlock`
        and `hangup` the call this operator answered last (hangup: else the oldest ringing)."""
        ringing = [x for x in self.listing() if x[2]['state'] == RINGING]
        mine = sorted((x for x in self.listing() if x[2]['state'] == ANSWERED and x[2].get('by') == operator),
                      key=lambda x: x[2]['since'])
        if action == 'answer':
            return ringing[0] if ringing else None
        if mine:
            return mine[-1]
        if action == 'hangup' and ringing:
            return ringing[0]
        return None
