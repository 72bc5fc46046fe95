"""Regenerate firmware/settings_spec.py from protocols/controllers.json (run after editing a
setting there; tests/host/test_settings_spec.py fails until you do)."""
from edgectl.core import specgen

if __name__ == '__main__':
    print('wrote', specgen.write())
