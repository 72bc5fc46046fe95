"""A list that other threads append to, and waits for an item matching a predicate:
the one waiting loop behind the MQTT collector, the wire watcher, the rig and the monitor.

With `keep`, only the newest items are held (a monitor runs for months): indexes given by
mark() stay valid, counting every item ever recorded; `items` holds those still kept."""
import threading
import time


class Recorder:
    def __init__(self, keep=None):
        self.items = []
        self.keep = keep
        self.base = 0            # how many items were dropped from the front of `items`
        self.cond = threading.Condition()

    def record(self, item):
        self.record_many((item,))

    def record_many(self, items):
        with self.cond:
            self.items.extend(items)
            if self.keep and len(self.items) >= 2 * self.keep:
                drop = len(self.items) - self.keep
                del self.items[:drop]        # in place: `items` may have other names
                self.base += drop
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return self.base + len(self.items)

    def wait_for(self, pred, timeout, start=0):
        """The first item at index >= start with pred(item) true, or None after timeout."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for item in self.items[max(0, start - self.base):]:
                    if pred(item):
                        return item
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
