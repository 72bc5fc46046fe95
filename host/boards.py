"""Board profiles (boards/*.json): which pins exist and what each may be used for."""
import json

from .errors import EdgeError
from .paths import BOARDS


def names():
    return sorted(p.stem for p in BOARDS.glob('*.json'))


def load(name):
    path = BOARDS / ('%s.json' % name)
    if not path.is_file():
        raise EdgeError('no board profile %r (have: %s)' % (name, ', '.join(names())), 2)
    with open(path) as f:
        return json.load(f)
