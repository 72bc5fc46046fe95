"""What of the installer path runs without a board: esptool command lines per chip, chip
detection from esptool's output, the cached-image lookup, .mpy compatibility, the deploy
plan, network settings, and the new board profiles in site validation."""
from pathlib import Path

import pytest

from edgectl.core import boards
from edgectl.install import deploy, flash, installer
from edgectl.core import site as sitemod
from edgectl.core.errors import EdgeError

DATA = Path(__file__).parent.parent / 'data' / 'esptool'


def test_chip_detect_from_esptool_v4_and_v5_output():
    c = flash.parse_chip((DATA / 'v4-esp32-flash-id.txt').read_text())
    assert c == {'family': 'esp32', 'model': 'ESP32-D0WD-V3', 'mac': 'fc:f5:c4:3c:62:90'}
    c = flash.parse_chip((DATA / 'v5-esp32s3-flash-id.txt').read_text())
    assert c == {'family': 'esp32s3', 'model': 'ESP32-S3', 'mac': '34:85:18:7a:1b:2c'}


def test_chip_detect_failure_says_what_to_do():
    with pytest.raises(EdgeError) as e:
        flash.parse_chip((DATA / 'v4-no-serial-data.txt').read_text())
    assert 'hold BOOT' in str(e.value) and e.value.code == 1
    with pytest.raises(EdgeError):
        flash.parse_chip('esptool v5.6.0\nsomething else\n')


def test_write_commands_use_each_chips_offset():
    esp32 = boards.load('esp32-devkitc')
    s3 = boards.load('esp32-s3-devkitc')
    cmd = flash.write_cmd('/dev/ttyUSB0', esp32['chip'], '/x/ESP32_GENERIC-v1.25.0.bin', esp32['flash_offset'])
    assert cmd[1:] == ['-m', 'esptool', '--chip', 'esp32', '--port', '/dev/ttyUSB0', '--baud', '460800',
                       'write-flash', '--compress', '0x1000', '/x/ESP32_GENERIC-v1.25.0.bin']
    cmd = flash.write_cmd('/dev/ttyACM0', s3['chip'], 'img.bin', s3['flash_offset'])
    assert cmd[cmd.index('write-flash') + 2] == '0x0' and '--chip' in cmd and 'esp32s3' in cmd
    assert flash.erase_cmd('/dev/ttyUSB0', 'esp32')[-1] == 'erase-flash'
    assert flash.detect_cmd('/dev/ttyUSB0')[-1] == 'flash-id'


def image(path, magic=0xE9):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes([magic]) + b'\0' * 64)
    return path


def test_cached_image_lookup_takes_the_newest_for_the_board(tmp_path):
    a, b = tmp_path / 'edgectl', tmp_path / 'Downloads' / 'firmware'
    image(a / 'ESP32_GENERIC-20240602-v1.23.0.bin')
    newest = image(b / 'esp32' / 'ESP32_GENERIC-v1.25.0.bin')          # mpflash keeps a folder per port
    image(b / 'esp32' / 'ESP32_GENERIC_S3-v1.26.0.bin')
    assert flash.find_image('ESP32_GENERIC', dirs=[a, b]) == newest
    with pytest.raises(EdgeError) as e:
        flash.find_image('OLIMEX_ESP32_POE', dirs=[a, b])
    msg = str(e.value)
    assert 'mpflash download --board OLIMEX_ESP32_POE' in msg and 'micropython.org/download/OLIMEX_ESP32_POE' in msg
    assert e.value.code == 2


def test_an_explicit_image_must_be_an_esp_image(tmp_path):
    good = image(tmp_path / 'fw.bin')
    assert flash.find_image('ESP32_GENERIC', str(good)) == good
    with pytest.raises(EdgeError) as e:
        flash.find_image('ESP32_GENERIC', str(image(tmp_path / 'fw.uf2', magic=0x55)))
    assert 'not an ESP32 firmware image' in str(e.value)
    with pytest.raises(EdgeError):
        flash.find_image('ESP32_GENERIC', str(tmp_path / 'missing.bin'))


def probe(ver, sub, version=(1, 29, 0)):
    return {'mpy_version': (ver, sub), 'version': list(version)}


def test_mpy_compatibility():
    bytecode = {'lib/a.mpy': b'M\x06\x00\x1f' + b'\0' * 8}
    native = {'lib/a.mpy': bytes([77, 6, (10 << 2) | 3, 31]) + b'\0' * 8}
    deploy.check_compatible(probe(6, 3), bytecode)
    deploy.check_compatible(probe(6, 1), bytecode)       # bytecode loads on any 6.x
    deploy.check_compatible(probe(6, 3), native)
    with pytest.raises(EdgeError) as e:
        deploy.check_compatible(probe(6, 1), native)
    assert '.mpy v6.1' in str(e.value) and 'edgectl flash' in str(e.value)
    with pytest.raises(EdgeError) as e:
        deploy.check_compatible(probe(5, 0, (1, 19, 1)), bytecode)
    assert 'MicroPython 1.19.1 (.mpy v5.0)' in str(e.value)


