"""The protocol files in protocols/: topic builders, command signing and MQTT packets (shared with the
firmware), JSON Schemas of every payload, controller definitions and test vectors."""
import importlib.util
import json
from functools import lru_cache

import jsonschema

from .paths import PROTOCOLS


SHARED = ('topics.py', 'signing.py', 'mqtt_packet.py', 'cardrec.py')     # MicroPython modules the host uses as they are


def _load(name):
    spec = importlib.util.spec_from_file_location('edgectl._' + name, PROTOCOLS / (name + '.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


topics = _load('topics')
signing = _load('signing')
mqtt_packet = _load('mqtt_packet')
cardrec = _load('cardrec')


@lru_cache(maxsize=None)
def schema(name):
    with open(PROTOCOLS / 'schemas' / ('%s.schema.json' % name)) as f:
        return json.load(f)


@lru_cache(maxsize=None)
def validator(name):
    s = schema(name)
    cls = jsonschema.validators.validator_for(s)
    return cls(s)


def errors(name, obj):
    """Messages for each way obj breaks the named schema (empty list: valid)."""
    return ['%s: %s' % ('.'.join(str(p) for p in e.absolute_path) or '(top)', e.message)
            for e in validator(name).iter_errors(obj)]


@lru_cache(maxsize=None)
def controllers():
    with open(PROTOCOLS / 'controllers.json') as f:
        return json.load(f)


def vectors(name):
    with open(PROTOCOLS / 'vectors' / ('%s.json' % name)) as f:
        return json.load(f)
