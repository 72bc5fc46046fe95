"""Benchmarks (`edgectl bench NAME --json`): figures, never pass/fail."""
import statistics
import time

from ..core.errors import EdgeError
from ..core.mqttc import Collector, close as mqtt_close
from ..core.proto import topics
from ..sim.simio import SimIO
from .benchkit import board as _site_board, percentiles, wait_online as _wait_online, workspace
from .webbench import web_latency

BENCH_SITE = """
site: bench
broker: {host: 127.0.0.1, port: 1883}
devices:
  bench-1:
    board: esp32-devkitc
    controllers:
      - name: front
        type: door
        pins: {contact: 4, rex: 13, fire: 14, lock: 25, buzzer: 26}
        held_open_s: %(held)s
        prealarm_s: 0
        debounce_ms: %(deb)d
"""


def _board(work, broker, held=1, deb=20):
    return _site_board(work, broker, BENCH_SITE % {'held': held, 'deb': deb}, 'bench-1')


def held_open_latency(n=20, held_s=1, debounce_ms=20, progress=None):
    """Door contact active -> door.held_open at an MQTT subscriber, minus held_open_s."""
    with workspace() as (work, br):
        b = _board(work, br, held_s, debounce_ms).start()
        col = Collector(br.host, br.port, [topics.base('bench', 'bench-1') + '#'], 'bench')
        try:
            if not _wait_online(col):
                raise EdgeError('bench board did not come online:\n' + b.log_tail())
            io = SimIO(b.io_port)
            samples = []
            for i in range(n):
                m = col.mark()
                t0 = time.time()
                io.set('front.contact', 1)
                r = col.wait(lambda t, p: isinstance(p, dict) and p.get('type') == 'door.held_open' and p.get('active'),
                             held_s + 5, start=m)
                if r is None:
                    raise EdgeError('no held-open alarm in sample %d:\n%s' % (i, b.log_tail()))
                samples.append((r[0] - t0 - held_s) * 1000)
                m = col.mark()
                io.set('front.contact', 0)
                col.wait(lambda t, p: isinstance(p, dict) and p.get('type') == 'door.held_open'
                         and p.get('active') is False, 5, start=m)
                time.sleep(0.05)
                if progress:
                    progress(i + 1, n)
            io.close()
        finally:
            col.close()
            b.stop()
    out = {'name': 'held-open-latency', 'n': n, 'held_open_s': held_s, 'debounce_ms': debounce_ms}
    out.update(percentiles(samples, '_ms', 2))
    out.update(note='includes debounce_ms (the held-open timer starts once the contact is debounced)',
               samples_ms=[round(x, 2) for x in samples])
    return out


def boot_heap(site=None, device=None, layout=None, vm=None):
    """Heap in use after boot and running, per layout, with where it goes (host/heapbench.py)."""
    from .heapbench import boot_heap as run
    return run(site, device, (layout,) if layout else None, vm)


def outage(outage_s=30, boards=3, period_s=0.2, progress=None):
    """Events raised by boards under load during a broker outage; time from the broker's
    return to the last of them at a persistent-session subscriber; how many were lost."""
    from .faults import FaultRig, Load
    with workspace(broker=False) as (work, _):
        rig = FaultRig(str(work), n_boards=boards).start()
        try:
            rig.settle(30)
            load = Load(rig.boards, period_s).start()
            time.sleep(1)
            seq0 = sum(rig.board_info(b)['seq'] for b in rig.boards)
            rig.broker.stop()
            t_end = time.monotonic() + outage_s
            while time.monotonic() < t_end:
                time.sleep(min(1, t_end - time.monotonic()))
                if progress:
                    progress(outage_s - (t_end - time.monotonic()), outage_s)
            load.stop()                      # everything raised from here on was raised offline
            seq1 = sum(rig.board_info(b)['seq'] for b in rig.boards)
            pending = sum(rig.board_info(b)['outbox'] for b in rig.boards)
            rig.broker.start()
            t_back = time.monotonic()
            tally = rig.settle(120)
            drain_s = rig.last_arrival() - t_back
        finally:
            rig.stop()
    return {'name': 'outage', 'outage_s': outage_s, 'boards': boards,
            'raised_during_outage': seq1 - seq0, 'waiting_in_outboxes': pending,
            'broker_return_to_last_delivered_s': round(drain_s, 2),
            'delivery_rate_per_s': round((seq1 - seq0) / drain_s, 1) if drain_s > 0 else None,
            'lost': tally['lost'], 'duplicates_dropped': tally['duplicates_dropped'],
            'dropped_on_board': tally['dropped_on_board'],
            'note': 'reconnect backoff capped at backoff_max_s=4 with jitter; includes the reconnect wait'}


