"""Push a device's config to a running board as the retained `cfg` message and wait for
the board's verdict (system.config_applied or system.config_rejected)."""
import json
import time

from .errors import EdgeError
from .mqttc import Collector
from .proto import topics


def push_mqtt(host, port, site, cfg, timeout, progress=None):
    dev = cfg['device']
    rev = cfg['rev']
    col = Collector(host, port, [topics.evt(site, dev, 'system'), topics.status(site, dev)], 'cfgpush')
    try:
        m = col.mark()
        col.client.publish(topics.cfg(site, dev), json.dumps(cfg), qos=1, retain=True).wait_for_publish(5)
        t0 = time.monotonic()
        verdict = None
        while verdict is None:
            left = timeout - (time.monotonic() - t0)
            if left <= 0:
                raise EdgeError('no verdict from %s on config rev %s within %.0f s (online? see `edgectl monitor`)' % (
                    dev, rev, timeout))
            verdict = col.wait(lambda t, p: isinstance(p, dict) and p.get('rev') == rev and p.get('type') in (
                'system.config_applied', 'system.config_rejected'), min(left, 1.0), m)
            if progress and verdict is None:
                progress(time.monotonic() - t0)
        return verdict[2]
    finally:
        col.close()
