"""Waiting in tests: poll a condition until it holds or the time is up."""
import time


def until(pred, timeout, every=0.1):
    """pred()'s first true value within `timeout` s, else its last (false) value."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(every)
    return pred()
