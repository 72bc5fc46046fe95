"""The abuse suite: inputs from inside the site (a stolen board's credentials, an operator's
login, damaged files) that must not defeat a safety guarantee. Each test counts what it
tried on the `abuse` tally; the run ends with the totals (tests/conftest.py prints them,
summed over the xdist workers when run with -n):

    abuse: 212 inputs tried, 212 refused or set aside, 0 boards went offline, 0 alarms lost

A test that lets a board go offline or loses an alarm records it (and fails on its own
assertion), so the last two figures are 0 on a green run."""
import pytest

from edgectl.qa import runfigures


class Row:
    def __init__(self, name):
        self.name = name
        self.tried = self.refused = self.offline = self.lost = 0

    def input(self, refused=True, n=1):
        """Count n inputs tried; refused=True when the product refused or set them aside."""
        self.tried += n
        if refused:
            self.refused += n

    def went_offline(self, n=1):
        self.offline += n

    def alarms_lost(self, n=1):
        self.lost += n


@pytest.fixture
def abuse(request):
    """abuse.input(refused=True, n=1), abuse.went_offline(n), abuse.alarms_lost(n)."""
    name = request.node.nodeid.split('::')[-1]
    row = Row(name[5:] if name.startswith('test_') else name)
    runfigures.rows_of(request.node, 'abuse').append(row)
    return row
