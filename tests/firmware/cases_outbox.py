# The persistent outbox: ordering, persistence across reboots, torn writes, damage,
# bounds and priorities, compaction. Runs on CPython and on the MicroPython unix port.
import json
from outbox import Outbox
from harness import check, eq, tmpfile


def _types(ob):
    return [json.loads(j)['type'] for s, sev, j in ob.items()]


def _seqs(ob):
    return [s for s, sev, j in ob.items()]


def _copy_prefix(src, dst, n):
    """The first n bytes of segment file src as the only segment of a log at dst."""
    with open(src, 'rb') as f:
        data = f.read()
    tmpfile(dst[dst.rfind('/') + 1:])
    with open(dst + '.1', 'wb') as f:
        f.write(data[:n])
    return len(data)


def _flash_bytes(ob):
    import os
    total = 0
    for n in range(ob.first, ob.last + 1):
        try:
            total += os.stat(ob.seg(n))[6]
        except OSError:
            pass
    return total


def case_events_come_out_in_seq_order_and_leave_on_ack():
    p = tmpfile('ob1')
    ob = Outbox(p, 50)
    for i in range(5):
        ob.add('front', 'door.opened', 'info', {'i': i})
    eq(len(ob), 5, 'pending')
    seq, ctrl, data = ob.peek()
    eq((seq, ctrl), (1, 'front'), 'head')
    eq(json.loads(data)['i'], 0, 'payload')
    ob.delivered(1)
    ob.delivered(2)
    eq(ob.peek()[0], 3, 'head after two acks')
    ob.close()


def case_pending_and_seq_survive_reboot():
    p = tmpfile('ob2')
    ob = Outbox(p, 50)
    for i in range(4):
        ob.add('front', 'door.opened', 'info')
    ob.delivered(2)
    ob.close()
    ob = Outbox(p, 50)
    eq(_seqs(ob), [3, 4], 'pending after reboot')
    eq(ob.add('front', 'door.closed', 'info')['seq'], 5, 'seq after reboot')
    ob.close()


def case_power_cut_at_any_byte_keeps_earlier_events():
    p = tmpfile('ob3')
    ob = Outbox(p, 50)
    ends = []
    for i in range(4):
        ob.add('front', 'door.held_open', 'alarm', {'active': True, 'i': i})
        ends.append(ob.size)
    seg = ob.seg(ob.last)
    ob.close()
    cut = tmpfile('ob3cut')
    total = _copy_prefix(seg, cut, 1 << 20)
    for n in range(0, total + 1, 3):
        _copy_prefix(seg, cut, n)
        ob2 = Outbox(cut, 50)
        whole = len([e for e in ends if e <= n])
        eq(_seqs(ob2), list(range(1, whole + 1)), 'events kept after a cut at byte %d' % n)
        ev = ob2.add('front', 'door.opened', 'info')
        eq(ev['seq'], whole + 1, 'next seq after a cut at byte %d' % n)
        ob2.close()
        ob3 = Outbox(cut, 50)
        eq(len(ob3), whole + 1, 'a new event after the cut survives the next reboot (byte %d)' % n)
        eq(ob3.corrupt, 0, 'the torn tail was cleaned up (byte %d)' % n)
        ob3.close()


def case_damaged_record_in_the_middle_loses_only_itself():
    p = tmpfile('ob4')
    ob = Outbox(p, 50)
    ob.add('front', 'door.opened', 'info')
    start2 = ob.size
    ob.add('front', 'door.forced', 'alarm', {'active': True})
    ob.add('front', 'door.closed', 'info')
    seg = ob.seg(ob.last)
    ob.close()
    with open(seg, 'rb') as f:
        data = bytearray(f.read())
    data[start2 + 12] ^= 0xFF
    with open(seg, 'wb') as f:
        f.write(data)
    ob = Outbox(p, 50)
    eq(_seqs(ob)[:2], [1, 3], 'records around the damaged one')
    eq(_types(ob)[2:], ['system.log_damaged'], 'and the damage said')
    check(ob.corrupt >= 1, 'damage counted')
    ob.close()


