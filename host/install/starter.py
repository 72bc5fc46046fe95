"""`edgectl init`: a commented starter site file (one board of each kind, named as in the
README), written only where none exists."""
import os
import re
from pathlib import Path

from ..core.errors import EdgeError
from ..core.paths import DATA

STARTER = DATA / 'starter-site.yaml'


def text(name=None):
    """The starter site file, with another site name if given."""
    t = STARTER.read_text()
    if name is None:
        return t
    if not re.fullmatch(r'[a-z0-9-]{1,40}', name):
        raise EdgeError('site name %r: use lower-case letters, digits and - (at most 40)' % name, 2)
    return t.replace('site: my-site ', 'site: %s ' % name, 1)


def write(folder, name=None):
    """Write FOLDER/site.yaml; refuse to overwrite. Returns its path."""
    folder = Path(folder)
    path = folder / 'site.yaml'
    body = text(name)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        if not folder.is_dir():
            raise EdgeError('%s is a file, not a folder: nothing written' % folder, 2)
        raise EdgeError('%s exists: nothing written (edit it, or init another folder)' % path, 1)
    except OSError as e:
        raise EdgeError('cannot write %s: %s' % (path, e.strerror), 1)
    with os.fdopen(fd, 'w') as f:
        f.write(body)
    return path
