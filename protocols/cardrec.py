# The card store's file layout, shared by the board (firmware/cardstore.py, cardsync.py)
# and the front desk (host: room/cards.py), so both write the same bytes.
# MicroPython subset: the board and the host import this one file.
#
# cards.db = a 32-byte header, then fixed-size records sorted by `key` (binary search on
# the file: nothing is loaded into the heap).
#   header: magic 'EDC1', version u32, count u32, salt 16 bytes, 4 spare
#   record (40 bytes, big-endian):
#     0 key 8      the card: sha256(salt + 'W26:1234567')[:8], never the number itself
#     8 holder u32 the front desk's holder reference
#    12 groups u32 the door groups it opens (bit n: access_group n)
#    16 from u32   valid from (s since 1970, 0: no bound)
#    20 until u32  valid until, exclusive (0: no bound)
#    24 days u8    weekly window: weekday mask (bit 0 Monday); 0: any time
#    25 on u16, 27 off u16   window minutes of the local day (on > off crosses midnight)
#    29 uses u16   uses left (0xFFFF: unlimited)
#    31 flags u8   bits 0-1 state (0 active, 1 revoked, 2 lost; 3 in a delta: delete), bit 2 PIN
#    32 pin u32    sha256(salt + key + PIN digits)[:4], when bit 2
#    36 apb u8     anti-passback: 0 unknown, 1 inside (last entry), 2 outside (last exit)
#    37 uses_rev u8  the front desk's revision of `uses`: an update with the same one keeps
#                    the board's count (it counts down on the board)
#    38 2 spare
import hashlib
import struct

MAGIC = b'EDC1'
HDR_FMT = '>4sII16s4s'
HDR = 32
REC_FMT = '>8sIIIIBHHHBIBB2s'
REC = 40
O_USES = 29
O_FLAGS = 31
O_APB = 36
O_UREV = 37
UNLIMITED = 0xFFFF
ACTIVE = 0
REVOKED = 1
LOST = 2
DELETE = 3
F_PIN = 4
STATES = ('active', 'revoked', 'lost', 'delete')


def key(salt, card):
    """The 8-byte key of a card text ('W26:1234567', 'W34:...')."""
    return hashlib.sha256(salt + card.encode()).digest()[:8]


def pin_hash(salt, k, pin):
    h = hashlib.sha256(salt + k + pin.encode()).digest()
    return (h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]


def header(version, count, salt):
    return struct.pack(HDR_FMT, MAGIC, version, count, salt, b'\0\0\0\0')


def pack(k, holder=0, groups=0, vfrom=0, until=0, days=0, on=0, off=0, uses=UNLIMITED, state=ACTIVE,
         pin=None, salt=b'', apb=0, uses_rev=0):
    """One record; `pin`: the PIN digits (text) when the card needs one."""
    flags = state | (F_PIN if pin else 0)
    ph = pin_hash(salt, k, pin) if pin else 0
    return struct.pack(REC_FMT, k, holder, groups, vfrom, until, days, on, off, uses, flags, ph, apb, uses_rev,
                       b'\0\0')


def unpack(b):
    """(key, holder, groups, from, until, days, on, off, uses, flags, pin, apb, uses_rev)."""
    return struct.unpack(REC_FMT, b)[:13]