def case_full_outbox_drops_info_before_alarms():
    p = tmpfile('ob5')
    ob = Outbox(p, 4)
    ob.add('front', 'door.forced', 'alarm', {'active': True})
    ob.add('front', 'door.opened', 'info')
    ob.add('system', 'system.cmd_rejected', 'warn')
    ob.add('front', 'door.held_open', 'alarm', {'active': True})
    ob.add('front', 'door.fire_release', 'alarm', {'active': True})   # drops the info
    ob.add('front', 'door.forced', 'alarm', {'active': False})        # drops the warning
    eq(_types(ob), ['door.forced', 'door.held_open', 'door.fire_release', 'door.forced'], 'kept')
    eq(ob.dropped, 2, 'dropped')
    ob.add('front', 'door.held_open', 'alarm', {'active': False})      # all alarms: oldest goes
    eq(_seqs(ob)[0], 4, 'oldest alarm gave way')
    ob.close()
    ob = Outbox(p, 4)
    eq(ob.dropped, 3, 'dropped count after reboot')
    eq(ob.dropped - ob.reported, 3, 'unreported drops')
    ob.report_drops()
    ob.close()
    ob = Outbox(p, 4)
    eq(ob.dropped - ob.reported, 0, 'reported drops after reboot')
    ob.close()


def case_compaction_keeps_pending_seq_and_counts():
    p = tmpfile('ob6')
    ob = Outbox(p, 1000)
    for i in range(200):
        ob.add('front', 'door.opened', 'info', {'pad': 'x' * 60})
    big = _flash_bytes(ob)
    ob.delivered(190)                   # the segments it empties go at once
    check(_flash_bytes(ob) < big // 2, 'delivered segments deleted: %d -> %d bytes' % (big, _flash_bytes(ob)))
    eq(_seqs(ob), list(range(191, 201)), 'pending after compaction')
    eq(json.loads(ob.peek()[2])['seq'], 191, 'payload readable after compaction')
    ob.close()
    ob = Outbox(p, 1000)
    eq(ob.seq, 200, 'seq after compaction and reboot')
    eq(len(ob), 10, 'pending after compaction and reboot')
    ob.delivered(200)
    ob.close()
    ob = Outbox(p, 1000)
    eq((len(ob), ob.seq), (0, 200), 'empty log keeps seq')
    ob.close()


def case_a_long_outage_keeps_ram_flat_and_drops_in_batches():
    import gc
    p = tmpfile('ob7')
    ob = Outbox(p, 150)
    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, 'mem_alloc') else 0
    for i in range(1000):
        ob.add('front', 'door.opened' if i % 10 else 'door.forced', 'info' if i % 10 else 'alarm',
               {'active': True} if i % 10 == 0 else None)
    gc.collect()
    after = gc.mem_alloc() if hasattr(gc, 'mem_alloc') else 0
    check(after - before < 2048, 'RAM grew by %d bytes over 1000 events' % (after - before))
    check(len(ob) <= 150, 'bounded: %d' % len(ob))
    eq(ob.dropped + len(ob), 1000, 'every event is pending or counted as dropped')
    types = _types(ob)
    eq(types.count('door.forced'), 100, 'all 100 alarms kept, infos gave way')
    seqs = _seqs(ob)
    eq(seqs, sorted(seqs), 'still in seq order')
    ob.close()
    ob = Outbox(p, 150)
    eq((len(ob), ob.seq, ob.dropped), (len(seqs), 1000, 1000 - len(seqs)), 'after reboot')
    ob.close()


def case_damage_never_costs_a_later_good_record():
    # record 2's CRC is damaged so that it holds a false record start (0xA5) whose length
    # runs past the end of the file: the scan must not take that for a torn tail
    p = tmpfile('ob8')
    ob = Outbox(p, 50)
    starts = []
    for i in range(4):
        starts.append(ob.size)
        ob.add('front', 'door.opened', 'info', {'i': i})
    seg = ob.seg(ob.last)
    ob.close()
    with open(seg, 'rb') as f:
        data = bytearray(f.read())
    s2 = starts[1]
    data[s2 + 4] = 0xA5          # CRC byte 0: looks like a record start
    data[s2 + 6] = 0xFF          # ... whose length (CRC bytes 2, 3) is 65535
    data[s2 + 7] = 0xFF
    with open(seg, 'wb') as f:
        f.write(data)
    ob = Outbox(p, 50)
    eq(_seqs(ob)[:3], [1, 3, 4], 'records around the damaged one')
    eq(_types(ob)[3:], ['system.log_damaged'], 'and the damage said')
    ob.close()


