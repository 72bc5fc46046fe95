"""The abuse suite: inputs from inside the site (a stolen board's credentials, an operator's
login, damaged files) that must not defeat a safety guarantee. Each test counts what it
tried on the `abuse` tally; the run ends with the totals:

    abuse: 212 inputs tried, 212 refused or set aside, 0 boards went offline, 0 alarms lost

A test that lets a board go offline or loses an alarm records it (and fails on its own
assertion), so the last two figures are 0 on a green run."""
import pytest


class Tally:
    def __init__(self):
        self.tried = self.refused = self.offline = self.lost = 0
        self.rows = []      # (test, tried, refused, offline, lost)

    def row(self, name):
        r = Row(name)
        self.rows.append(r)
        return r


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


@pytest.fixture(scope='session')
def _abuse_tally(request):
    if not hasattr(request.config, '_edge_abuse'):
        request.config._edge_abuse = Tally()
    return request.config._edge_abuse


@pytest.fixture
def abuse(_abuse_tally, request):
    """abuse.input(refused=True, n=1), abuse.went_offline(n), abuse.alarms_lost(n)."""
    name = request.node.nodeid.split('::')[-1]
    return _abuse_tally.row(name[5:] if name.startswith('test_') else name)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    t = getattr(config, '_edge_abuse', None)
    if not t or not t.rows:
        return
    tr = terminalreporter
    tr.section('abuse suite: inputs from inside the site')
    tr.write_line('%-66s %6s %8s %8s %5s' % ('test', 'tried', 'refused', 'offline', 'lost'))
    for r in t.rows:
        tr.write_line('%-66s %6d %8d %8d %5d' % (r.name if len(r.name) <= 66 else r.name[:31] + '..' + r.name[-33:], r.tried, r.refused, r.offline, r.lost))
    tried = sum(r.tried for r in t.rows)
    refused = sum(r.refused for r in t.rows)
    offline = sum(r.offline for r in t.rows)
    lost = sum(r.lost for r in t.rows)
    tr.write_line('abuse: %d inputs tried, %d refused or set aside, %d boards went offline, %d alarms lost'
                  % (tried, refused, offline, lost))
