"""Every transition in the generator's table is exercised by its cases."""
import cases_genset
import genset as G


def test_every_genset_transition_is_exercised(monkeypatch):
    seen = set()
    real = G.Genset.go

    def go(self, table, old, new):
        seen.add((old, new))
        return real(self, table, old, new)
    monkeypatch.setattr(G.Genset, 'go', go)
    for name in sorted(dir(cases_genset)):
        if name.startswith('case_'):
            getattr(cases_genset, name)()
    missing = sorted(set(G.GEN_T) - seen)
    assert not missing, 'untested transitions: %s' % ', '.join('%s->%s' % (G.NAMES[a], G.NAMES[b]) for a, b in missing)
