"""A list that other threads append to, and waits for an item matching a predicate:
the one waiting loop behind the MQTT collector, the wire watcher, the rig and the monitor."""
import threading
import time


class Recorder:
    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def record(self, item):
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.items)

    def wait_for(self, pred, timeout, start=0):
        """The first item at index >= start with pred(item) true, or None after timeout."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for item in self.items[start:]:
                    if pred(item):
                        return item
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
