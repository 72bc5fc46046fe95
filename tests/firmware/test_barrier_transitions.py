"""Every transition in the barrier's table is exercised by its cases (and no transition
outside the table ever happens: Controller.go raises on those)."""
import cases_barrier
import barrier as B


def test_every_barrier_transition_is_exercised(monkeypatch):
    seen = set()
    real = B.Barrier.go

    def go(self, table, old, new):
        if table is B.BAR_T:
            seen.add((old, new))
        return real(self, table, old, new)
    monkeypatch.setattr(B.Barrier, 'go', go)
    for name in sorted(dir(cases_barrier)):
        if name.startswith('case_'):
            getattr(cases_barrier, name)()
    missing = sorted(set(B.BAR_T) - seen)
    assert not missing, 'untested transitions: %s' % ', '.join(
        '%s->%s' % (B.NAMES[a], B.NAMES[b]) + ('(%d->%d)' % (a, b)) for a, b in missing)
