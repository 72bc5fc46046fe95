# Checking a firmware offer (firmware/ota.py): its signature with this board's key, the
# version (no downgrade), the image kind, size and update window. Loaded for the check, then
# dropped with signing (config.once): the transfer that follows needs neither.
from ctrl_base import short
from ota import Refused, SIGNED_AS, window


def version(v):
    """'1.2.3' -> (1, 2, 3); ValueError for anything else."""
    if not isinstance(v, str) or not v or len(v) > 16:
        raise ValueError(v)
    return tuple(int(x) for x in v.split('.'))


def check(msg, key, device, running, kinds, room, path='ota_ctr.json'):
    """The offer's manifest when this board takes it, else Refused(why)."""
    if key is None:
        raise Refused('this board has no key: firmware updates need a signed offer (edgectl flash writes the key)')
    if msg.get('kind') not in kinds:
        raise Refused('image kind %r: this board takes %s' % (short(msg.get('kind'), 16), '/'.join(kinds)))
    import signing
    v = signing.Verifier(key, device, path)
    v.known = True      # like a config push: an offer may wait for a board that was offline
    err = v.check(SIGNED_AS, msg)
    if err:
        raise Refused('offer refused: ' + err)
    try:
        new = version(msg.get('ver'))
        old = version(running)
    except ValueError:
        raise Refused('version %r is not like 1.2.3' % short(msg.get('ver'), 20))
    if new <= old:
        raise Refused('downgrade: %s is not newer than the running %s' % (msg['ver'], running))
    size, sha = msg.get('size'), msg.get('sha')
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= room:
        raise Refused('image of %r bytes does not fit (room for %d)' % (size, room))
    if not isinstance(sha, str) or len(sha) != 64:
        raise Refused('the offer needs the image\'s SHA-256 (64 hex digits)')
    if msg.get('win') is not None:
        window(msg['win'])
    return msg
