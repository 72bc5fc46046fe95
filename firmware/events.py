# The event path: numbering (seq persisted across reboots), stamping, and the queue that
# the link drains. Bounded by outbox_max; when full, info events give way before alarms
# and the loss is counted in `dropped`.
import json
from clock import wall_ms

SEQ_FILE = 'seq.dat'


class EventQueue:
    def __init__(self, device, max_len=200, seq_file=SEQ_FILE):
        self.device = device
        self.max_len = max_len
        self.seq_file = seq_file
        self.items = []        # (seq, ctrl, json bytes, sev)
        self.dropped = 0
        self.seq = self._load_seq()

    def _load_seq(self):
        try:
            with open(self.seq_file) as f:
                return int(f.read())
        except (OSError, ValueError):
            return 0

    def _save_seq(self):
        try:
            with open(self.seq_file, 'w') as f:
                f.write(str(self.seq))
        except OSError:
            pass

    def add(self, ctrl, etype, sev, fields=None):
        self.seq += 1
        self._save_seq()
        ev = {'seq': self.seq, 'ts': wall_ms(), 'type': etype, 'sev': sev, 'ctrl': ctrl}
        if fields:
            for k in fields:
                ev[k] = fields[k]
        if len(self.items) >= self.max_len:
            self._make_room()
        self.items.append((self.seq, ctrl, json.dumps(ev), sev))
        return ev

    def _make_room(self):
        for i in range(len(self.items)):
            if self.items[i][3] != 'alarm':
                self.items.pop(i)
                self.dropped += 1
                return
        self.items.pop(0)
        self.dropped += 1

    def peek(self):
        return self.items[0] if self.items else None

    def pop(self, seq):
        if self.items and self.items[0][0] == seq:
            self.items.pop(0)

    def __len__(self):
        return len(self.items)