REACTION_SITE = """
site: bench
broker: {host: 127.0.0.1, port: 1883}
devices:
  gate-b:
    board: esp32-devkitc
    controllers:
      - name: bar
        type: barrier
        pins: {beam: 34, loop: 35, up_limit: 32, down_limit: 33, motor_up: 25, motor_down: 26, eye_tx: 27}
        auto_close_s: 0
        reverse_dead_ms: 50
        eye_test_ms: 200
        travel_timeout_s: 60
"""


def reaction(trials=200, flood_per_s=200, progress=None):
    """Beam active -> motor_down off and -> motor_up on, on the simulated board, idle and
    while it receives `flood_per_s` commands/s over MQTT. Times in ms on one clock: the
    host stamps the beam edge (CLOCK_MONOTONIC), the board stamps its outputs' edges with
    ticks_us, which is CLOCK_MONOTONIC on the unix port."""
    import json
    import threading
    from ..core.mqttc import connect
    from ..sim.plants import WireLink
    from ..sim.simio import EdgeWatcher
    out = {'name': 'reaction', 'trials': trials, 'reverse_dead_ms': 50}
    with workspace() as (work, br):
        b = _site_board(work, br, REACTION_SITE, 'gate-b')
        plant = b.plants[0]
        plant.travel = 30.0                  # a slow arm: each trial stays mid-travel
        plant.pos = 0.98                     # near the top: the power-up opening is short
        b.provision().start()
        plant.start(lambda: WireLink(b.io_port))
        cmd = connect(br.host, br.port, 'bench-cmd')
        watch = EdgeWatcher(b.io_port)
        io = SimIO(b.io_port)
        ctopic = topics.cmd('bench', 'gate-b', 'bar')
        try:
            def wait_edge(name, v, since, timeout=5):
                e = watch.wait(name, v, timeout, since)
                if e is None:
                    raise EdgeError('no %s=%d edge in the reaction bench:\n%s' % (name, v, b.log_tail()))
                return e
            end = time.monotonic() + 10                 # power-up: unknown position -> opens
            while not (io.get('bar.up_limit') and not io.get('bar.motor_up')) and time.monotonic() < end:
                time.sleep(0.05)
            time.sleep(0.2)

            def run(label, n):
                stops, revs = [], []
                for i in range(n):
                    m = len(watch.edges)     # every trial obstructs a close: reset the count (max_obstructions)
                    cmd.publish(ctopic, json.dumps({'id': 'r-%d' % i, 'op': 'reset'}), qos=1)
                    cmd.publish(ctopic, json.dumps({'id': 'b-%d' % i, 'op': 'close'}), qos=1)
                    wait_edge('bar.motor_down', 1, m)
                    time.sleep(0.01)
                    m = len(watch.edges)
                    t0 = time.monotonic_ns() // 1000
                    io.set('bar.beam', 1)
                    e1 = wait_edge('bar.motor_down', 0, m)
                    e2 = wait_edge('bar.motor_up', 1, m)
                    stops.append((e1[3] - t0) / 1000)
                    revs.append((e2[3] - t0) / 1000)
                    io.set('bar.beam', 0)
                    wait_edge('bar.motor_up', 0, m)       # back at the up limit (debounced)
                    if progress:
                        progress(i + 1, n)
                return {'beam_to_motor_down_off_ms': percentiles(stops), 'beam_to_motor_up_on_ms': percentiles(revs)}

            out['idle'] = run('idle', trials)
            halt = threading.Event()
            sent = [0]

            def flood():
                k = 0
                period = 1.0 / flood_per_s
                nxt = time.monotonic()
                while not halt.is_set():
                    cmd.publish(ctopic, json.dumps({'id': 'f-%d' % k, 'op': 'status'}), qos=1)
                    k += 1
                    nxt += period
                    time.sleep(max(0, nxt - time.monotonic()))
                sent[0] = k
            t = threading.Thread(target=flood, daemon=True)
            t.start()
            t_flood = time.monotonic()
            out['flood'] = run('flood', trials)
            halt.set()
            t.join(2)
            out['flood']['commands_per_s'] = round(sent[0] / (time.monotonic() - t_flood), 1)
        finally:
            watch.close()
            io.close()
            mqtt_close(cmd)
            plant.stop()
            b.stop()
    out['note'] = ('host stamps the beam edge just before writing it to the board\'s wire, so the figures '
                   'include the wire (loopback TCP) and any wait behind MQTT work; motor_up includes '
                   'reverse_dead_ms and the 10 ms control tick that ends it')
    return out


