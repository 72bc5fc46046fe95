"""Every transition in the lift recall's table is exercised by its cases."""
import cases_lift_recall
import lift_recall as L


def test_every_lift_recall_transition_is_exercised(monkeypatch):
    seen = set()
    real = L.LiftRecall.go

    def go(self, table, old, new):
        seen.add((old, new))
        return real(self, table, old, new)
    monkeypatch.setattr(L.LiftRecall, 'go', go)
    for name in sorted(dir(cases_lift_recall)):
        if name.startswith('case_'):
            getattr(cases_lift_recall, name)()
    missing = sorted(set(L.LIFT_T) - seen)
    assert not missing, 'untested transitions: %s' % ', '.join('%s->%s' % (L.NAMES[a], L.NAMES[b]) for a, b in missing)
