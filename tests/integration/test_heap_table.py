"""The heap cost table the config check predicts from (protocols/heap_costs.json, a chip's
32-bit figures) still describes this firmware: the real firmware on the 64-bit VM (all CI
has), its figures divided by the ratio the table stores for the layout, lands on the
table's prediction. When the firmware's heap use changes, re-measure everything with
`edgectl bench boot-heap --save-costs --vm /path/to/32-bit/micropython`."""
from concurrent.futures import ThreadPoolExecutor

from edgectl.core import heapfit
from edgectl.qa import heapbench

# run-to-run noise of one board's heap after its tele (outbox, message buffers), in the
# chip's terms: two full --save-costs runs agreed within 112 bytes on every figure
TOLERANCE = 1024
BOARDS = [(('door', 'intercom'), 'romfs'), (('genset', 'zone'), 'romfs'),
          (('barrier', 'intercom'), 'lib'), (('genset', 'lift_recall', 'zone'), 'lib')]


def _ratios(t, layout, key, phase):
    """The stored 64-bit/32-bit ratios of the other combinations of as many controller types
    (the ratio grows with the number of controllers: objects, not code; it spreads under 1%
    among combinations of the same size). Not this combination's own, which would only
    give back its own 32-bit figure."""
    n = len(key.split('+'))
    wide, narrow = t['vm64']['layouts'][layout]['combos'], t['layouts'][layout]['combos']
    return [wide[k][phase] / float(narrow[k][phase]) for k in narrow if k != key and len(k.split('+')) == n]


def test_the_chip_table_matches_the_firmware_on_the_64_bit_vm(broker, tmp_path):
    """Each board's 64-bit figures, divided by the ratios the table stores for combinations
    of as many controller types (the 64-bit VM's figure over the 32-bit VM's, both measured
    by --save-costs), bracket the table's prediction for the chip within TOLERANCE."""
    assert heapbench.vm_info(None)['bits'] == 64
    kinds = heapbench.TABLE_CONTROLLERS
    t = heapfit.table()

    def measure(i):
        types, layout = BOARDS[i]
        cfg = heapbench._site_with([kinds[ty] for ty in types], device='t-%d' % i)
        return heapbench.run_firmware(cfg, layout, 512, tmp_path / str(i), broker)

    with ThreadPoolExecutor(len(BOARDS)) as ex:
        got = list(ex.map(measure, range(len(BOARDS))))
    for (types, layout), g in zip(BOARDS, got):
        assert 'used_running' in g, g
        want = heapfit.predict(list(types), layout)
        key = heapfit.combo_key(types)
        for k, wide in (('after_boot', g['used_after_boot']), ('running', g['used_running'])):
            rs = _ratios(t, layout, key, k)
            lo, hi = wide / max(rs), wide / min(rs)
            assert lo - TOLERANCE <= want[k] <= hi + TOLERANCE, (
                '%s, %s layout, %s: the 64-bit VM measured %d bytes, %d-%d on the chip by the stored ratios '
                '%.3f-%.3f; the table says %d: re-run `edgectl bench boot-heap --save-costs --vm VM32`' % (
                    key, layout, k, wide, lo, hi, min(rs), max(rs), want[k]))