CUTOFF_SITE = """
site: bench
broker: {host: 127.0.0.1, port: 1883}
devices:
  pump-b:
    board: esp32-devkitc
    controllers:
      - name: pool
        type: pump
        pins: {low_level: 34, pump: 25}
        low_debounce_ms: 0
        restore_s: 0
        min_off_s: 0
"""


def cutoff(trials=200, progress=None):
    """low_level active (no debounce configured: the edge itself) -> pump off, on the
    simulated board, host and board on one clock as in `reaction`."""
    import json
    from ..core.mqttc import connect
    from ..sim.simio import EdgeWatcher
    with workspace() as (work, br):
        b = _site_board(work, br, CUTOFF_SITE, 'pump-b')
        b.plants = []                        # the bench drives low_level itself
        b.provision().start()
        cmd = connect(br.host, br.port, 'bench-cmd')
        col = Collector(br.host, br.port, [topics.status('bench', 'pump-b')], 'bench')
        watch = EdgeWatcher(b.io_port)
        io = SimIO(b.io_port)
        offs = []
        try:
            if not _wait_online(col):
                raise EdgeError('bench board did not come online:\n' + b.log_tail())
            col.close()
            cmd.publish(topics.cmd('bench', 'pump-b', 'pool'), json.dumps({'id': 's', 'op': 'start'}), qos=1)
            for i in range(trials):
                m = len(watch.edges)
                if not io.get('pool.pump'):
                    if watch.wait('pool.pump', 1, 5, m) is None:
                        raise EdgeError('the pump did not start:\n' + b.log_tail())
                m = len(watch.edges)
                t0 = time.monotonic_ns() // 1000
                io.set('pool.low_level', 1)
                e = watch.wait('pool.pump', 0, 5, m)
                if e is None:
                    raise EdgeError('the pump did not stop on low water:\n' + b.log_tail())
                offs.append((e[3] - t0) / 1000)
                io.set('pool.low_level', 0)
                cmd.publish(topics.cmd('bench', 'pump-b', 'pool'), json.dumps({'id': 'r%d' % i, 'op': 'reset'}),
                            qos=1)          # every trial is a trip: start the count afresh (max_trips)
                if progress:
                    progress(i + 1, trials)
        finally:
            watch.close()
            io.close()
            mqtt_close(cmd)
            b.stop()
    return {'name': 'cutoff', 'trials': trials, 'low_level_to_pump_off_ms': percentiles(offs),
            'note': 'low_debounce_ms=0: add the configured debounce (default 2000 ms) for the full figure'}


