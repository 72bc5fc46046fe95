# ESP32 back-end: machine.Pin with edge interrupts handed to the scheduler.
import machine
import time
import micropython
from hal import Signal, HalError



def reset_cause():
    """Why the board reset, as the hardware tells it."""
    c = machine.reset_cause()
    names = {machine.PWRON_RESET: 'power', machine.HARD_RESET: 'hard',
             machine.WDT_RESET: 'watchdog', machine.DEEPSLEEP_RESET: 'deepsleep',
             machine.SOFT_RESET: 'soft'}
    return names.get(c, 'unknown')


def make(cfg):
    return Esp32Hal(cfg)


class Esp32Hal:
    def __init__(self, cfg):
        self.cfg = cfg
        self._edge = None
        self._by_pin = {}
        self._rpins = []
        self.info = {}
        self.info_fn = None
        self._nic = None

    def input(self, name, pin, active_low=False):
        try:
            # no pull argument at all without one: Pin's pull is an int constant (stubs)
            p = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP) if active_low else machine.Pin(pin, machine.Pin.IN)
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

    def reader(self, name, d0, d1):
        """A Wiegand reader on two pins (idle high, a bit is a short low pulse on D0 for 0,
        on D1 for 1): each falling edge stores its bit in the (hard) interrupt, without
        allocating; the control loop takes the frame after the gap (wiegand.py)."""
        import wiegand
        from clock import ticks_us as us
        r = wiegand.Wiegand(name)
        pins = []
        for pin in (d0, d1):
            try:    # the reader's lines are open collector: the pull-up where the pin has one
                pins.append(machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP) if pin < 34
                            else machine.Pin(pin, machine.Pin.IN))
            except (ValueError, OSError) as e:
                raise HalError('reader %s on pin %s: %s' % (name, pin, e))
        bit = r.bit
        pins[0].irq(handler=lambda p: bit(0, us()), trigger=machine.Pin.IRQ_FALLING, hard=True)
        pins[1].irq(handler=lambda p: bit(1, us()), trigger=machine.Pin.IRQ_FALLING, hard=True)
        self._rpins.extend(pins)        # kept: a Pin collected would lose its interrupt
        return r

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

    def net_up(self):
        """True once the network has an address. The first call starts the interface from
        net.json (written by `edgectl flash`/`config push --via serial`, never in the site
        file): {"wifi": {"ssid", "password"}} or {"lan": {phy, phy_addr, mdc, mdio, power,
        ref_clk, ref_clk_mode}} for Ethernet boards (the board profile's `lan`)."""
        if self._nic is None:
            import json
            import network
            try:
                with open('net.json') as f:
                    n = json.load(f)
            except (OSError, ValueError):
                n = {}
            lan = n.get('lan')
            try:
                if lan:     # the ESP32 port's LAN takes the RMII pins (its docs; the stubs list fewer)
                    nic = network.LAN(mdc=machine.Pin(lan['mdc']), mdio=machine.Pin(lan['mdio']),  # type: ignore[call-arg]
                                      power=machine.Pin(lan['power']) if lan.get('power') is not None else None,
                                      phy_type=getattr(network, 'PHY_' + lan['phy']), phy_addr=lan['phy_addr'],
                                      ref_clk=machine.Pin(lan['ref_clk']),
                                      ref_clk_mode=machine.Pin.OUT if lan.get('ref_clk_mode') == 'out' else machine.Pin.IN)
                    nic.active(True)
                else:
                    wifi = n.get('wifi') or {}
                    sta = network.WLAN(network.STA_IF)
                    sta.active(True)
                    if wifi.get('ssid'):
                        sta.connect(wifi['ssid'], wifi.get('password', ''))
                    nic = sta  # type: ignore[assignment]
            except Exception as e:
                print('edgectl: network:', repr(e))
                return False
            self._nic = nic
        return self._nic.isconnected()

    def rssi(self):
        try:
            return self._nic.status('rssi')  # type: ignore[union-attr]
        except Exception:       # no interface yet, or a LAN (no rssi)
            return None

    def watchdog(self, ms):
        self.wdt = machine.WDT(timeout=ms)
        return self.wdt

    def maintenance(self, ms):
        """The firmware was interrupted at the console (deploy, mpremote): the WDT cannot be
        stopped on an ESP32, so a timer feeds it for ms; then it resets into the firmware,
        and a board left at the REPL by mistake goes back to work by itself."""
        w = getattr(self, 'wdt', None)
        if w is None:
            return
        end = time.ticks_add(time.ticks_ms(), ms)
        t = machine.Timer(0)

        def feed(_):
            if time.ticks_diff(end, time.ticks_ms()) > 0:
                w.feed()
            else:
                t.deinit()
        w.feed()
        t.init(period=1000, mode=machine.Timer.PERIODIC, callback=feed)
