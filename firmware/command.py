# Parse and check a command payload ({"id": "c-42", "op": "open", ...}) before any
# controller sees it. A refusal carries the reason that goes back in the ack.
import strictjson
from compat import const

_MAX_ID = const(64)
_MAX_OP = const(32)
_MAX_ARGS = const(16)


class CommandError(Exception):
    def __init__(self, reason, cid=None):
        super().__init__(reason)
        self.reason = reason
        self.cid = cid


def parse(payload):
    """Return (id, op, args) from raw bytes; CommandError(reason, id) if malformed."""
    try:
        msg = strictjson.loads(payload)
    except ValueError as e:         # strict: MicroPython's json alone takes '{"a" 1}'
        raise CommandError(str(e))
    except Exception:
        raise CommandError('malformed JSON')
    if not isinstance(msg, dict):
        raise CommandError('command must be a JSON object')
    cid = msg.get('id')
    if not isinstance(cid, str) or not 0 < len(cid) <= _MAX_ID:
        raise CommandError("'id' must be a string of 1..%d characters" % _MAX_ID,
                           cid if isinstance(cid, str) and len(cid) <= _MAX_ID else None)
    op = msg.get('op')
    if not isinstance(op, str) or not 0 < len(op) <= _MAX_OP or op.strip('abcdefghijklmnopqrstuvwxyz_0123456789'):
        raise CommandError("'op' must be a lower-case word", cid)
    if len(msg) > _MAX_ARGS + 2:
        raise CommandError('too many arguments', cid)
    args = {}
    for k in msg:
        if k == 'id' or k == 'op':
            continue
        v = msg[k]
        if isinstance(v, (dict, list)):
            raise CommandError("argument '%s' must be a number, string or boolean" % k, cid)
        args[k] = v
    return cid, op, args


def verify(key, device, ctrl, fields, now_ms=None, ctr_path=None, last=0, floor=None):
    """Check a signed message with signing.Verifier, whose code is loaded for this check
    only (signed messages are rare; a board that loads its code into RAM has little heap to
    spare). `last`: the highest counter this owner accepted since boot (kept even if its flash
    copies could not be written); `floor`: what vouches for the counter when no copy is valid.
    Returns (None or why it is refused, the highest counter accepted)."""
    import sys
    import gc
    had = 'signing' in sys.modules
    try:
        for again in (False, True):
            try:
                import signing
                v = signing.Verifier(key, device, ctr_path)
                if floor is not None and not v.known:
                    v.known, v.last = True, max(v.last, floor)
                if last > v.last:
                    v.known, v.last = True, last
                return v.check(ctrl, fields, now_ms), v.last
            except MemoryError:         # a fragmented heap: once more after a collection,
                if again:               # then refused (and said), never a silent failure
                    return 'the board is short of memory: try again', last
                gc.collect()
    finally:
        if not had and 'signing' in sys.modules:
            del sys.modules['signing']