def case_oversized_event_is_kept_without_its_extra_fields():
    p = tmpfile('ob9')
    ob = Outbox(p, 50)
    ob.add('front', 'door.forced', 'alarm', {'active': True, 'note': 'x' * 5000})
    ob.close()
    ob = Outbox(p, 50)
    ev = json.loads(ob.peek()[2])
    eq((ev['type'], ev['active'], ev['truncated']), ('door.forced', True, True), 'kept, marked truncated')
    ob.close()


def case_the_log_id_survives_reboots_and_compaction_and_a_wiped_log_gets_a_new_one():
    p = tmpfile('oblog')
    ob = Outbox(p, 1000)
    log = ob.log
    check(0 < log < 2 ** 31, 'a log id is picked for a fresh log: %r' % log)
    eq(ob.add('front', 'door.opened', 'info')['log'], log, 'events carry the log id')
    ob.close()
    ob = Outbox(p, 1000)
    eq(ob.log, log, 'log id after reboot')
    for i in range(3):
        ob.add('front', 'door.opened', 'info')
    ob.delivered(4)
    ob.compact()
    ob.close()
    ob = Outbox(p, 1000)
    eq(ob.log, log, 'log id after compaction')
    eq(ob.add('front', 'door.closed', 'info')['seq'], 5, 'seq goes on')
    ob.close()
    import os
    tmpfile('oblog')                 # the flash was erased: a new log starts at seq 1
    ob = Outbox(p, 1000)
    ev = ob.add('front', 'door.opened', 'info')
    eq(ev['seq'], 1, 'seq of a wiped board')
    check(ev['log'] != log, 'a wiped board starts a new log, not log %d again' % log)
    ob.close()


def case_an_old_snapshot_without_log_id_gets_one_and_keeps_its_seq():
    import struct
    from outbox import _write
    S = 0x53
    p = tmpfile('oblegacy')
    with open(p, 'wb') as f:
        _write(f, S, struct.pack('<III', 41, 0, 0))     # the 12-byte snapshot of earlier firmware
    ob = Outbox(p, 50)
    check(ob.log > 0, 'an id was given')
    eq(ob.add('front', 'door.opened', 'info')['seq'], 42, 'seq kept')
    log = ob.log
    ob.close()
    eq(Outbox(p, 50).log, log, 'and kept from then on')


def _drop_counts(ob):
    return [json.loads(j)['count'] for s, sev, j in ob.items() if json.loads(j)['type'] == 'system.events_dropped']


def case_events_dropped_counts_every_drop_even_when_its_own_report_makes_room():
    # issue 15 finding 12: the report was added to a full outbox, which gave up more events
    # to make room for it, and those were marked reported without being counted
    p = tmpfile('obdrop')
    ob = Outbox(p, 50)
    for i in range(55):                 # 5 given up at the 51st; full again at the 55th
        ob.add('front', 'door.opened', 'info', {'i': i})
    eq((len(ob), ob.dropped), (50, 5), 'full, 5 dropped')
    ev = ob.report_drops()
    eq((ev['count'], ev['total']), (ob.dropped, ob.dropped), 'the report counts the drops its own room made')
    eq(ob.dropped - ob.reported, 0, 'nothing dropped and unreported')
    eq(ob.report_drops(), None, 'reported once')
    counts = [ev['count']]
    for i in range(500):                # a long outage with a report at every reconnect
        ob.add('front', 'door.opened', 'info', {'i': i})
        if i % 37 == 0:
            r = ob.report_drops()
            if r:
                counts.append(r['count'])
    r = ob.report_drops()
    counts.append(r['count'])
    eq(sum(counts), ob.dropped, 'the reports add up to every event given up')
    eq(_drop_counts(ob), counts[-len(_drop_counts(ob)):], 'the reports still pending are the last ones')
    ob.close()
    ob = Outbox(p, 50)
    eq((ob.dropped - ob.reported, ob.dropped), (0, sum(counts)), 'after reboot: all reported')
    ob.close()


def _damage(p, at):
    with open(p, 'rb') as f:
        data = bytearray(f.read())
    data[at] ^= 0xFF
    with open(p, 'wb') as f:
        f.write(data)


