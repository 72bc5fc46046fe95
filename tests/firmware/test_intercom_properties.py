"""The intercom's invariants under random presses, commands, line faults and timeouts
(CPython side; the same run_sequence runs on MicroPython in cases_intercom)."""
from hypothesis import given, settings, strategies as st

import cases_intercom

step = st.tuples(st.sampled_from(cases_intercom.OPS), st.integers(0, 9000))


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=30))
def test_intercom_invariants(steps):
    cases_intercom.run_sequence(steps)
