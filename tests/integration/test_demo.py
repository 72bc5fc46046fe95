"""The README's first promise: `edgectl demo` runs the whole walk-through and exits 0."""
import subprocess
import sys


def test_demo_shows_the_held_open_alarm_raised_and_cleared():
    r = subprocess.run([sys.executable, '-m', 'edgectl.cli', 'demo'], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr
    out = r.stdout
    assert 'ALARM' in out and 'door.held_open' in out and 'CLEAR' in out
    assert 'door.forced' in out and 'door.fire_release' in out
    assert 'barrier.obstructed' in out and 'barrier.closed' in out
    assert 'MISSING' not in out and 'demo passed' in out
