# A virtual clock and wiring for driving one controller in tests. MicroPython subset:
# used by the case files on both CPython (pytest) and the MicroPython unix port.


class Bench:
    def __init__(self, ctrl, t0=1000, step_ms=10):
        self.c = ctrl
        self.t = t0
        self.step_ms = step_ms
        self.events = []        # (t, type, sev, fields)
        self.plant = None       # a plant model stepped with the clock
        self.drain()

    def drain(self):
        for etype, sev, fields in self.c.events:
            self.events.append((self.t, etype, sev, fields or {}))
        self.c.events = []

    def set(self, sig, v):
        self.c.input(sig, v, self.t)
        self.drain()

    def run(self, ms):
        end = self.t + ms
        while self.t < end:
            self.t = min(self.t + self.step_ms, end)
            self.c.tick(self.t)
            self.drain()
            if self.plant is not None:
                self.plant.step(self)

    def pulse(self, sig, hold_ms=100):
        self.set(sig, 1)
        self.run(hold_ms)
        self.set(sig, 0)

    def cmd(self, op, args=None):
        r = self.c.command(op, args or {}, self.t)
        self.drain()
        return r

    def out(self, sig):
        return self.c.outputs.get(sig)

    def types(self):
        return [e[1] for e in self.events]

    def find(self, etype, active=None):
        for e in self.events:
            if e[1] == etype and (active is None or e[3].get('active') == active):
                return e
        return None

    def clear(self):
        self.events = []


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def eq(a, b, what=''):
    if a != b:
        raise AssertionError('%s: expected %r, got %r' % (what, b, a))


def _tmp():
    import os
    return (os.getenv('EDGE_TEST_TMP') if hasattr(os, 'getenv') else None) or '.test-tmp'


# the boards' files: one folder per VM (test_cases runs two case files at a time, and two
# of them sharing names such as 'ob' removed each other's outbox segments)
TMP = _tmp()


def tmpfile(name):
    """A fresh path under ./.test-tmp (works on CPython and MicroPython)."""
    import os
    try:
        os.mkdir(TMP)
    except OSError:
        pass
    p = TMP + '/' + name
    for f in os.listdir(TMP):      # the file, and the outbox's segments <name>.<n>
        if f == name or f.startswith(name + '.'):
            os.remove(TMP + '/' + f)
    return p


def in_tmpdir(name, fn):
    """Run fn() with the current folder set to a fresh ./.test-tmp/<name> (a board's fs)."""
    import os
    top = os.getcwd()
    for d in (TMP, TMP + '/' + name):
        try:
            os.mkdir(d)
        except OSError:
            pass
    os.chdir(TMP + '/' + name)
    try:
        for f in os.listdir():
            os.remove(f)
        fn()
    finally:
        os.chdir(top)


class Arm:
    """Barrier arm plant (MicroPython subset): moves between the limits in travel_ms while
    a motor output is on; the photo-eye reads broken when its emitter is off or something
    is in the way. pos: 0 closed .. 1000 open."""

    def __init__(self, travel_ms=2000, pos=0, eye_works=True):
        self.travel = travel_ms
        self.pos = pos
        self.obstacle = 0
        self.eye_works = eye_works
        self.stuck = False          # a jammed arm: the motor runs, the arm does not move

    def step(self, b):
        up, down = b.out('motor_up'), b.out('motor_down')
        if up and down:
            raise AssertionError('plant: both motors on at t=%d' % b.t)
        d = 1000 * b.step_ms // self.travel
        if not self.stuck:
            if up:
                self.pos = min(1000, self.pos + d)
            elif down:
                self.pos = max(0, self.pos - d)
        self.sync(b)

    def sync(self, b):
        for sig, v in (('up_limit', 1 if self.pos >= 1000 else 0), ('down_limit', 1 if self.pos <= 0 else 0),
                       ('beam', self.beam(b))):
            if b.c.value(sig) != v or b.c._deb[sig].pending():
                b.set(sig, v)

    def beam(self, b):
        if not self.eye_works:
            return 0                # a bridged or dead eye reads clear whatever happens
        return 1 if (self.obstacle or not b.out('eye_tx')) else 0
