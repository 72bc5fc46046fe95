"""The config check refuses controllers that cannot fit their board's heap, from the cost
table `edgectl bench boot-heap --save-costs --vm VM32` measured (protocols/heap_costs.json):
a chip's figures (32-bit) against the profile's heap_kb."""
import math

import yaml

from edgectl.core import boards, heapfit, site as sitemod

TYPES = {'door', 'barrier', 'pump', 'intercom', 'genset', 'lift_recall', 'zone'}


def test_the_table_measures_every_controller_type_there_is():
    from edgectl.core import proto
    from edgectl.qa import heapbench
    have = set(proto.controllers()['types'])
    assert have == TYPES == set(heapbench.TABLE_CONTROLLERS) == set(heapbench.SECOND_PINS), (
        'a controller type without heap figures: add it to heapbench.TABLE_CONTROLLERS and SECOND_PINS, then '
        '`edgectl bench boot-heap --save-costs --vm VM32`')

DOOR = {'type': 'door', 'pins': {'contact': 1, 'lock': 2}}
KINDS = [
    {'name': 'front', 'type': 'door', 'pins': {'contact': 4, 'rex': 13, 'lock': 16, 'buzzer': 17}},
    {'name': 'bar', 'type': 'barrier', 'pins': {'beam': 34, 'loop': 35, 'up_limit': 32, 'down_limit': 33,
                                                'motor_up': 25, 'motor_down': 26, 'eye_tx': 27}},
    {'name': 'pool', 'type': 'pump', 'pins': {'low_level': 36, 'pump': 18}},
    {'name': 'call', 'type': 'intercom', 'pins': {'call': 39, 'strike': 19, 'led': 21}},
]


def _site(ctrls, board='esp32-devkitc', tls=False):
    broker = {'host': '127.0.0.1', 'port': 1883}
    if tls:
        broker['tls'] = True
    s = sitemod.parse(yaml.safe_dump({'site': 's', 'broker': broker,
                                      'devices': {'d-1': {'board': board, 'controllers': ctrls}}}), 'site.yaml')
    sitemod.validate(s)
    return s


def _heap(s, level):
    return [p for p in s.problems if p.level == level and 'heap' in p.msg]


def test_the_table_is_a_chips_with_every_combination_in_both_layouts():
    t = heapfit.table()
    assert t['bits'] == 32
    for layout in ('romfs', 'lib'):
        lay = t['layouts'][layout]
        assert len(lay['combos']) == 2 ** len(TYPES) - 1
        assert {ty for k in lay['combos'] for ty in k.split('+')} == TYPES
        assert set(lay['instance']) == TYPES and all(v > 0 for v in lay['instance'].values())
        assert lay['reader'] > 0
        r = t['vm64']['ratio'][layout]
        assert 1.2 < r['min'] <= r['max'] < 2.2, r       # 64-bit headers and pointers: well under twice


def test_the_simulators_heap_leaves_a_board_the_chips_free_heap():
    """Only the part in use grows on the 64-bit VM: the free heap a simulated board has is
    the chip's (a message or a TLS record is as big at either word size)."""
    t = heapfit.table()
    for layout in ('romfs', 'lib'):
        for key in ('door', 'barrier+intercom', 'barrier+door+intercom+pump'):
            wide, narrow = t['vm64']['layouts'][layout]['combos'][key], t['layouts'][layout]['combos'][key]
            vm = heapfit.vm_heap_kb(110, layout, types=key.split('+'))
            more = [(vm * 1024 - wide[ph]) - (110 * 1024 - narrow[ph]) for ph in ('after_boot', 'running')]
            assert min(more) >= 0 and min(more) < 1024, (layout, key, more)   # the chip's free heap, to 1 KB
        assert heapfit.vm_heap_kb(110, layout, bits=32) == 110        # a 32-bit VM is the chip's size
    assert heapfit.vm_heap_kb(110, 'romfs', costs={'layouts': {}}) == 110   # nothing stored: unscaled


def test_a_combination_the_table_lacks_is_scaled_by_its_predicted_use():
    t = heapfit.table()
    r = heapfit.word_ratio('romfs', t, ['door', 'lift'])
    assert r == t['vm64']['ratio']['romfs']['max']
    assert heapfit.vm_heap_kb(110, 'romfs', costs={'vm64': {'ratio': {'romfs': {'max': 1.5}}}, 'layouts': {}}) == 165


def test_one_door_fits_without_a_word():
    s = _site([KINDS[0]])
    assert not _heap(s, 'error') and not _heap(s, 'warning'), [str(p) for p in s.problems]


def _with_heap(monkeypatch, heap_kb):
    """Every board profile with this heap (the check reads it through boards.load)."""
    real = boards.load
    monkeypatch.setattr(boards, 'load', lambda name: dict(real(name), heap_kb=heap_kb))


