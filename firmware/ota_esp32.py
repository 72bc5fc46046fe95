# A new MicroPython VM (the firmware frozen in, or beside a ROMFS partition) into the ESP32's
# other OTA app partition (esp32.Partition), with the same signed offer, chunks and trial as
# an image file (ota.py, fwslot.py):
#   write   the partition get_next_update() names, a 4 KB flash block at a time
#   switch  set_boot() on it, the pointer fw.slot {"part", "ver", "prev", "pver", "tries": 0}
#   trial   the bootloader boots it pending verification; the health check confirms it with
#           mark_app_valid_cancel_rollback() once healthy and connected
#   back    a reset before that (a crash, the watchdog, trial_s without the broker) boots the
#           previous partition: the bootloader's rollback, or set_boot(prev) here when a build
#           has rollback off; the old VM finds its own partition running and reports it.
from esp32 import Partition

BLOCK = 4096


def room():
    return Partition(Partition.RUNNING).get_next_update().info()[3]


def running():
    return Partition(Partition.RUNNING).info()[4]


class Sink:
    kinds = ('vm',)

    def __init__(self, size):
        self.part = Partition(Partition.RUNNING).get_next_update()
        if size > self.part.info()[3]:
            raise ValueError('image of %d bytes is larger than partition %s' % (size, self.part.info()[4]))
        self.buf = bytearray(BLOCK)
        self.n = 0          # bytes in buf
        self.block = 0      # the next block to write

    def write(self, data):
        i = 0
        while i < len(data):
            k = min(BLOCK - self.n, len(data) - i)
            self.buf[self.n:self.n + k] = data[i:i + k]
            self.n += k
            i += k
            if self.n == BLOCK:
                self._flush()

    def _flush(self):
        if self.n:
            for j in range(self.n, BLOCK):
                self.buf[j] = 0xFF          # as erased flash
            self.part.writeblocks(self.block, self.buf)
            self.block += 1
            self.n = 0

    def close(self):
        self._flush()

    def commit(self, m, fw):
        import fwslot
        # the pointer first: a reset before set_boot() boots the old VM, which finds its own
        # partition running and settles the update as not done
        fwslot.switch(None, m['ver'], fw, self.part.info()[4], running())
        self.part.set_boot()

    def drop(self):
        self.buf = None


def boot_check(p):
    """At boot, with fw.slot on trial {"part", ...}: the version on trial when the new VM runs,
    else None after settling it as rolled back (the old partition runs)."""
    import fwslot
    here = running()
    if here == p.get('part'):
        if p.get('tries'):              # booted again without confirming: a build without rollback
            roll_back(p)
            import machine
            machine.reset()
        p['tries'] = 1
        fwslot.put(fwslot.SLOT, p)
        return p.get('ver')
    fwslot.put(fwslot.RESULT, {'ok': False, 'ver': p.get('ver'), 'running': p.get('pver'),
                               'err': p.get('why') or 'the new firmware did not stay up'})
    fwslot.put(fwslot.SLOT, {'part': here, 'ver': p.get('pver')})
    return None


def confirm():
    try:
        Partition.mark_app_valid_cancel_rollback()
    except OSError:         # a build without the bootloader's rollback: fw.slot's tries stand in
        pass


def roll_back(p):
    """Boot the previous partition next (the reboot that follows runs it)."""
    for part in Partition.find(Partition.TYPE_APP):
        if part.info()[4] == p.get('prev'):
            part.set_boot()
            return