def test_deploy_plan_sends_changed_and_missing_files_and_deletes_stale_ones():
    files = {'main.py': b'main', 'lib/a.mpy': b'aaaa', 'lib/b.mpy': b'bb'}
    man = {'files': {'main.py': deploy.sha(b'main'), 'lib/a.mpy': deploy.sha(b'old'), 'lib/gone.mpy': 'x'}}
    sizes = {'main.py': 4, 'lib/a.mpy': 3}
    assert deploy.plan(files, man, sizes) == (['lib/a.mpy', 'lib/b.mpy'], ['lib/gone.mpy'])
    full = {'files': {p: deploy.sha(d) for p, d in files.items()}}
    assert deploy.plan(files, full, {p: len(d) for p, d in files.items()}) == ([], [])
    # a file changed on the board behind the manifest's back (size differs) goes again
    assert deploy.plan(files, full, {'main.py': 4, 'lib/a.mpy': 4, 'lib/b.mpy': 9}) == (['lib/b.mpy'], [])
    assert deploy.plan(files, None, {})[0] == sorted(files)


def test_commit_code_renames_staged_files_and_writes_the_manifest_last():
    code = deploy.commit_code(['lib/a.mpy'], ['lib/gone.mpy'], {'files': {}})
    assert code.index("_mv('lib/a.mpy.new', 'lib/a.mpy')") < code.index("os.remove('lib/gone.mpy')") \
        < code.index("_mv('lib/manifest.json.new', 'lib/manifest.json')")
    compile(code, 'commit', 'exec')


def test_network_settings(monkeypatch):
    poe = boards.load('olimex-esp32-poe')
    assert installer.net_settings(poe)['lan']['phy'] == 'LAN8720'
    dev = boards.load('esp32-devkitc')
    assert installer.net_settings(dev) is None
    monkeypatch.setenv('EDGE_WIFI_PASSWORD', 's3cret')
    assert installer.net_settings(dev, 'site-iot') == {'wifi': {'ssid': 'site-iot', 'password': 's3cret'}}
    monkeypatch.delenv('EDGE_WIFI_PASSWORD')
    with pytest.raises(EdgeError):
        installer.net_settings(dev, 'site-iot', ask=False)


SITE = """site: s
broker: {host: 127.0.0.1, port: 1883}
devices:
  d:
    board: %s
    controllers:
      - {name: front, type: door, pins: {contact: %d, lock: %d}}
"""


def problems(board, contact, lock):
    s = sitemod.parse(SITE % (board, contact, lock), 'site.yaml')
    sitemod.validate(s)
    return [p.msg for p in s.problems]


def test_board_profiles_know_their_reserved_pins():
    assert problems('esp32-s3-devkitc', 4, 5) == []
    assert any('SPI flash' in m for m in problems('esp32-s3-devkitc', 27, 5))
    assert any('octal PSRAM' in m for m in problems('esp32-s3-devkitc', 35, 5))
    assert any('native USB' in m for m in problems('esp32-s3-devkitc', 19, 5))
    assert any('strapping' in m for m in problems('esp32-s3-devkitc', 4, 46))
    assert problems('olimex-esp32-poe', 4, 13) == []
    assert any('Ethernet PHY' in m for m in problems('olimex-esp32-poe', 4, 23))
    assert any('input-only' in m for m in problems('olimex-esp32-poe', 4, 36))
    for name in ('esp32-devkitc', 'esp32-s3-devkitc', 'olimex-esp32-poe'):
        b = boards.load(name)
        assert b['micropython_board'] and b['flash_offset'] and b['arch'] == 'xtensawin'


def test_layout_choice_and_the_romfs_command():
    assert deploy.choose_layout('auto', True) == 'romfs'
    assert deploy.choose_layout('auto', False) == 'lib'
    assert deploy.choose_layout('lib', True) == 'lib'
    with pytest.raises(EdgeError) as e:
        deploy.choose_layout('romfs', False)
    assert 'no ROMFS partition' in str(e.value)
    cmd = deploy.romfs_cmd('/dev/ttyUSB0', '/b/firmware.romfs')
    assert cmd[1:] == ['-m', 'mpremote', 'connect', '/dev/ttyUSB0', 'resume', 'romfs', 'deploy', '/b/firmware.romfs']