def alarm_latency(n=200, progress=None):
    """A simulated input going active (a door forced open, debounce 0) -> the alarm row
    committed in the SQLite journal and a frame showing it written to a terminal. The
    control room is the real one (RoomView and its Monitor on paho, the Store) running its
    own drawing loop in this process, on a pseudo-terminal of 160 x 50 whose other end is
    read and thrown away (what a terminal emulator then paints is not counted)."""
    import os
    import pty
    import threading
    from ..room.roomview import RoomView
    from ..room.store import Store
    key = ('bench-1', 'front', 'door.forced')
    with workspace() as (work, br):
        b = _board(work, br, held=3600, deb=0).start()
        store = Store(work / 'journal.sqlite3')
        master, slave = pty.openpty()
        drain = threading.Thread(target=_drain, args=(master,), daemon=True)
        drain.start()
        view = RoomView('bench', br.endpoint(), 'bench', store, {}, None, out=slave, size=(160, 50),
                        keyboard=False)
        mon = view.mon
        done = {}
        seen = threading.Event()        # the sample's alarm is committed and drawn
        cleared = threading.Event()     # and, after the input went back, gone from the view
        handle = mon.handle
        draw = view.draw

        def committed():
            done.setdefault('commit', time.time())
            if key in view.drawn:
                seen.set()

        def timed_handle(topic, raw, retained=False, when=None):
            t_in = time.time()
            rec = handle(topic, raw, retained, when)
            if rec and rec['kind'] == 'evt' and rec['msg'].get('type') == 'door.forced' and rec['msg'].get('active'):
                done['in'] = t_in
                store.then(committed)
            return rec

        def timed_draw(screen):
            draw(screen)
            if key in view.drawn:
                if 'commit' in done:
                    seen.set()
            else:
                cleared.set()
        mon.handle = timed_handle
        view.draw = timed_draw
        runner = threading.Thread(target=view.run, daemon=True)
        runner.start()
        samples, stages = [], {'wire': [], 'journal': [], 'drawn': []}
        try:
            end = time.time() + 15
            while not mon.devices.get('bench-1', {}).get('online'):
                if time.time() > end:
                    raise EdgeError('bench board did not come online:\n' + b.log_tail())
                time.sleep(0.05)
            io = SimIO(b.io_port)
            for i in range(n):
                done.clear()
                seen.clear()
                t0 = time.time()
                io.set('front.contact', 1)
                if not seen.wait(5):
                    raise EdgeError('no door.forced drawn in sample %d:\n%s' % (i, b.log_tail()))
                drawn = view.drawn[key]
                samples.append((max(done['commit'], drawn) - t0) * 1000)
                stages['wire'].append((done['in'] - t0) * 1000)
                stages['journal'].append((done['commit'] - done['in']) * 1000)
                stages['drawn'].append((drawn - done['in']) * 1000)
                cleared.clear()
                io.set('front.contact', 0)
                if not cleared.wait(5):
                    raise EdgeError('door.forced never cleared in sample %d:\n%s' % (i, b.log_tail()))
                if progress:
                    progress(i + 1, n)
            io.close()
            written = store.count()
        finally:
            view.stop()
            runner.join(5)
            b.stop()
            os.close(slave)
            os.close(master)
    out = {'name': 'alarm-latency', 'n': n, 'journal_rows': written,
           'path': 'input edge -> board -> mosquitto -> monitor -> journal commit + a frame showing it written to the '
                   'terminal (pty, 160x50)',
           'stages': {'wire': 'input edge -> monitor has the message', 'journal': 'message -> row committed',
                      'drawn': 'message -> frame written'},
           'screen_bytes_written': view.screen_bytes}
    out.update(percentiles(samples, '_ms', 2))
    out['stage_ms'] = {k: percentiles(v, '_ms', 2) for k, v in stages.items()}
    return out


def _drain(fd):
    """The terminal's side of the benchmark's pty: read and forget."""
    import os
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass


