# Controller types by name, imported only when a config uses them (saves RAM).


# Each type's module (its name) has one class, named CONTROLLER too: a board interns the
# names of the types it runs only.
from settings_spec import TYPES


def load(ctype):
    if ctype not in TYPES:
        raise ImportError('controller type %s is not in this firmware' % ctype)
    return __import__(ctype).CONTROLLER