def case_a_damaged_delivery_mark_is_said_and_what_comes_again_is_named():
    p = tmpfile('obdmg')
    ob = Outbox(p, 50)
    for i in range(3):
        ob.add('front', 'door.opened', 'info', {'i': i})
    ob.delivered(1)
    mark = ob.size
    ob.delivered(3)                     # this delivery mark is damaged below
    ob.add('front', 'door.closed', 'info')
    seg = ob.seg(ob.last)
    ob.close()
    _damage(seg, mark + 9)
    ob = Outbox(p, 50)
    types = _types(ob)
    check('system.log_damaged' in types, 'the damage is an event: %r' % types)
    dmg = [json.loads(j) for s, sev, j in ob.items() if json.loads(j)['type'] == 'system.log_damaged'][0]
    eq(dmg['resent'], [2, 3], 'events 2..3 may have been delivered: named, not resent silently')
    eq(dmg['spots'], 1, 'one damaged spot')
    eq(_seqs(ob)[:3], [2, 3, 4], 'nothing undelivered is lost for it')
    ob.close()
    ob = Outbox(p, 50)
    eq(_types(ob).count('system.log_damaged'), 1, 'said once (the damage was cut out)')
    ob.close()


def case_damage_before_the_last_delivery_mark_resends_nothing():
    p = tmpfile('obdmg2')
    ob = Outbox(p, 50)
    first = ob.size
    for i in range(3):
        ob.add('front', 'door.opened', 'info', {'i': i})
    ob.delivered(3)
    ob.add('front', 'door.closed', 'info')
    seg = ob.seg(ob.last)
    ob.close()
    _damage(seg, first + 12)            # event 1, long delivered
    ob = Outbox(p, 50)
    eq(_types(ob), ['door.closed', 'system.log_damaged'], 'only the pending event and the damage report')
    dmg = json.loads(ob.items()[-1][2])
    check('resent' not in dmg, 'nothing delivered comes again: %r' % dmg)
    ob.close()


def case_a_4mb_board_keeps_ten_thousand_events_with_flat_ram():
    import gc
    import outbox
    fs = 2048 * 1024                        # esp32-devkitc: the 2 MB filesystem of a 4 MB flash
    p = tmpfile('ob10k')
    ob = Outbox(p, 0, outbox.budget(p, fs))
    check(ob.max_len >= 10000, 'a 4 MB board keeps %d events' % ob.max_len)
    eq(Outbox(tmpfile('ob200'), 200, outbox.budget(p, fs)).max_len, 200, 'an explicit outbox_max is kept')
    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, 'mem_alloc') else 0
    for i in range(10000):
        ob.add('front', 'door.opened' if i % 2 else 'door.closed', 'info', {'by': 'rex'})
    gc.collect()
    after = gc.mem_alloc() if hasattr(gc, 'mem_alloc') else 0
    check(after - before < 2048, 'RAM grew by %d bytes over 10,000 events' % (after - before))
    eq((len(ob), ob.dropped), (10000, 0), 'all kept')
    check(ob.bytes <= ob.max_bytes, 'within its flash budget: %d of %d bytes' % (ob.bytes, ob.max_bytes))
    check(ob.last - ob.first > 10, 'spread over segments: %d..%d' % (ob.first, ob.last))
    ob.close()
    ob = Outbox(p, 0, outbox.budget(p, fs))
    eq((len(ob), ob.seq, ob.peek()[0]), (10000, 10000, 1), 'after reboot')
    ob.delivered(9990)
    check(ob.first >= ob.last - 1, 'delivered segments deleted without a rewrite: %d..%d' % (ob.first, ob.last))
    eq([s for s, sev, j in ob.items()], list(range(9991, 10001)), 'the rest still pending')
    ob.close()


def case_the_flash_budget_holds_whatever_the_event_size():
    p = tmpfile('obbytes')
    ob = Outbox(p, 100000, 40000)           # room for many events by count, 40 KB of flash
    for i in range(1000):
        ob.add('front', 'door.opened' if i % 10 else 'door.forced', 'info' if i % 10 else 'alarm',
               {'pad': 'x' * 100})
        check(ob.bytes <= 40000, 'flash used %d bytes after %d events' % (ob.bytes, i + 1))
    eq(ob.dropped + len(ob), 1000, 'every event is pending or counted as dropped')
    eq(_types(ob).count('door.forced'), 100, 'alarms kept, infos gave way')
    ob.close()
    ob = Outbox(p, 100000, 40000)
    eq(ob.dropped + len(ob), 1000, 'the same after reboot')
    ob.close()
