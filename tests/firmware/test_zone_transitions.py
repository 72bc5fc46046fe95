"""Every transition in the zone's table is exercised by its cases."""
import cases_zone
import zone as Z


def test_every_zone_transition_is_exercised(monkeypatch):
    seen = set()
    real = Z.Zone.go

    def go(self, table, old, new):
        seen.add((old, new))
        return real(self, table, old, new)
    monkeypatch.setattr(Z.Zone, 'go', go)
    for name in sorted(dir(cases_zone)):
        if name.startswith('case_'):
            getattr(cases_zone, name)()
    missing = sorted(set(Z.ZONE_T) - seen)
    assert not missing, 'untested transitions: %s' % ', '.join('%s->%s' % (Z.NAMES[a], Z.NAMES[b]) for a, b in missing)
