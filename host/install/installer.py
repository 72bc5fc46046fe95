"""The installer's one command (`edgectl flash`): MicroPython on the chip, the firmware
deployed, the device's config and network settings written over the serial line, then the
board seen online on the broker with its self-test. Each step is also a verb of its own."""
import getpass
import json
import os
import sys
import time

from ..core import boards, site as sitemod
from ..core.errors import EdgeError


def net_settings(board, wifi_ssid=None, ask=True):
    """net.json for the board: Ethernet from its profile, or Wi-Fi credentials (password
    from EDGE_WIFI_PASSWORD or asked; never written to the site file). None: leave as is."""
    kind = board.get('network')
    if kind == 'lan':
        return {'lan': board['lan']}
    if kind == 'wifi' and wifi_ssid:
        pw = os.environ.get('EDGE_WIFI_PASSWORD')
        if pw is None:
            if not (ask and sys.stdin.isatty()):
                raise EdgeError('Wi-Fi password for %r: set EDGE_WIFI_PASSWORD or run in a terminal' % wifi_ssid, 2)
            pw = getpass.getpass('Wi-Fi password for %s: ' % wifi_ssid)
        return {'wifi': {'ssid': wifi_ssid, 'password': pw}}
    return None


def board_files(site_path, site, cfg, wifi=None, create_secrets=False):
    """What a board gets over the cable besides its config: network settings, its secrets
    (MQTT login, its own key) and the site CA for TLS. (net, secret, ca_der)."""
    from ..core import secrets, tls
    net = net_settings(boards.load(cfg['board']), wifi)
    if create_secrets:
        site_secrets, _ = secrets.ensure(site_path, sorted(site.devices))   # a unique credential per device
    else:
        site_secrets = secrets.load(site_path)
    ca_der = None
    if cfg['broker'].get('tls'):
        ca = tls.ca_for(site_path, site.name)
        if ca is None:
            raise EdgeError('the site broker speaks TLS but there is no site CA: run `edgectl broker --tls` first', 2)
        ca_der = tls.der(ca)
    return net, secrets.board_file(site_secrets, cfg['device']), ca_der


def board_failed(device, line, what='did not come online'):
    """The error for a board that printed why it cannot run (its own line, and what to do)."""
    hint = ''
    if 'MemoryError' in line:
        hint = (': the firmware and its controllers do not fit the board\'s heap (`edgectl bench boot-heap '
                '--site FILE --device %s` shows where it goes); use a MicroPython build with a ROMFS partition '
                '(`edgectl deploy --layout romfs`) or put fewer controllers on this board' % device)
    return EdgeError('%s %s; its console says: %s%s' % (device, what, line, hint), 1)


def wait_online(host, port, site, device, rev, timeout, say=print, console=None):
    """Wait for the board's retained status online with config `rev`; then its self-test:
    the system status and every controller's state, and any alarm it raised since boot.
    console: a ConsoleWatch on the board's serial line, so a board that dies at boot is
    reported with its own error line, not a guess."""
    from ..core.mqttc import Collector
    from ..core.proto import topics
    col = Collector(host, port, [topics.base(site, device) + '#'], 'installer')
    try:
        end = time.monotonic() + timeout
        st = None
        while st is None and time.monotonic() < end:
            st = col.wait(lambda t, p: t == topics.status(site, device) and isinstance(p, dict) and p.get('online')
                          and p.get('rev') == rev, min(0.5, max(0.0, end - time.monotonic())))
            if st is None and console is not None and console.fatal():
                raise board_failed(device, console.fatal())
        line = console.error() if console is not None else None
        if st is not None and st[2].get('safe_mode') and line:
            raise board_failed(device, line, 'came online in safe mode (its boots crashed)')
        if st is None:
            if line:
                raise board_failed(device, line)
            raise EdgeError('%s did not come online with config rev %s within %.0f s: check its network '
                            '(Wi-Fi credentials, cable), the broker address in the site file, and its console '
                            'log (`mpremote connect PORT repl`)' % (device, rev, timeout), 1)
        time.sleep(1.0)            # the states and the boot's alarms arrive right after status
        report = {'status': st[2], 'controllers': {}, 'alarms': []}
        for _, t, p, _r in list(col.msgs):
            if '/state/' in t and isinstance(p, dict):
                report['controllers'][t.rsplit('/', 1)[1]] = p
            elif '/evt/' in t and isinstance(p, dict) and p.get('sev') == 'alarm' and p.get('active'):
                report['alarms'].append(p)
        return report
    finally:
        col.close()


def print_self_test(report, console=None):
    from rich.console import Console
    from rich.table import Table
    console = console or Console(highlight=False)
    s = report['status']
    console.print('[bold green]online[/]: fw %s, boot %s, reset %s, config rev %s' % (
        s.get('fw'), s.get('boot'), s.get('reset'), s.get('rev')))
    t = Table(title='self-test')
    t.add_column('controller')
    t.add_column('state')
    for name, st in sorted(report['controllers'].items()):
        t.add_row(name, ', '.join('%s=%s' % (k, v) for k, v in st.items() if v is not None and k != 'type'))
    console.print(t)
    for a in report['alarms']:
        console.print('[bold red]ALARM[/] %s %s %s' % (a.get('ctrl'), a.get('type'), json.dumps(
            {k: v for k, v in a.items() if k not in ('seq', 'ts', 'type', 'sev', 'ctrl', 'active')})))
    if not report['alarms']:
        console.print('no alarms raised at boot')


def flash(port, site_path, device, firmware=None, write_image=True, erase=True, wifi=None, show=True,
          timeout=60.0, say=print):
    """Blank ESP32 to a board online, configured and self-tested. Returns the report."""
    from .configpush import push_serial
    from .deploy import deploy
    from .flash import find_image, write_micropython
    site = sitemod.load_valid(site_path)
    cfg = sitemod.device_config(site, device)          # unknown device: one-line error, nothing written
    board = boards.load(cfg['board'])
    net, secret, ca_der = board_files(site_path, site, cfg, wifi, create_secrets=True)
    if write_image:
        image = find_image(board['micropython_board'], firmware)
        say('MicroPython image: %s' % image)
        write_micropython(port, board, image, erase=erase, show=show, say=say)
        time.sleep(2.0)                                  # the board boots MicroPython
    from ..core.heapfit import check_layout
    from .serialboard import SerialBoard, restart_watched
    opened = SerialBoard.opened
    board_line = SerialBoard(port)        # one session, handed through deploy, config and the boot watch
    try:
        rep = deploy(board_line, show=show, say=say, expect_board=board, reset=False)
        check_layout(cfg, board['heap_kb'], rep['layout'])  # before a config that would crash it goes on
        verdict = push_serial(board_line, cfg, reboot=False, net=net, secret=secret, ca_der=ca_der)
        if not verdict.get('ok'):
            raise EdgeError('the board refused config rev %s: %s' % (cfg['rev'], verdict.get('err')), 1)
        say('config rev %s written; the board reboots into it' % cfg['rev'])
        console = restart_watched(board_line)       # what the board prints while it boots
    except BaseException:
        board_line.close()
        raise
    rep['serial_opens'] = SerialBoard.opened - opened
    b = cfg['broker']
    try:
        report = wait_online(b['host'], b['port'], site.name, device, cfg['rev'], timeout, say, console)
    finally:
        console.close()
    report['deploy'] = rep
    return report
