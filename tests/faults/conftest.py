"""The fault-injection suite's figures, printed at the end of every run."""
import pytest


@pytest.fixture(scope='session')
def figures(request):
    if not hasattr(request.config, '_edge_figures'):
        request.config._edge_figures = []
    return request.config._edge_figures


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    rows = getattr(config, '_edge_figures', None)
    if not rows:
        return
    tr = terminalreporter
    tr.section('nothing lost: fault-injection figures')
    tr.write_line('%-34s %8s %9s %10s %5s %8s %s' % ('scenario', 'raised', 'delivered', 'duplicates', 'lost',
                                                     'reorder', 'recovery'))
    for r in rows:
        tr.write_line('%-34s %8d %9d %10d %5d %8d %s' % (
            r['scenario'], r['raised'], r['delivered'], r['duplicates_dropped'], r['lost'], r['out_of_order'],
            r.get('note', '')))