def ingest(events=50000, publishers=4, devices=500, inflight=20, progress=None):
    """QoS 1 events/s the journal (`edgectl journal run`'s intake) commits from N publishers (500 devices' worth of topics),
    nothing lost, side by side with mosquitto_sub receiving the same stream. Each publisher
    stays far below paho's 65,535 message ids in flight."""
    import shutil
    import subprocess
    from ..room.monitor import Monitor
    from ..room.store import Store
    per = events // publishers
    events = per * publishers
    with workspace(inflight=inflight) as (work, br):
        def stream():
            """Publish the stream from `publishers` processes (the GIL would otherwise make
            the publishers, not the journal, the bottleneck); returns its start time."""
            import multiprocessing
            ctx = multiprocessing.get_context('spawn')
            go = ctx.Event()
            procs = [ctx.Process(target=_publisher, args=(br.host, br.port, k, per, devices, go))
                     for k in range(publishers)]
            for p in procs:
                p.start()
            time.sleep(1.0)                     # all connected
            t0 = time.time()
            go.set()
            for p in procs:
                p.join(180)
            return t0

        # the journal: the same intake as `edgectl journal run`
        store = Store(work / 'journal.sqlite3')
        mon = Monitor('bench', store=store)
        mon.show = lambda rec: None
        mon.attach(br.endpoint(), client_id='journal-bench', persistent=True, publish=False)
        time.sleep(0.3)
        t0 = stream()
        end = time.time() + 120
        while mon.received < events and time.time() < end:
            time.sleep(0.01)
        store.flush(120)
        t_commit = time.time()
        rows = store.count()
        dups = mon.duplicates
        mon.detach()
        store.close()
        journal_rate = rows / (t_commit - t0)

        # mosquitto_sub on the same stream (the receive-only ceiling here)
        sub_rate = None
        exe = shutil.which('mosquitto_sub')
        if exe:
            p = subprocess.Popen([exe, '-h', br.host, '-p', str(br.port), '-q', '1', '-t', topics.site_filter('bench'),
                                  '-C', str(events)], stdout=subprocess.DEVNULL)
            time.sleep(0.5)
            t1 = stream()
            try:
                p.wait(120)
                sub_rate = events / (time.time() - t1)
            except subprocess.TimeoutExpired:
                p.kill()
    return {'name': 'ingest', 'events': events, 'publishers': publishers, 'devices': devices,
            'broker_max_inflight': inflight,
            'journal_rows': rows, 'lost': events - rows, 'duplicates_dropped': dups,
            'journal_events_per_s': round(journal_rate), 'mosquitto_sub_events_per_s': round(sub_rate) if sub_rate else None,
            'ratio': round(journal_rate / sub_rate, 2) if sub_rate else None}


def _publisher(host, port, k, per, devices, go, site='bench'):
    """One publisher process of the ingest benchmark, speaking MQTT 3.1.1 on a plain socket
    (paho's threaded QoS 1 publishing tops out near 1,200 messages/s here, far below what a
    board fleet sends): PUBLISH QoS 1 in chunks of 10,000 packet ids, each chunk's PUBACKs
    awaited before the next, so ids never wrap while in flight."""
    import json as _json
    import socket
    from ..core.mqttraw import connect_packet
    from ..core.proto import mqtt_packet
    sock = socket.create_connection((host, port))
    sock.sendall(connect_packet('bench-pub-%d' % k, keepalive=60))
    ack = sock.recv(4)
    if len(ack) < 4 or ack[3] != 0:
        raise SystemExit('broker refused the bench publisher: %r' % ack)
    go.wait(30)
    chunk = 10000
    for start in range(0, per, chunk):
        buf = bytearray()
        n = min(chunk, per - start)
        for i in range(n):
            j = start + i
            g = k * per + j
            payload = _json.dumps({'seq': g // devices + 1, 'ts': 1764288000000 + j, 'type': 'door.opened',
                                   'sev': 'info', 'ctrl': 'front'}).encode()
            buf += mqtt_packet.publish_packet(topics.evt(site, 'dev-%03d' % (g % devices), 'front'), payload, 1,
                                              False, i + 1)
        sock.sendall(buf)
        want = 4 * n
        got = 0
        while got < want:
            d = sock.recv(65536)
            if not d:
                raise SystemExit('broker closed the bench publisher')
            got += len(d)
    sock.sendall(b'\xe0\x00')
    sock.close()


def deploy_bench(runs=3, progress=None):
    """`edgectl deploy` to a simulated board over its pty console (real mpremote transport):
    a full deploy to a blank board, then no-change redeploys to the running firmware (each
    interrupts it, compares the manifest, resets). A pty has no baud rate: the time a
    115200-baud USB serial line needs for the same bytes is given beside it."""
    from ..install.configpush import push_serial
    from ..install.deploy import deploy
    from ..core.broker import free_port
    with workspace(broker=False) as (work, _):
        b = _board(work, type('B', (), {'host': '127.0.0.1', 'port': free_port()}))
        b.firmware, b.want_console = 'fs', True
        b.start()
        try:
            quiet = lambda m: None
            full = deploy(b.serial_port, show=False, say=quiet, reset=False)
            push_serial(b.serial_port, b.cfg)
            again = []
            for i in range(runs):
                time.sleep(1.5)            # the firmware is up and running again
                again.append(deploy(b.serial_port, show=False, say=quiet))
                if progress:
                    progress(i + 1, runs)
        finally:
            b.stop()
    line = lambda n: round(n * 10 / 115200, 2)       # 8N1: 10 bits a byte
    return {'files': full['files'], 'full_s': full['seconds'], 'full_payload_bytes': full['payload_bytes'],
            'full_wire_bytes': full['wire_bytes'], 'full_s_at_115200': line(full['wire_bytes']),
            'redeploy_s_median': statistics.median(r['seconds'] for r in again),
            'redeploy_sent_files': max(r['sent'] for r in again),
            'redeploy_wire_bytes': max(r['wire_bytes'] for r in again),
            'redeploy_s_at_115200': line(max(r['wire_bytes'] for r in again))}


