# Card reader cases (firmware/wiegand.py): the decoder against good and broken frames
# (every parity bit, every length), the frame's end, and the ESP32 pin-interrupt path on the
# conformance double. Runs on CPython and on the MicroPython unix port.
import gc
import readerframes as F
import wiegand as W
from harness import check, eq


def _frame(r, bits):
    for i in range(len(bits)):
        r.bit(1 if bits[i] == '1' else 0, i * 2000)
    r.end()
    return r.take(0)


def case_decoder_reads_cards_and_keys():
    r = W.Wiegand('front.reader')
    eq(_frame(r, F.card(26, 1234567)), ('card', 'W26:1234567'), 'W26')
    eq(_frame(r, F.card(26, 0)), ('card', 'W26:0'), 'W26 zero')
    eq(_frame(r, F.card(34, 4294967295)), ('card', 'W34:4294967295'), 'W34 all ones')
    eq([_frame(r, f)[1] for f in F.frames('KEY:0123456789*#')], list('0123456789*#'), '4-bit keys')
    eq([_frame(r, f)[1] for f in F.frames('KEY8:5#')], ['5', '#'], '8-bit keys')
    eq(r.bad, 0, 'nothing refused')


def case_decoder_refuses_bad_parity_every_bit():
    r = W.Wiegand('front.reader')
    for n, v in ((26, 1234567), (34, 305419896)):
        good = F.card(n, v)
        for i in range(n):     # any one bit flipped breaks one of the two parities
            bad = good[:i] + ('0' if good[i] == '1' else '1') + good[i + 1:]
            eq(_frame(r, bad), ('bad', 'parity'), 'W%d bit %d flipped' % (n, i))
    eq(r.bad, 60, 'every refused frame counted')


def case_decoder_refuses_other_lengths_and_bad_keys():
    r = W.Wiegand('front.reader')
    for n in range(1, 45):
        if n in (4, 8, 26, 34):
            continue
        fr = _frame(r, '1' * n)
        eq(fr, ('bad', '%d bits' % n), 'a %d-bit frame' % n)
    eq(_frame(r, '11110101'), ('bad', 'key frame check'), '8-bit key without its complement')
    eq(_frame(r, '1100'), ('bad', 'key code 12'), 'no key 12')
    eq(r.bad, 42, 'counted')
    eq(r.take(0), None, 'nothing left over')


def case_decoder_frame_ends_after_the_gap():
    r = W.Wiegand('front.reader')
    f = F.card(26, 42)
    for i in range(len(f)):
        r.bit(1 if f[i] == '1' else 0, 1000 + i * 2000)
    last = 1000 + 25 * 2000
    eq(r.take(last + W.GAP_US - 1), None, 'not before the gap')
    eq(r.take(last + W.GAP_US), ('card', 'W26:42'), 'after the gap')


def case_esp32_reader_takes_bits_in_the_pin_interrupt():
    gc.collect()        # (the VM compiles hal_esp32 here: room for it after the other cases)
    import esp32_double as d
    d.install()
    try:
        import hal_esp32
        h = hal_esp32.Esp32Hal({})
        r = h.reader('front.reader', 25, 34)
        eq(d.Pin.all[25].pull, d.Pin.PULL_UP, 'D0 pulled up (open collector)')
        eq(d.Pin.all[34].pull, -1, 'an input-only pin gets none')
        check(d.Pin.all[25].hard and d.Pin.all[34].hard, 'hard interrupts: the bit timing is the pulse')
        d.Pin.all[34]._drive(1)      # the reader's own pull-up holds the line idle high
        eq(r.n, 0, 'a rising edge is no bit')
        for c in F.card(26, 1234567):
            p = d.Pin.all[34 if c == '1' else 25]
            p._drive(0)          # a 50 us low pulse on the line of the bit
            p._drive(1)
        eq(r.n, 26, 'one bit per falling edge')
        eq(r.take(r.last + W.GAP_US), ('card', 'W26:1234567'), 'the frame after the gap')
        try:
            h.reader('back.reader', 7, 8)
            check(False, 'a flash pin taken')
        except Exception as e:
            check('reader back.reader' in str(e), 'refused with its name: %s' % e)
    finally:
        d.uninstall()

