"""What the control room takes from a site's topics: the one check every message passes
before the monitor shows it or the journal keeps it (both feed through Monitor.handle).

An event must follow protocols/schemas/event.schema.json, with the bounds SQLite and a sane
board set besides: seq and ts below 2**63 (SQLite's INTEGER), at most MAX_BYTES of JSON
(a board's outbox record is at most 1 KB), ctrl and field names at most 64 characters,
extra fields nested at most MAX_DEPTH deep, no NaN or Infinity. The check is written out
by hand (2 us an event): jsonschema's validator took 90 us here, over three times the
journal's whole per-event budget at its ingest rate (25 us at 40,000 events/s); tests/host/test_intake.py holds the two to the same
verdict on the shared vectors and on generated events.

Any other message under a device (status, ack, state, tele, cmd, cfg) and the site's own
(fire, alarm acknowledgements) must be one JSON object of at most MAX_BYTES_OTHER.
`check()` returns (object, None) or (None, why)."""
import json
import math
import re

MAX_BYTES = 4096            # an event's JSON
MAX_BYTES_OTHER = 65536     # state snapshots, telemetry, acks, status, the control room's cmd and cfg
MAX_DEPTH = 4               # extra fields: {"a": [1, {"b": 2}]} is depth 3
INT_MAX = 2 ** 63 - 1       # SQLite's INTEGER
LOG_MAX = 2147483647        # the schema's bound on a log id
NAME_MAX = 64               # ctrl, type and field names
SEVS = ('alarm', 'warn', 'info')
TYPE = re.compile(r'(?:door|barrier|pump|intercom|genset|lift_recall|zone|system|access)\.[a-z_]+\Z')
KNOWN = frozenset(('seq', 'log', 'ts', 'type', 'sev', 'ctrl', 'active'))


def _no_constant(name):
    raise ValueError('%s is not JSON' % name)


_DECODE = json.JSONDecoder(parse_constant=_no_constant).decode    # made once: json.loads(raw, **kw) makes one a call


def parse(raw, limit):
    """raw bytes as one JSON object: (object, None) or (None, why)."""
    if len(raw) > limit:
        return None, 'too large: %d bytes (at most %d)' % (len(raw), limit)
    try:
        obj = _DECODE(raw.decode('utf-8') if isinstance(raw, (bytes, bytearray)) else raw)
    except RecursionError:
        return None, 'nested too deep'
    except UnicodeDecodeError:
        return None, 'not UTF-8'
    except ValueError as e:
        return None, 'not JSON (%s)' % e
    if type(obj) is not dict:
        return None, 'not a JSON object (%s)' % type(obj).__name__
    return obj, None


def _int(v, lo, hi):
    return type(v) is int and lo <= v <= hi


def _depth_ok(v, depth):
    if type(v) is dict:
        return depth < MAX_DEPTH and all(_depth_ok(x, depth + 1) for x in v.values())
    if type(v) is list:
        return depth < MAX_DEPTH and all(_depth_ok(x, depth + 1) for x in v)
    if type(v) is float:
        return math.isfinite(v)
    return True


def event_error(ev):
    """Why a parsed event cannot be taken, or None when it follows the schema and the bounds."""
    seq = ev.get('seq')
    if not _int(seq, 1, INT_MAX):
        return 'seq must be an integer 1..2**63-1 (got %.40r)' % (seq,)
    ts = ev.get('ts')
    if not _int(ts, 0, INT_MAX):
        return 'ts must be an integer 0..2**63-1 (got %.40r)' % (ts,)
    if 'log' in ev and not _int(ev['log'], 1, LOG_MAX):
        return 'log must be an integer 1..%d (got %.40r)' % (LOG_MAX, ev['log'])
    t = ev.get('type')
    if type(t) is not str or len(t) > NAME_MAX or not TYPE.match(t):
        return 'type must be <door|barrier|pump|intercom|genset|lift_recall|zone|system|access>.<name> (got %.40r)' % (t,)
    sev = ev.get('sev')
    if type(sev) is not str or sev not in SEVS:
        return 'sev must be alarm, warn or info (got %.40r)' % (sev,)
    c = ev.get('ctrl')
    if type(c) is not str or not 1 <= len(c) <= NAME_MAX:
        return 'ctrl must be a name of 1..%d characters (got %.40r)' % (NAME_MAX, c)
    if 'active' in ev:
        if type(ev['active']) is not bool:
            return 'active must be true or false (got %.40r)' % (ev['active'],)
    elif sev == 'alarm':
        return 'an alarm needs active'
    if not KNOWN.issuperset(ev):          # extra fields (most events have one or none)
        for k, v in ev.items():
            if k in KNOWN:
                continue
            if len(k) > NAME_MAX:
                return 'field name longer than %d characters' % NAME_MAX
            if not _depth_ok(v, 1):
                return 'field %.40r nested deeper than %d or not a finite number' % (k, MAX_DEPTH)
    return None


def check(kind, raw):
    """A message of `kind` (evt, status, ...) as received: (object, None) when the control
    room may show and journal it, else (None, why)."""
    if kind == 'evt':
        ev, why = parse(raw, MAX_BYTES)
        if why is None:
            why = event_error(ev)
        return (ev, None) if why is None else (None, why)
    if kind == 'log':
        line, why = parse(raw, MAX_BYTES)
        if why is None:
            why = log_error(line)
        return (line, None) if why is None else (None, why)
    return parse(raw, MAX_BYTES_OTHER)


def log_error(line):
    """Why a board's log line ({"lvl": 1..4, "ts", "msg"[, "dropped"]}) cannot be taken, or None."""
    if not _int(line.get('lvl'), 1, 4):
        return 'lvl must be 1..4 (got %.40r)' % (line.get('lvl'),)
    if not _int(line.get('ts'), 0, INT_MAX):
        return 'ts must be an integer 0..2**63-1 (got %.40r)' % (line.get('ts'),)
    if type(line.get('msg')) is not str:
        return 'msg must be text'
    if 'dropped' in line and not _int(line['dropped'], 0, INT_MAX):
        return 'dropped must be a count (got %.40r)' % (line['dropped'],)
    return None
