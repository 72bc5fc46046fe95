"""Board profiles (boards/*.json): which pins exist and what each may be used for."""
import json

from .errors import EdgeError
from .paths import BOARDS


def names():
    return sorted(p.stem for p in BOARDS.glob('*.json'))


def load(name):
    """The profile boards/NAME.json; only a name from that folder (no path)."""
    if not isinstance(name, str) or name not in names():
        raise EdgeError('no board profile %r (have: %s)' % (name, ', '.join(names())), 2)
    with open(BOARDS / ('%s.json' % name)) as f:
        return json.load(f)
