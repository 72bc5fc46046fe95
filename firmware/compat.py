# Names MicroPython has built in that CPython (host-side tests) lacks.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x
