"""The heap cost table the config check predicts from (protocols/heap_costs.json) still
describes this firmware: a fresh measurement of one combination is close to its entry.
When the firmware's heap use changes, re-measure: `edgectl bench boot-heap --save-costs`."""
from edgectl.qa import heapbench
from edgectl.core import heapfit

TOLERANCE = 6 * 1024


def test_the_table_matches_the_firmware(broker, tmp_path):
    kinds = heapbench.TABLE_CONTROLLERS
    cfg = heapbench._site_with([kinds['door'], kinds['intercom']])
    got = heapbench.run_firmware(cfg, 'romfs', 512, tmp_path, broker)
    want = heapfit.predict(['door', 'intercom'], 'romfs')
    assert 'used_running' in got, got
    for k, g in (('after_boot', got['used_after_boot']), ('running', got['used_running'])):
        assert abs(g - want[k]) <= TOLERANCE, (
            '%s: measured %d bytes, the table says %d: re-run `edgectl bench boot-heap --save-costs`' % (k, g, want[k]))
