# ESP32 back-end: machine.Pin with edge interrupts handed to the scheduler.
import machine
import micropython
from hal import Signal, HalError


class Esp32Hal:
    def __init__(self, cfg):
        self.cfg = cfg
        self._edge = None
        self._by_pin = {}
        self.info = {}
        self.info_fn = None

    def input(self, name, pin, active_low=False):
        try:
            p = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP if active_low else None)
        except (ValueError, OSError) as e:
            raise HalError('input %s on pin %s: %s' % (name, pin, e))
        s = Signal(name, p, active_low, False)
        self._by_pin[id(p)] = s
        p.irq(handler=self._irq, trigger=machine.Pin.IRQ_RISING | machine.Pin.IRQ_FALLING)
        return s

    def analog(self, name, pin):
        from hal import Analog
        try:
            adc = machine.ADC(machine.Pin(pin), atten=machine.ADC.ATTN_11DB)
        except (ValueError, OSError) as e:
            raise HalError('analog %s on pin %s: %s' % (name, pin, e))
        return Analog(name, lambda: adc.read_u16() * 100 // 65535)

    def output(self, name, pin, active_low=False, value=0):
        try:
            p = machine.Pin(pin, machine.Pin.OUT, value=(1 if value else 0) ^ (1 if active_low else 0))
        except (ValueError, OSError) as e:
            raise HalError('output %s on pin %s: %s' % (name, pin, e))
        return Signal(name, p, active_low, True)

    def _irq(self, p):
        s = self._by_pin.get(id(p))
        if s is not None and self._edge is not None:
            try:
                micropython.schedule(self._edge, s)
            except RuntimeError:
                pass  # schedule queue full: the control loop's poll picks the level up

    def on_edge(self, cb):
        """cb(signal) runs in scheduler context after an input edge."""
        self._edge = cb

    def output_changed(self, sig, value):
        pass

    async def serve(self):
        return

    def sync_time(self, host):
        """Set the RTC from NTP in a thread: a blocking query in the main loop would hold
        up the scheduled pin handlers (the safety reactions) for up to its timeout."""
        import _thread

        def run():
            try:
                import ntptime
                ntptime.host = host
                ntptime.settime()       # the RTC keeps it when the network goes away
            except Exception:
                pass
        try:
            _thread.start_new_thread(run, ())
        except Exception:
            pass

    def watchdog(self, ms):
        return machine.WDT(timeout=ms)
