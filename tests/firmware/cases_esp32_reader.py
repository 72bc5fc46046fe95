# The ESP32 path of card access on the conformance double (esp32_double.py): access.attach
# wires the reader through hal_esp32, the pin interrupts take the bits, the controller's tick
# takes the frame after the gap and decides from the store on flash. Its own module (a small
# one): the MicroPython runner's heap. Runs on CPython and on the unix port.
import gc
import readerframes as F
from harness import check, eq, in_tmpdir


class _App:
    """What access.attach uses of the runtime."""
    def __init__(self, io):
        self.io = io
        self.by_signal = {}


def case_esp32_door_opens_for_a_card_through_the_pin_interrupts():
    import time

    def t():
        import esp32_double as d
        d.install()
        try:
            import cardrec as R
            import door
            import access
            import cardstore
            import hal_esp32
            cardstore._store = None
            salt = b'0123456789abcdef'
            with open('cards.db', 'wb') as f:
                f.write(R.header(1, 1, salt))
                f.write(R.pack(R.key(salt, 'W26:1234567'), holder=7, groups=1))
            c = {'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'lock': 25, 'reader_d0': 16, 'reader_d1': 17}}
            ctrl = door.Door('front', c)
            app = _App(hal_esp32.Esp32Hal({}))
            access.attach(app, ctrl, c)
            check(app.by_signal.get('front.reader') is ctrl, 'the reader routes to its door')
            pin = d.Pin.all
            for b in F.card(26, 1234567):
                p = pin[17 if b == '1' else 16]
                p._drive(0)
                p._drive(1)
            end = time.time() + 1
            while ctrl.outputs['lock'] and time.time() < end:
                ctrl.tick(0)
            eq(ctrl.outputs['lock'], 0, 'the lock released for the card')
            eq(ctrl.snapshot()['access']['granted'], 1, 'granted')
        finally:
            d.uninstall()
    gc.collect()
    in_tmpdir('esp_reader', t)
