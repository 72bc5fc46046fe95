"""Every transition in the intercom's tables is exercised by its cases."""
import cases_intercom
import intercom as I


def test_every_intercom_transition_is_exercised(monkeypatch):
    seen = set()
    real = I.Intercom.go

    def go(self, table, old, new):
        seen.add((table is I.CALL_T, old, new))
        return real(self, table, old, new)
    monkeypatch.setattr(I.Intercom, 'go', go)
    for name in sorted(dir(cases_intercom)):
        if name.startswith('case_'):
            getattr(cases_intercom, name)()
    want = {(True, a, b) for a, b in I.CALL_T} | {(False, a, b) for a, b in I.STRIKE_T}
    missing = sorted(want - seen)
    assert not missing, 'untested transitions: %s' % missing
