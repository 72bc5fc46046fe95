# A conformance double of the ESP32 port's `machine` and `network` modules (MicroPython
# subset: runs on the unix port and on CPython), so hal_esp32.py and the rig's ESP32 pins
# run in the firmware cases. Its names and signatures are checked against
# micropython-esp32-stubs (tests/firmware/test_esp32_double.py); its ESP32 rules (pins that
# do not exist, are wired to the flash, or are input-only; the ADC and DAC pins) come from
# the ESP32 datasheet and the port's documentation. Test hooks start with `_`.
# install() puts it in sys.modules as machine/network; micropython.schedule is the VM's
# own on the unix port and a queue here on CPython (_run_scheduled() empties it).
import sys

GPIO = tuple(n for n in range(40) if n not in (20, 24, 28, 29, 30, 31))
FLASH = (6, 7, 8, 9, 10, 11)          # wired to the SPI flash: the port refuses them
INPUT_ONLY = (34, 35, 36, 37, 38, 39)
ADC_PINS = (32, 33, 34, 35, 36, 37, 38, 39)
DAC_PINS = (25, 26)


class _Machine:
    pass


class _Network:
    pass


machine = _Machine()
network = _Network()


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_RISING = 1
    IRQ_FALLING = 2
    all = {}                            # id -> Pin (the double's board)

    def __init__(self, id, mode=-1, pull=-1, *, value=None):
        if id not in GPIO or id in FLASH:
            raise ValueError('invalid pin')
        if mode == Pin.OUT and id in INPUT_ONLY:
            raise ValueError('invalid pin for output')
        if pull not in (-1, None, Pin.PULL_UP, Pin.PULL_DOWN):
            raise ValueError('invalid pull')
        if pull in (Pin.PULL_UP, Pin.PULL_DOWN) and id in INPUT_ONLY:
            raise ValueError('pins 34-39 have no pull resistors')
        self.id = id
        self.mode = mode
        self.pull = pull
        self.level = (1 if value else 0) if value is not None else (1 if pull == Pin.PULL_UP else 0)
        self.handler = None
        self.trigger = 0
        self.hard = False
        Pin.all[id] = self

    def value(self, x=None):
        if x is None:
            return self.level
        self.level = 1 if x else 0

    def __call__(self, x=None):
        return self.value(x)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, *, priority=1, wake=None, hard=False):
        self.handler = handler
        self.trigger = trigger
        self.hard = hard
        return None

    def _drive(self, level):
        """The outside world sets an input's level; an edge the irq asked for calls its
        handler at once, as the interrupt does."""
        level = 1 if level else 0
        if level == self.level:
            return
        self.level = level
        edge = Pin.IRQ_RISING if level else Pin.IRQ_FALLING
        if self.handler is not None and self.trigger & edge:
            self.handler(self)


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_9BIT = 9
    WIDTH_10BIT = 10
    WIDTH_11BIT = 11
    WIDTH_12BIT = 12

    def __init__(self, id, *, atten=None):
        pid = id.id if isinstance(id, Pin) else id
        if pid not in ADC_PINS:
            raise ValueError('invalid pin for ADC')      # ADC2 pins are unusable with Wi-Fi on
        self.pin = pid
        self._atten = ADC.ATTN_0DB if atten is None else atten
        self._u16 = 0

    def atten(self, atten):
        self._atten = atten

    def width(self, bits):
        self._width = bits

    def read_u16(self):
        return self._u16

    def read(self):
        return self._u16 >> 4

    def read_uv(self):
        return self._u16 * 3300000 // 65535

    def _set_pct(self, pct):
        self._u16 = pct * 65535 // 100


class DAC:
    def __init__(self, id):
        pid = id.id if isinstance(id, Pin) else id
        if pid not in DAC_PINS:
            raise ValueError('invalid Pin for DAC')
        self.pin = pid
        self.v = 0

    def write(self, value):
        self.v = value


class WDT:
    instance = None

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        WDT.instance = self

    def feed(self):
        self.feeds += 1


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, id):
        self.id = id
        self.callback = None

    def init(self, *, mode=1, period=-1, callback=None, freq=-1):
        self.mode = mode
        self.period = period
        self.callback = callback

    def deinit(self):
        self.callback = None

    def _fire(self):
        if self.callback is not None:
            self.callback(self)


PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
_cause = [PWRON_RESET]


def reset_cause():
    return _cause[0]


def reset():
    raise SystemExit('machine.reset()')


class WLAN:
    IF_STA = 0
    IF_AP = 1

    def __init__(self, interface_id=0):
        self.iface = interface_id
        self._active = False
        self._ssid = None
        self._up_after = 2          # isconnected() calls before the association completes

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)

    def connect(self, ssid=None, password=None, *, bssid=None):
        if not self._active:
            raise OSError('Wifi Not Started')
        self._ssid = ssid

    def isconnected(self):
        if self._ssid is None:
            return False
        if self._up_after:
            self._up_after -= 1
            return False
        return True

    def status(self, param=None):
        if param == 'rssi':
            if not self.isconnected():
                raise OSError('Wifi Not Connected')
            return -61
        return 1010 if self.isconnected() else 1001


class LAN:
    def __init__(self, id=0, *, mdc=None, mdio=None, power=None, phy_type=0, phy_addr=0, ref_clk=None,
                 ref_clk_mode=None):
        if not isinstance(mdc, Pin) or not isinstance(mdio, Pin):
            raise ValueError('mdc and mdio must be Pins')
        self.phy_type = phy_type
        self.phy_addr = phy_addr
        self._active = False

    def active(self, is_active=None):
        if is_active is None:
            return self._active
        self._active = bool(is_active)

    def isconnected(self):
        return self._active

    def status(self):
        return 0            # a LAN has no rssi: status('rssi') is a TypeError, as on the port


