"""What a simulator running in this folder (`edgectl sim`) tells the other verbs: its
broker, its boards' wire ports and its site file, in .edgectl/sim.json. The core reads it
so that any wing can talk to a running simulation without importing the simulator."""
import json

from . import paths
from .errors import EdgeError

NAME = 'sim.json'


def path(state_dir=None):
    return (state_dir or paths.STATE_DIR) / NAME


def runtime(state_dir=None):
    """The running simulator's description (written by `edgectl sim`)."""
    p = path(state_dir)
    try:
        return json.loads(p.read_text())
    except FileNotFoundError:
        raise EdgeError('no simulator running from this folder (no %s): start `edgectl sim SITE.yaml` here first' % p)
