"""Gate call station cases on the rig: a press rings the control room, the operator answers
and releases the gate (strike pulse measured on the rig clock), a second operator and an
unanswered unlock are refused, calls time out, a cut or shorted line is a fault and its
presses are ignored. Site: dut-call in hil_tests/site.yaml (strike_s 1, ring_timeout_s 5,
debounce 20 ms; the line is driven by the rig's DAC)."""
import time


def ring(c):
    since = c.mark()
    c.set('station.call', 1)
    call = c.event('intercom.call', since=since)
    c.set('station.call', 0)
    c.edge('station.led', 1, 1.0, since)            # blinking
    return call[2]['call']


def test_answer_and_unlock_pulse_the_strike_for_strike_s(callpoint):
    c = callpoint
    cid = ring(c)
    ack = c.command('station', 'unlock', call=cid)
    assert not ack['ok'] and 'not answered' in ack['err'], ack
    since = c.mark()
    assert c.command('station', 'answer', call=cid, by='desk-1')['ok']
    c.event('intercom.answered', since=since)
    again = c.command('station', 'answer', call=cid, by='desk-2')
    assert not again['ok'] and 'already answered by desk-1' in again['err'], again
    since = c.mark()
    assert c.command('station', 'unlock', call=cid)['ok']
    on = c.edge('station.strike', 1, 1.0, since)
    off = c.edge('station.strike', 0, 2.0, since)
    c.timing('strike pulse (strike_s 1 s)', off.t - on.t, 0.99, 1.05)
    c.event('intercom.unlock', since=since)
    assert c.command('station', 'hangup', call=cid)['ok']
    ended = c.event('intercom.ended', since=since)
    assert ended[2]['reason'] == 'hangup'


def test_an_unanswered_call_ends_by_timeout(callpoint):
    c = callpoint
    since = c.mark()
    cid = ring(c)
    ended = c.event('intercom.ended', within_s=7, since=since)
    assert ended[2]['call'] == cid and ended[2]['reason'] == 'timeout'
    call = c.event('intercom.call', since=since)
    c.timing('ring timeout (ring_timeout_s 5 s, board clock)', (ended[2]['ts'] - call[2]['ts']) / 1000, 4.99, 5.1)


def test_shorted_and_cut_lines_are_faults_and_presses_are_ignored(callpoint):
    c = callpoint
    for pct, why in ((3, 'line_short'), (97, 'line_open')):
        since = c.mark()
        t0 = c.set('station.line', pct)
        fault = c.event('intercom.fault', True, since=since)
        assert fault[2]['reason'] == why, fault
        for _ in range(3):
            c.set('station.call', 1)
            time.sleep(0.05)
            c.set('station.call', 0)
            time.sleep(0.05)
        st = c.command('station', 'status')['state']
        assert st['call'] == 'idle' and st['ignored_presses'] >= 3, st
        since = c.mark()
        c.set('station.line', 33)
        c.event('intercom.fault', False, since=since)
    ring(c)
