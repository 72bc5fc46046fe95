"""TLS to the broker: a site CA and a broker certificate for its name; the host client
verifies both, and refuses a broker whose certificate names another host or comes from
another CA."""
import time

import pytest

from edgectl.core import tls
from edgectl.core.broker import Broker, free_port
from edgectl.core.errors import EdgeError
from edgectl.core.mqttc import Collector, connect


def tls_broker(tmp_path, name, ca_dir):
    ca, key = tls.make_ca(ca_dir, 'tl')
    d = tmp_path / ('srv-%s-%s' % (name, ca_dir.name))
    d.mkdir()
    crt, k = tls.make_server(d, ca, key, name)
    return Broker(port=free_port(), workdir=d / 'broker', tls=(ca, crt, k)).start(), ca


def test_host_verifies_the_brokers_certificate_and_name(tmp_path):
    good, ca = tls_broker(tmp_path, '127.0.0.1', tmp_path / 'ca')
    wrong, _ = tls_broker(tmp_path, 'wrong.example', tmp_path / 'ca')
    stranger, other_ca = tls_broker(tmp_path, '127.0.0.1', tmp_path / 'other-ca')
    try:
        col = Collector(good.host, good.port, ['edge/v1/tl/#'], 'tls', ca=ca)
        col.client.publish('edge/v1/tl/x/tele', '{"uptime_s": 1}', qos=1)
        assert col.wait(lambda t, p: t == 'edge/v1/tl/x/tele', 5), 'TLS round trip'
        col.close()
        with pytest.raises(EdgeError) as e:
            connect(wrong.host, wrong.port, 'tls', ca=ca)          # right CA, wrong name
        assert 'TLS' in str(e.value) and ('hostname' in str(e.value) or "match" in str(e.value)), str(e.value)
        with pytest.raises(EdgeError) as e:
            connect(stranger.host, stranger.port, 'tls', ca=ca)    # a certificate from another CA
        assert 'certificate verify failed' in str(e.value)
        with pytest.raises(EdgeError):
            connect(good.host, good.port, 'plain')                 # no TLS: the broker does not talk
    finally:
        for b in (good, wrong, stranger):
            b.stop()
    assert (tmp_path / 'ca' / 'site-ca.key').stat().st_mode & 0o077 == 0


SITE = """\
site: tl
broker: {host: 127.0.0.1, port: %d, tls: true}
devices:
  lobby-1:
    board: esp32-devkitc
    controllers:
      - {name: front, type: door, pins: {contact: 4, lock: 25}}
"""


def test_boards_speak_tls_and_refuse_a_broker_from_another_ca(tmp_path):
    from edgectl.core import site as sitemod
    from edgectl.sim.sim import SimBoard
    br, ca = tls_broker(tmp_path, '127.0.0.1', tmp_path / 'ca')
    tls.make_ca(tmp_path / 'other-ca', 'x')           # a CA the broker's certificate is not from
    s = sitemod.parse(SITE % br.port, 'site.yaml')
    sitemod.validate(s)
    assert not s.errors, s.errors
    cfg = sitemod.device_config(s, 'lobby-1')
    assert cfg['broker']['tls'] is True
    good = SimBoard(cfg, tmp_path / 'good', ca_der=tls.der(ca)).start()
    stranger = SimBoard(dict(cfg, device='lobby-1'), tmp_path / 'bad',
                        ca_der=tls.der(tmp_path / 'other-ca' / 'site-ca.pem')).start()
    col = Collector(br.host, br.port, ['edge/v1/tl/#'], 'tls', ca=ca)
    try:
        st = col.wait(lambda t, p: t.endswith('/status') and isinstance(p, dict) and p.get('online'), 10)
        assert st, good.log_tail()
        time.sleep(3)
        onlines = [m for m in col.msgs if m[1].endswith('/status') and isinstance(m[2], dict) and m[2].get('online')]
        assert len(onlines) == 1, 'the board trusting another CA must not have connected'
    finally:
        col.close()
        good.stop()
        stranger.stop()
        br.stop()