def outbox_bench(board='esp32-devkitc', reaction=0, fill='storm', vm=None):
    """The outbox at the size a board's filesystem gives it (board profile fs_kb), on the
    MicroPython unix port with the board's heap: append, boot scan, making room when full,
    delivery (host/data/outbox_probe.py). Flash on a board is slower than this machine's
    disk: the figures are the firmware's own work. `reaction` trials: a barrier board's
    runtime with that outbox full, beam -> motor_down off idle and with the beam edge
    arriving as a compaction starts (host/data/compaction_probe.py; `fill` the backlog's
    severities), on `vm` (default: the pip-installed VM)."""
    from ..core import boards, paths
    prof = boards.load(board)
    out = {'name': 'outbox', 'board': board, 'heap_kb': prof['heap_kb']}
    out.update(_outbox_probe('outbox_probe.py', prof, (), 'OUTBOX_PROBE ', vm))
    out['note'] = ('one add past full rewrites one 16 KB segment; micropython.schedule handlers (the '
                   'beam interrupt) still run between its bytecodes')
    if reaction:
        out['reaction'] = _outbox_probe('compaction_probe.py', prof, (str(reaction), fill), 'COMPACTION_PROBE ', vm,
                                        romfs=True)
        out['reaction']['note'] = ('the simulated board\'s wire (and its control loop) waits behind a compaction: '
                                   'the edge arrives as one starts; on an ESP32 the beam\'s pin interrupt runs '
                                   'between the rewrite\'s bytecodes, its control loop waits')
    return out


def _outbox_probe(script, prof, args, tag, vm=None, romfs=False):
    """Run host/data/<script> with the board's filesystem size and heap (plus the ROMFS
    image's size, the firmware mounted from it, with romfs); its tagged JSON line."""
    import json
    import os
    import subprocess
    from ..core import paths
    from .heapbench import vm_info
    with workspace(broker=False) as (work, _):
        env = dict(os.environ, MICROPYPATH=':'.join(['.frozen', str(paths.FIRMWARE), str(paths.PROTOCOLS)]),
                   EDGE_FS_KB=str(prof['fs_kb']))
        heap = prof['heap_kb']
        if romfs:
            from ..core.build import build_romfs
            rom = build_romfs()
            env.update(MICROPYPATH='.frozen', EDGE_ROMFS=str(rom))
            heap += (rom.stat().st_size + 1023) // 1024
        r = subprocess.run([vm_info(vm)['path'], '-X', 'heapsize=%dK' % heap, str(paths.DATA / script)] + list(args),
                           cwd=work, env=env, capture_output=True, text=True, timeout=900)
    for line in r.stdout.splitlines():
        if line.startswith(tag):
            return json.loads(line[len(tag):])
    raise EdgeError('%s did not finish: %s' % (script, (r.stdout + r.stderr).strip()[-600:]))


def boot_heap_or_costs(site=None, device=None, layout=None, save_costs=False, vm=None, progress=None):
    if save_costs:
        if not vm:
            raise EdgeError('--save-costs measures a chip\'s figures: give --vm a 32-bit MicroPython '
                            '(bash tools/build_micropython32.sh SRC builds one)', 2)
        from .heapbench import save_costs as measure
        return measure(vm, progress)
    return boot_heap(site, device, layout, vm)


def access_bench(n, progress=None):
    from .accessbench import access      # card access (host/qa/accessbench.py)
    return access(n, progress=progress)


