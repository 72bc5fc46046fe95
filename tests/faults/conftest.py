"""The fault-injection suite's figures, printed at the end of every run (tests/conftest.py,
gathered from the xdist workers when run with -n)."""
import pytest

from edgectl.qa import runfigures


@pytest.fixture
def figures(request):
    """This test's rows of figures: append a dict per scenario."""
    return runfigures.rows_of(request.node, 'faults')
