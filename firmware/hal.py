# The hardware abstraction: logical signals on top of pins, polarity applied here.
# Back-ends: hal_esp32 (machine.Pin) on a board, hal_sim (virtual wires) on the unix port.
import sys


class HalError(Exception):
    pass


class Signal:
    """A logical signal: 1 = active. `raw` is the pin object of the back-end."""

    def __init__(self, name, raw, active_low, is_output):
        self.name = name
        self.raw = raw
        self.inv = 1 if active_low else 0
        self.is_output = is_output

    def value(self, v=None):
        if v is None:
            return self.raw.value() ^ self.inv
        self.raw.value((1 if v else 0) ^ self.inv)


def is_board():
    return sys.platform == 'esp32'


class Analog:
    """An analog input read as a percentage 0..100 of full scale."""

    def __init__(self, name, read_pct):
        self.name = name
        self.read = read_pct
        self.is_output = False

    def value(self, v=None):
        return self.read()


def reset_cause():
    """Why the board reset, as the hardware tells it."""
    if is_board():
        import hal_esp32
        return hal_esp32.reset_cause()
    import os
    return os.getenv('EDGE_RESET') or 'power'


def make(cfg):
    """Pick the back-end for where we run."""
    if is_board():
        import hal_esp32
        return hal_esp32.make(cfg)
    import hal_sim
    return hal_sim.SimHal(cfg)
