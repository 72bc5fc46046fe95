"""Hypothesis over random interleavings of beam, loop, limits (through the arm plant, which
can jam) and commands: the motors are never both on, closing never continues while the beam
is broken, a fault never ends in motion, no move outlives travel_timeout_s."""
from hypothesis import given, settings, strategies as st

import cases_barrier

step = st.tuples(st.sampled_from(cases_barrier.OPS), st.integers(0, 3000))


@settings(max_examples=150, deadline=None)
@given(st.lists(step, max_size=25), st.sampled_from([0, 500, 1000]))
def test_barrier_invariants(steps, pos):
    cases_barrier.run_sequence(steps, pos)
