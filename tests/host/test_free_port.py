"""free_port: a loopback port for a server, below the kernel's ephemeral range (where the
machine's own client connections take their source ports, so one could take it first)."""
import socket

from edgectl.core import broker


def test_the_port_is_free_and_below_the_ephemeral_range():
    low = broker._ephemeral_low()
    for pair in (False, True) * 10:
        port = broker.free_port(pair=pair)
        assert 10000 <= port < low - 1, (port, low)
        for p in ((port, port + 1) if pair else (port,)):
            with socket.socket() as s:
                s.bind(('127.0.0.1', p))        # raises if it was not free


def test_a_taken_port_is_not_bindable():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        s.listen(1)
        assert not broker._bindable(s.getsockname()[1])
