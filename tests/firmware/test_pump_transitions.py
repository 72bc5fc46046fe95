"""Every transition in the pump's table is exercised by its cases."""
import cases_pump
import pump as P


def test_every_pump_transition_is_exercised(monkeypatch):
    seen = set()
    real = P.Pump.go

    def go(self, table, old, new):
        if table is P.PUMP_T:
            seen.add((old, new))
        return real(self, table, old, new)
    monkeypatch.setattr(P.Pump, 'go', go)
    for name in sorted(dir(cases_pump)):
        if name.startswith('case_'):
            getattr(cases_pump, name)()
    missing = sorted(set(P.PUMP_T) - seen)
    assert not missing, 'untested transitions: %s' % ', '.join('%s->%s' % (P.NAMES[a], P.NAMES[b]) for a, b in missing)
