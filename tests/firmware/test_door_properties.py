"""Hypothesis over random input sequences (CPython): no sequence leaves the door unlocked
without an unlock, REX or fire, or holds an alarm after the door closed."""
from hypothesis import example, given, settings, strategies as st

import cases_door

step = st.tuples(st.sampled_from(cases_door.ACTIONS), st.integers(0, 255), st.integers(0, 4000))


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=60), st.sampled_from([True, False]), st.integers(0, 200))
@example([('rex', 1, 0), ('unlock', 0, 1012)], True, 1)   # REX window outlasting a shorter unlock
def test_door_invariants(steps, fail_safe, debounce):
    steps = [(a, v % 2 if a in ('contact', 'rex', 'fire') else v, w) for a, v, w in steps]
    cases_door.run_sequence(steps, {'fail_safe': fail_safe, 'debounce_ms': debounce})
