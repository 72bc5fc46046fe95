"""`edgectl flash`: put MicroPython on an ESP32 with esptool (chip detected first), from a
local image or one cached by an earlier download (edgectl's cache or mpflash's), then hand
over to deploy and config push.

The board profile says which MicroPython build fits (`micropython_board`, e.g.
ESP32_GENERIC) and where the image goes (`flash_offset`: 0x1000 on the ESP32, 0x0 on the
ESP32-S3/C3). esptool resets the chip into its bootloader with the DTR/RTS lines of the
USB-serial bridge (--before default-reset) and back into the application after writing
(--after hard-reset)."""
import os
import re
import subprocess
import sys
from pathlib import Path

from ..core.errors import EdgeError

CACHE = Path(os.environ.get('EDGE_FIRMWARE_CACHE', Path.home() / '.cache' / 'edgectl' / 'firmware'))
ESP_IMAGE_MAGIC = 0xE9
FLASH_BAUD = 460800


def cache_dirs():
    """Where downloaded MicroPython images are looked for: edgectl's cache, then mpflash's
    download folder (mpflash download keeps them under <Downloads>/firmware)."""
    dirs = [CACHE]
    try:
        from platformdirs import user_downloads_dir
        dirs.append(Path(user_downloads_dir()) / 'firmware')
    except ImportError:
        dirs.append(Path.home() / 'Downloads' / 'firmware')
    return dirs


def _version(name):
    m = re.search(r'v(\d+)\.(\d+)(?:\.(\d+))?', name)
    return tuple(int(x or 0) for x in m.groups()) if m else (0, 0, 0)


def check_image(path, chip=None):
    p = Path(path)
    if not p.is_file():
        raise EdgeError('no firmware image %s' % p, 2)
    head = p.read_bytes()[:16]
    if len(head) < 16 or head[0] != ESP_IMAGE_MAGIC:
        raise EdgeError('%s is not an ESP32 firmware image (no 0xE9 image header): use the .bin from '
                        'micropython.org/download, not the .elf, .uf2 or .app-bin' % p, 2)
    return p


def find_image(mp_board, explicit=None, dirs=None):
    """The MicroPython image to write: `explicit`, else the newest cached <mp_board>-*.bin."""
    if explicit:
        return check_image(explicit)
    found = []
    for d in dirs or cache_dirs():
        if d.is_dir():
            found += [p for p in d.rglob('%s-*.bin' % mp_board) if p.is_file()]
    if found:
        return max(found, key=lambda p: (_version(p.name), p.name))
    raise EdgeError(
        'no MicroPython image for %s here. With a network: `mpflash download --board %s` (or download '
        '%s-<date>-v1.25.0.bin or newer from https://micropython.org/download/%s/) and put it in %s; '
        'or pass --firmware FILE.bin' % (mp_board, mp_board, mp_board, mp_board, CACHE), 2)


def parse_chip(output):
    """{'family', 'model', 'mac'} from esptool's connect output (v4: `Chip is ...`,
    v5: `Chip type: ...`). EdgeError with what to do when it did not connect."""
    if 'No serial data received' in output or 'Failed to connect' in output:
        raise EdgeError('no answer from the ESP32 bootloader: check the USB cable carries data, or hold BOOT '
                        'while pressing EN/RESET to enter the bootloader, then try again', 1)
    if 'could not open port' in output or 'Could not open' in output:
        raise EdgeError('cannot open the serial port: %s' % output.strip().splitlines()[-1], 2)
    m = re.search(r'Chip (?:is|type:)\s+(.+?)\s*(?:\(|$)', output, re.M)
    if not m:
        raise EdgeError('esptool did not report a chip:\n%s' % output.strip()[-400:], 1)
    model = m.group(1).strip()
    up = model.upper()
    family = None
    for prefix, fam in (('ESP32-S3', 'esp32s3'), ('ESP32-S2', 'esp32s2'), ('ESP32-C3', 'esp32c3'),
                        ('ESP32-C6', 'esp32c6'), ('ESP32-H2', 'esp32h2'), ('ESP32', 'esp32'), ('ESP8266', 'esp8266')):
        if up.startswith(prefix):
            family = fam
            break
    mac = re.search(r'MAC:\s+([0-9a-fA-F:]{17})', output)
    return {'family': family, 'model': model, 'mac': mac.group(1).lower() if mac else None}


def esptool(*args, port, chip='auto', baud=None):
    cmd = [sys.executable, '-m', 'esptool', '--chip', chip, '--port', port]
    if baud:
        cmd += ['--baud', str(baud)]
    return cmd + list(args)


def detect_cmd(port):
    return esptool('flash-id', port=port)


def erase_cmd(port, chip):
    return esptool('erase-flash', port=port, chip=chip)


def write_cmd(port, chip, image, offset, baud=FLASH_BAUD):
    return esptool('write-flash', '--compress', offset, str(image), port=port, chip=chip, baud=baud)


PROGRESS = re.compile(r'(\d+(?:\.\d+)?) ?%')


def run_with_progress(cmd, what, show=True):
    """Run an esptool command, a progress bar from its percentages; output on failure."""
    bar = None
    if show:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        bar = Progress(TextColumn(what), BarColumn(), TextColumn('{task.percentage:>3.0f}%'), TimeElapsedColumn())
        bar.start()
        task = bar.add_task(what, total=100)
    out = []
    try:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        buf = ''
        while True:
            c = p.stdout.read(1)
            if not c:
                break
            buf += c
            if c in '\r\n':
                out.append(buf)
                m = PROGRESS.search(buf)
                if m and bar:
                    bar.update(task, completed=float(m.group(1)))
                buf = ''
        rc = p.wait()
    finally:
        if bar:
            bar.stop()
    text = ''.join(out)
    if rc:
        parse_chip(text)        # says what to do for the usual failures
        raise EdgeError('%s failed (esptool exit %d):\n%s' % (what, rc, text.strip()[-800:]), 1)
    return text


def detect(port, show=True):
    try:
        out = subprocess.run(detect_cmd(port), capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        raise EdgeError('esptool got no answer on %s within 60 s' % port, 1)
    return parse_chip(out.stdout + out.stderr)


def write_micropython(port, board, image, erase=True, show=True, say=print):
    """Detect the chip, check it is the board profile's, erase, write the image."""
    chip = detect(port, show)
    say('chip on %s: %s (%s), MAC %s' % (port, chip['model'], chip['family'], chip['mac']))
    if chip['family'] != board['chip']:
        raise EdgeError('the chip on %s is an %s; the site says %s (%s): check the board or the site file' % (
            port, chip['model'], board['name'], board['chip']), 1)
    if erase:
        run_with_progress(erase_cmd(port, board['chip']), 'erase flash', show)
    run_with_progress(write_cmd(port, board['chip'], image, board['flash_offset']), 'write %s' % Path(image).name, show)
    return chip
