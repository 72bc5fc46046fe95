"""The JSON Schemas against the shared vectors, and the topic builders."""
import json

import pytest

from edgectl.core import proto

EVENTS = proto.vectors('event')
CMDS = proto.vectors('cmd')


@pytest.mark.parametrize('ev', EVENTS['valid'])
def test_valid_events(ev):
    assert proto.errors('event', ev) == []


@pytest.mark.parametrize('ev', EVENTS['invalid'])
def test_invalid_events(ev):
    assert proto.errors('event', ev) != []


@pytest.mark.parametrize('v', CMDS['valid'])
def test_valid_commands(v):
    assert proto.errors('cmd', json.loads(v['payload'])) == []


@pytest.mark.parametrize('v', CMDS['invalid'])
def test_invalid_commands(v):
    try:
        obj = json.loads(v['payload'])
    except ValueError:
        return  # not JSON at all: refused before any schema
    assert proto.errors('cmd', obj) != []


def test_every_schema_is_valid_jsonschema():
    import jsonschema
    for name in ('site', 'event', 'status', 'state', 'cmd', 'ack', 'tele', 'cfg'):
        s = proto.schema(name)
        jsonschema.validators.validator_for(s).check_schema(s)


def test_status_and_ack_shapes():
    assert proto.errors('status', {'online': False}) == []
    assert proto.errors('status', {'online': True}) != []
    assert proto.errors('ack', {'id': 'c', 'ok': False}) != []
    assert proto.errors('ack', {'id': 'c', 'ok': False, 'err': 'x'}) == []


def test_topics_round_trip():
    t = proto.topics
    assert t.parse(t.evt('s', 'd', 'front')) == ('s', 'd', 'evt', 'front')
    assert t.parse(t.tele('s', 'd')) == ('s', 'd', 'tele', None)
    assert t.site_filter('s') == 'edge/v1/s/#'