for _c in (Pin, ADC, DAC, WDT, Timer):
    setattr(machine, _c.__name__, _c)
for _n in ('PWRON_RESET', 'HARD_RESET', 'WDT_RESET', 'DEEPSLEEP_RESET', 'SOFT_RESET'):
    setattr(machine, _n, globals()[_n])
machine.reset_cause = reset_cause
machine.reset = reset
network.WLAN = WLAN
network.LAN = LAN
network.STA_IF = WLAN.IF_STA
network.AP_IF = WLAN.IF_AP
network.PHY_LAN8720 = 1
network.PHY_IP101 = 2
network.PHY_RTL8201 = 3

class Partition:
    """esp32.Partition for the OTA app slots: factory + ota_0 + ota_1 (small, for tests), the
    bootloader's rollback (a new boot partition runs pending verification; a reset before
    mark_app_valid_cancel_rollback() boots the previous one). Written blocks are kept in a
    dict. Test hooks: _setup(size_kb, rollback), _reset() (what the next boot runs)."""
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1
    _parts = {}
    _running = 'factory'
    _boot = 'factory'
    _pending = False       # the running app still awaits mark_app_valid_cancel_rollback
    _prev = None
    _rollback = True       # CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
    _size = 65536

    def __init__(self, id, block_size=4096):
        if id == Partition.RUNNING:
            id = Partition._running
        elif id == Partition.BOOT:
            id = Partition._boot
        if id not in Partition._parts:
            raise ValueError('partition not found')
        self.label = id
        self.bs = block_size

    @staticmethod
    def _setup(size=65536, rollback=True):
        Partition._parts = {'factory': {}, 'ota_0': {}, 'ota_1': {}}
        Partition._running = Partition._boot = 'factory'
        Partition._pending = False
        Partition._prev = None
        Partition._rollback = rollback
        Partition._size = size

    @staticmethod
    def _reset():
        """A reset: the label of the partition the bootloader runs now."""
        P = Partition
        if P._pending and P._rollback:      # never marked valid: the bootloader rolls back
            P._boot = P._prev
            P._pending = False
        elif P._boot != P._running:
            P._prev = P._running
            P._pending = True
        P._running = P._boot
        return P._running

    @staticmethod
    def find(type=TYPE_APP, subtype=0xFF, label=None):
        if type != Partition.TYPE_APP:
            return []
        return [Partition(n) for n in sorted(Partition._parts) if label is None or n == label]

    def info(self):
        sub = 0 if self.label == 'factory' else 0x10 + int(self.label[-1])
        return (Partition.TYPE_APP, sub, 0x10000 * (1 + sub % 16), Partition._size, self.label, False)

    def readblocks(self, block_num, buf, offset=0):
        data = Partition._parts[self.label]
        for i in range(len(buf)):
            a = offset + i
            blk = data.get(block_num + a // self.bs)
            buf[i] = blk[a % self.bs] if blk is not None else 0xFF

    def writeblocks(self, block_num, buf, offset=None):
        if offset is not None or len(buf) % self.bs:
            raise ValueError('the double takes whole erased blocks only')
        if (block_num + len(buf) // self.bs) * self.bs > Partition._size:
            raise OSError(22)
        if self.label == Partition._running:
            raise OSError(1)        # never the running app
        for i in range(len(buf) // self.bs):
            Partition._parts[self.label][block_num + i] = bytes(buf[i * self.bs:(i + 1) * self.bs])

    def ioctl(self, op, arg=None):
        return {4: Partition._size // self.bs, 5: self.bs}.get(op, 0)

    def set_boot(self):
        Partition._boot = self.label

    def get_next_update(self):
        return Partition('ota_1' if self.label == 'ota_0' else 'ota_0')

    @classmethod
    def mark_app_valid_cancel_rollback(cls):
        if not cls._rollback:
            raise OSError(-261)
        cls._pending = False


class _Esp32:
    Partition = Partition


esp32 = _Esp32()

_queue = []


class _Micropython:
    """micropython.schedule on CPython: a queue emptied by _run_scheduled()."""

    @staticmethod
    def schedule(fn, arg):
        if len(_queue) >= 8:
            raise RuntimeError('schedule queue full')
        _queue.append((fn, arg))

    @staticmethod
    def const(x):
        return x


def _run_scheduled():
    """Run what the interrupts scheduled (the VM does this by itself on MicroPython)."""
    while _queue:
        fn, arg = _queue.pop(0)
        fn(arg)


def install():
    """machine, network (and on CPython micropython) for what imports them next."""
    Pin.all = {}
    sys.modules['machine'] = machine
    sys.modules['network'] = network
    sys.modules['esp32'] = esp32
    if sys.implementation.name != 'micropython':
        sys.modules['micropython'] = _Micropython


def uninstall():
    for m in ('machine', 'network', 'hal_esp32', 'esp32', 'ota_esp32'):
        sys.modules.pop(m, None)
    if sys.implementation.name != 'micropython':
        sys.modules.pop('micropython', None)


def door_app(**ctrl):
    """The firmware's runtime (app.App) with one door `front` on this double (install() it
    first); `ctrl` overrides the door's config (pins, settings)."""
    import bootlog
    import hal_esp32
    from app import App
    c = {'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'lock': 25}, 'debounce_ms': 0}
    c.update(ctrl)
    cfg = {'site': 's', 'device': 'lobby-1', 'rev': 'r1', 'broker': {'host': '127.0.0.1', 'port': 1883},
           'controllers': [c]}
    return App(cfg, hal_esp32.Esp32Hal(cfg), bootlog.BootLog())