def _edge_kb(types, layout, need_kb, readers=0):
    """The least heap (KB) on which the table leaves need_kb free running."""
    return math.ceil((heapfit.predict(types, layout, readers=readers)['running'] + need_kb * 1024) / 1024.0)


def test_the_check_predicts_the_chip_and_refuses_a_board_short_by_a_kilobyte_with_its_figure(monkeypatch):
    """A chip's figures against the profile's heap: the four controllers fit a heap that
    leaves MIN_FREE_KB free by the 32-bit table and are refused, with the figure, one KB
    below; by the 64-bit VM's figures (the table times the measured ratio) neither fits."""
    types = [k['type'] for k in KINDS]
    edge = _edge_kb(types, 'romfs', heapfit.MIN_FREE_KB)
    run = heapfit.predict(types, 'romfs')['running']
    assert run * heapfit.table()['vm64']['ratio']['romfs']['min'] > edge * 1024, 'the 64-bit figures would refuse it'
    _with_heap(monkeypatch, edge)
    assert not _heap(_site(KINDS), 'error'), [str(p) for p in _site(KINDS).problems]
    _with_heap(monkeypatch, edge - 1)
    errs = _heap(_site(KINDS), 'error')
    assert len(errs) == 1 and 'do not fit' in errs[0].msg and errs[0].path.endswith('controllers'), errs
    figure = "%.1f KB of the chip's %d KB heap in use running (32-bit figures), %.1f KB free" % (
        run / 1024, edge - 1, (edge - 1) * 1024 / 1024.0 - run / 1024)
    assert figure in errs[0].msg, (figure, errs[0].msg)


def test_the_lib_layout_and_the_aim_are_warnings_with_their_figures(monkeypatch):
    types = [k['type'] for k in KINDS]
    _with_heap(monkeypatch, _edge_kb(types, 'lib', heapfit.MIN_FREE_KB) - 1)
    s = _site(KINDS)
    assert not s.errors, [str(p) for p in s.errors]
    msgs = ' '.join(p.msg for p in _heap(s, 'warning'))
    assert 'ROMFS partition' in msgs and 'lib layout' in msgs and 'KB free' in msgs, msgs
    _with_heap(monkeypatch, _edge_kb(types, 'romfs', heapfit.AIM_FREE_KB) - 1)
    msgs = ' '.join(p.msg for p in _heap(_site(KINDS), 'warning'))
    assert 'little heap left' in msgs and 'aims at %d KB' % heapfit.AIM_FREE_KB in msgs, msgs


def test_a_genset_and_a_zone_are_predicted():
    for layout in ('romfs', 'lib'):
        one = heapfit.predict(['genset', 'zone'], layout)
        t = heapfit.table()['layouts'][layout]
        assert one == t['combos']['genset+zone']
        two = heapfit.predict(['genset', 'zone', 'zone', 'lift_recall'], layout)
        assert two['running'] == t['combos']['genset+lift_recall+zone']['running'] + t['instance']['zone']


def test_a_card_reader_adds_the_tables_figure_and_says_so(monkeypatch):
    for layout in ('romfs', 'lib'):
        plain, rd = heapfit.predict(['door'], layout), heapfit.predict(['door'], layout, readers=1)
        assert rd['running'] - plain['running'] == heapfit.table()['layouts'][layout]['reader'] > 0
    heap = _edge_kb(['door'], 'romfs', heapfit.MIN_FREE_KB, readers=1)
    ok, msg = heapfit.fit(['door'], heap, 'romfs', readers=1)
    assert ok and 'with a card reader' in msg
    assert heapfit.fit(['door'], heap - 1, 'romfs', readers=1)[0] is False


def test_a_tls_board_needs_room_for_the_handshake(monkeypatch):
    gate = [KINDS[1], dict(KINDS[3], pins={'call': 4, 'strike': 13, 'led': 14})]
    # a heap that leaves room for the firmware, not for a TLS handshake
    _with_heap(monkeypatch, _edge_kb(['barrier', 'intercom'], 'romfs',
                                     (heapfit.MIN_FREE_KB + heapfit.TLS_FREE_KB) // 2))
    assert not _heap(_site(gate), 'error')
    errs = _heap(_site(gate, tls=True), 'error')
    assert errs and 'TLS handshake' in errs[0].msg, errs


def test_predictions_add_a_further_controller_of_a_type():
    one = heapfit.predict(['door'], 'romfs')
    two = heapfit.predict(['door', 'door'], 'romfs')
    assert two['running'] - one['running'] == heapfit.table()['layouts']['romfs']['instance']['door'] > 0
    assert heapfit.predict(['door', 'lift'], 'romfs') is None     # no figure: no verdict