class Bench:
    """A benchmark as `edgectl bench` offers it: what it runs, one line of help, and its own
    options (argparse flags and settings; each option's dest is a keyword of `run`)."""

    def __init__(self, run, help, options=(), progress=True):
        self.run, self.help, self.options, self.progress = run, help, options, progress

    def add_parser(self, sub, name):
        p = sub.add_parser(name, help=self.help, description=self.help)
        p.add_argument('--json', action='store_true', help='one JSON object')
        for flags, kw in self.options:
            p.add_argument(*flags, **kw)
        return p

    def __call__(self, args, progress=None):
        kw = {kw_['dest']: getattr(args, kw_['dest']) for _, kw_ in self.options}
        if self.progress:
            kw['progress'] = progress
        return self.run(**kw)


def _n(default, what):
    return (('-n',), dict(dest='n', type=int, default=default, help='%s (default %d)' % (what, default)))


BENCHES = {
    'alarm-latency': Bench(lambda n, progress: alarm_latency(n, progress),
                           'a door forced open -> the alarm committed in the journal and drawn by the control '
                           'room view (p50/p99)', [_n(200, 'samples')]),
    'held-open-latency': Bench(lambda n, progress: held_open_latency(n, progress=progress),
                               'door contact past held_open_s -> the alarm at an MQTT subscriber',
                               [_n(20, 'samples')]),
    'ingest': Bench(ingest, 'QoS 1 events/s the journal commits from N publishers, beside mosquitto_sub', [
        (('--events',), dict(dest='events', type=int, default=50000, help='events in the stream (default 50000)')),
        (('--publishers',), dict(dest='publishers', type=int, default=4, help='publishing processes (default 4)')),
        (('--inflight',), dict(dest='inflight', type=int, default=20,
                               help="the broker's max_inflight_messages (default 20)"))], progress=False),
    'boot-heap': Bench(boot_heap_or_costs,
                       'heap in use after boot and running, per layout, by subsystem and controller type', [
        (('--site',), dict(dest='site', metavar='FILE',
                           help='site file (default: a four-controller board and a gate board)')),
        (('--device',), dict(dest='device', help='one device of --site (default: every device)')),
        (('--layout',), dict(dest='layout', choices=('romfs', 'lib', 'frozen'),
                             help='one firmware layout (default: romfs and lib; frozen with a frozen-firmware --vm)')),
        (('--vm',), dict(dest='vm', metavar='PATH',
                         help='another MicroPython unix port to measure with, e.g. the 32-bit one '
                              'tools/build_micropython32.sh builds (default: the pip-installed, 64-bit)')),
        (('--save-costs',), dict(dest='save_costs', action='store_true',
                                 help='with --vm a 32-bit VM: measure every combination of controller types '
                                      'on it and on the default 64-bit VM and write protocols/heap_costs.json (the '
                                      'config check\'s figures, a chip\'s; the simulator\'s heap scaling)'))]),
    'outbox': Bench(outbox_bench, 'the flash outbox filled to the board\'s filesystem: append, boot scan, making '
                                  'room, delivery; with --reaction N, barrier reaction during its compactions', [
        (('--reaction',), dict(dest='reaction', type=int, default=0, metavar='N',
                               help='also N barrier trials (beam -> motor stop) idle and as a compaction starts')),
        (('--fill',), dict(dest='fill', choices=('storm', 'mixed'), default='storm',
                           help="the backlog for --reaction: 'storm' the oldest half alarms (default), "
                                "'mixed' one alarm in ten")),
        (('--vm',), dict(dest='vm', metavar='PATH', help='another MicroPython unix port (default: the pip-installed)'))],
                    progress=False),
    'outage': Bench(outage, 'events raised during a broker outage, time to deliver them, lost', [
        (('--outage-s',), dict(dest='outage_s', type=float, default=30, help='outage length in s (default 30)')),
        (('--boards',), dict(dest='boards', type=int, default=3, help='simulated boards under load (default 3)'))]),
    'flood': Bench(lambda commands, outage_s, vm, heap_kb, progress: __import__(
        'edgectl.qa.floodbench', fromlist=['x']).flood(commands, outage_s, vm, heap_kb=heap_kb, progress=progress),
                   'the fullest board (door, barrier, pump, call station) under a command flood, then a broker '
                   'outage while it raises events: lowest heap free (heap_min), commands acknowledged/refused/'
                   'unanswered, events raised/delivered/lost/duplicated', [
        (('--commands',), dict(dest='commands', type=int, default=1000, help='commands in the flood (default 1000)')),
        (('--outage-s',), dict(dest='outage_s', type=float, default=30, help='outage length in s (default 30)')),
        (('--vm',), dict(dest='vm', metavar='PATH',
                         help='another MicroPython unix port, e.g. a 32-bit one (default: the pip-installed, 64-bit)')),
        (('--heap-kb',), dict(dest='heap_kb', type=int,
                              help="the board's heap in KB (default: its profile's, 110; the 64-bit VM's objects "
                                   "take 1.5-1.8x an ESP32's: 165 stands for 110 there)"))]),
    'reaction': Bench(lambda n, progress: reaction(n, progress=progress),
                      'barrier beam -> motor stop and reverse, idle and under a command flood', [_n(200, 'trials')]),
    'cutoff': Bench(lambda n, progress: cutoff(n, progress=progress), 'pump low water -> pump off',
                    [_n(200, 'trials')]),
    'access': Bench(access_bench, "a card swipe's last bit -> lock released with 10,000 cards on a simulated "
                    'board (p50/p99); heap in use with no reader, 0 and 10,000 cards', [_n(200, 'swipes')]),
    'tls-heap': Bench(lambda vm, site, device, quick, progress: __import__('edgectl.qa.tlsbench', fromlist=['x']).tls_heap(
        vm, site, device, not quick, progress),
                      'a TLS board\'s handshake against mosquitto: GC heap free before, during, after; mbedtls\'s '
                      'bytes (a VM built with tools/build_micropython32.sh --mbedtls); the least heap it connects with', [
        (('--vm',), dict(dest='vm', metavar='PATH', required=True,
                         help='a MicroPython unix port with ssl, e.g. build/micropython32/micropython-tls')),
        (('--site',), dict(dest='site', metavar='FILE', help='site file (default host/data/heap-site.yaml)')),
        (('--device',), dict(dest='device', help='its device (default full-1: all four controllers)')),
        (('--quick',), dict(dest='quick', action='store_true', help='one handshake, no bisection'))]),
    'deploy': Bench(deploy_bench, 'full and no-change deploy to a simulated board: seconds, bytes'),
    'ota': Bench(lambda boards, progress: __import__('edgectl.qa.bench_ota', fromlist=['x']).ota_bench(
        boards, progress=progress),
                 'a simulated site updated over the network (canary 1, batches of 10), then a broken image the '
                 'canary rolls back: seconds, bytes, heap, boards left on it, events lost', [
        (('--boards',), dict(dest='boards', type=int, default=50, help='simulated boards (default 50)'))]),
    'web': Bench(web_latency, 'a door forced open -> the alarm in the live push of every open page of edgectl web', [
        _n(50, 'samples'),
        (('--pages',), dict(dest='pages', type=int, default=20, help='open pages (default 20)')),
        (('--burst',), dict(dest='burst', type=int, default=0,
                            help='other devices\' events a second meanwhile (e.g. 5000; default none)'))]),
    'central': Bench(lambda events, writers, cut_s, progress: _central(events, writers, cut_s, progress),
                     '3 sites x 200 devices bridged over TLS to a centre: events/s committed into PostgreSQL by '
                     '1, 2, 4 shared writers beside mosquitto_sub; then a WAN cut of one site and a writer killed '
                     '(SIGKILL): lost, duplicates, the backlog\'s time after the link returns', [
        (('--events',), dict(dest='events', type=int, default=60000, help='events per run, all sites (default 60000)')),
        (('--writers',), dict(dest='writers', default='1,2,4', help='journal writers per run (default 1,2,4)')),
        (('--cut-s',), dict(dest='cut_s', type=float, default=30, help='the WAN cut in s (default 30)'))]),
}


def _central(events, writers, cut_s, progress):
    from .benchcentral import central      # PostgreSQL and psycopg only when asked for
    return central(events=events, writers=tuple(int(w) for w in writers.split(',')), cut_s=cut_s, progress=progress)
