"""The config check refuses controllers that cannot fit their board's heap, from the cost
table `edgectl bench boot-heap --save-costs` measured (protocols/heap_costs.json)."""
import yaml

from edgectl.core import heapfit, site as sitemod

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


def test_the_table_has_every_combination_in_both_layouts():
    t = heapfit.table()
    for layout in ('romfs', 'lib'):
        assert len(t['layouts'][layout]['combos']) == 15
        assert set(t['layouts'][layout]['instance']) == {'door', 'barrier', 'pump', 'intercom'}


def test_one_door_fits_without_a_word():
    s = _site([KINDS[0]])
    assert not _heap(s, 'error') and not _heap(s, 'warning'), [str(p) for p in s.problems]


def test_four_controllers_fit_the_romfs_layout_with_warnings_that_give_the_figures():
    s = _site(KINDS)
    assert not s.errors, [str(p) for p in s.errors]
    msgs = ' '.join(p.msg for p in _heap(s, 'warning'))
    assert 'ROMFS partition' in msgs and 'lib layout' in msgs and 'KB free' in msgs, msgs


def test_too_many_controllers_for_the_heap_are_refused_with_the_figure():
    more = [dict(DOOR, name='d%d' % i, pins={'contact': 40 + 2 * i, 'lock': 41 + 2 * i}) for i in range(8)]
    s = _site([dict(k) for k in KINDS] + more, board='sim')      # the sim profile: 128 KB, 64 pins
    errs = _heap(s, 'error')
    assert len(errs) == 1 and 'do not fit' in errs[0].msg and 'KB free' in errs[0].msg, [str(p) for p in s.problems]
    assert errs[0].path.endswith('controllers')


def test_a_tls_board_needs_room_for_the_handshake():
    gate = [KINDS[1], dict(KINDS[3], pins={'call': 4, 'strike': 13, 'led': 14})]
    assert not _heap(_site(gate), 'error')
    errs = _heap(_site(gate, tls=True), 'error')
    assert errs and 'TLS handshake' in errs[0].msg, errs


def test_predictions_add_a_further_controller_of_a_type():
    one = heapfit.predict(['door'], 'romfs')
    two = heapfit.predict(['door', 'door'], 'romfs')
    assert two['running'] - one['running'] == heapfit.table()['layouts']['romfs']['instance']['door'] > 0
    assert heapfit.predict(['door', 'lift'], 'romfs') is None     # no figure: no verdict
