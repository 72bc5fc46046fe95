"""Site-wide fire linkage from the control room (`edgectl fire`): the retained site fire
state every board applies (doors release, barriers open and stay open). Any board's fire
input sets it; only an explicit, acknowledged reset here clears it."""
import json
import time

from .errors import EdgeError
from .mqttc import Collector
from .proto import topics


def status(host, port, site, timeout=2.0):
    col = Collector(host, port, [topics.site_fire(site)], 'fire')
    try:
        m = col.wait(lambda t, p: True, timeout)
        return m[2] if m else None
    finally:
        col.close()


def publish(host, port, site, active, by, devices=(), timeout=10.0, fire_key=None):
    """Publish the site fire state (retained); wait for each listed device to apply it
    (its system.site_fire event). Returns {device: True/False applied}."""
    if not by:
        raise EdgeError('say who you are: --by NAME (kept with the fire state and in the journal)', 2)
    col = Collector(host, port, [topics.base(site, '+') + 'evt/system'], 'fire')
    try:
        m = col.mark()
        body = {'active': active, 'by': by, 'ts': int(time.time() * 1000)}
        if fire_key:                  # boards with the site's fire key accept only a signed reset
            from .commands import signed
            body = signed(body, site, '_site/fire', fire_key)
        col.client.publish(topics.site_fire(site), json.dumps(body), qos=1, retain=True).wait_for_publish(5)
        applied = {}
        end = time.monotonic() + timeout
        for dev in devices:
            r = col.wait(lambda t, p: t == topics.evt(site, dev, 'system') and isinstance(p, dict)
                         and p.get('type') == 'system.site_fire' and p.get('active') == active,
                         max(0.0, end - time.monotonic()), m)
            applied[dev] = r is not None
        return applied
    finally:
        col.close()
