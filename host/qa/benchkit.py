"""What every benchmark shares: a work folder with its own mosquitto, a simulated board made
from a small site text, waiting until a board is online, and one way to state percentiles."""
import contextlib
import tempfile
from pathlib import Path

from ..core import site as sitemod
from ..core.broker import Broker
from ..core.errors import EdgeError
from ..sim.sim import SimBoard


@contextlib.contextmanager
def workspace(broker=True, inflight=None):
    """(work folder, running Broker or None); both gone afterwards."""
    with tempfile.TemporaryDirectory(prefix='edgectl-bench-') as work:
        work = Path(work)
        if not broker:
            yield work, None
            return
        br = Broker(workdir=work / 'broker')
        if inflight:
            br.max_inflight = inflight
        with br:
            yield work, br


def board(work, broker, site_text, device):
    """A SimBoard (not started) for `device` of a benchmark's site text, pointed at `broker`
    (anything with .host and .port)."""
    site = sitemod.parse(site_text, 'bench-site.yaml')
    sitemod.validate(site)
    if site.errors:
        raise EdgeError('bench site invalid: %s' % site.errors)
    cfg = sitemod.device_config(site, device, {'host': broker.host, 'port': broker.port})
    return SimBoard(cfg, Path(work) / device)


def wait_online(col, timeout=10):
    """The board's retained status says online (a Collector subscribed to it)."""
    return col.wait(lambda t, p: t.endswith('/status') and isinstance(p, dict) and p.get('online'), timeout)


def percentiles(xs, unit='', digits=3):
    """p50, p90, p99, min and max of `xs` (nearest rank), keys suffixed with `unit` (`_ms`)."""
    s = sorted(xs)
    if not s:
        return {}
    at = lambda q: s[min(len(s) - 1, int(len(s) * q))]
    figs = {'p50': at(0.5), 'p90': at(0.9), 'p99': at(0.99), 'min': s[0], 'max': s[-1]}
    return {k + unit: round(v, digits) for k, v in figs.items()}
