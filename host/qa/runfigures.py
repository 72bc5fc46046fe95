"""Figures the test suites record per test (the abuse tally, the fault-injection figures,
the HIL rig's timings and cases), carried to the end of the run whether it runs in one
process or on pytest-xdist workers.

A test's rows ride on its teardown report (`user_properties`, which xdist sends from the
worker to the controller); the process that prints the summary (the only one without -n,
the controller with -n) collects them from the reports it sees, so the same totals print
either way. A pytest plugin; the suites' conftests register it (`register(config)`)."""
import pytest

PREFIX = 'edgectl.figures:'
NAME = 'edgectl-runfigures'


def register(config):
    """Register the plugin once per run (both tests/ and hil_tests/ conftests ask)."""
    if not config.pluginmanager.has_plugin(NAME):
        config.pluginmanager.register(RunFigures(), NAME)


def rows_of(item, kind):
    """The live list of `kind` rows of the test `item`: append dicts (or objects whose
    attributes are the figures) during the test; they are read at its teardown."""
    live = item.__dict__.setdefault('_edge_figures', {})
    return live.setdefault(kind, [])


def collected(config, kind):
    """The `kind` rows of every test of the run so far, in the order their reports came."""
    plugin = config.pluginmanager.get_plugin(NAME)
    return list(plugin.rows.get(kind, ())) if plugin else []


def is_worker(config):
    """True in a pytest-xdist worker (whose summary nobody sees)."""
    return hasattr(config, 'workerinput')


def plain(row):
    """A row as a dict of plain values (what xdist can send)."""
    return dict(row) if isinstance(row, dict) else dict(vars(row))


def gather(reports):
    """{kind: [row, ...]} from test reports: the rows a test's teardown report carries (its
    setup and call reports carry none, so each row counts once)."""
    out = {}
    for rep in reports:
        if rep.when != 'teardown':
            continue
        for key, value in rep.user_properties:
            if isinstance(key, str) and key.startswith(PREFIX):
                out.setdefault(key[len(PREFIX):], []).append(value)
    return out


class RunFigures:
    """Puts each test's rows on its teardown report (so --junitxml lists them as properties
    too) and collects the rows of the reports this process sees."""

    def __init__(self):
        self.rows = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        out = yield
        live = item.__dict__.get('_edge_figures')
        if call.when == 'teardown' and live:
            rep = out.get_result()
            for kind, rows in live.items():
                rep.user_properties += [(PREFIX + kind, plain(r)) for r in rows]

    def pytest_runtest_logreport(self, report):
        for kind, rows in gather([report]).items():
            self.rows.setdefault(kind, []).extend(rows)
