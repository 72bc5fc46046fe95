"""The monitoring centre's files and generated config (host/core/centre.py) and its verbs:
the centre file's checks, a site's bridge login (enrol, secrets file or environment), the
bridge section `edgectl broker` writes, the centre's ACL, and `journal query` on either
journal."""
import json
import subprocess
import sys

import pytest

from edgectl.core import centre
from edgectl.core.errors import EdgeError
from edgectl.core import site as sitemod

SITE = '''site: north
broker: {host: 127.0.0.1, port: %d}
centre: {host: centre.example.net, port: 8883, ca: hq-ca.pem}
devices:
  gate-1:
    board: esp32-devkitc
    controllers:
      - {name: gate, type: door, pins: {contact: 4, rex: 13, lock: 25, buzzer: 26}}
'''


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, '-m', 'edgectl.cli'] + list(args), capture_output=True, text=True,
                          cwd=cwd, timeout=60, env=env)


@pytest.fixture
def files(tmp_path):
    (tmp_path / 'centre.yaml').write_text('centre: hq\nbroker: {host: 0.0.0.0, port: 8883}\nsites: [north, south]\n')
    (tmp_path / 'site.yaml').write_text(SITE % 1883)
    (tmp_path / 'hq-ca.pem').write_text('-----BEGIN CERTIFICATE-----\n')
    return tmp_path


@pytest.mark.parametrize('text, why', [
    ('centre: hq\nbroker: {port: 8883}\nsites: [north, north]\n', 'each once'),
    ('centre: hq\nbroker: {port: 8883}\nsites: [North]\n', "site 'North'"),
    ('centre: hq\nbroker: {port: 65535}\nsites: [a]\n', 'broker.port'),
    ('centre: hq\nbroker: {port: 8883}\nsites: [a]\nextra: 1\n', 'a mapping of'),
    ('centre: [\n', 'not YAML'),
])
def test_a_bad_centre_file_is_one_clear_error(tmp_path, text, why):
    p = tmp_path / 'c.yaml'
    p.write_text(text)
    with pytest.raises(EdgeError, match=why.replace('(', r'\(')):
        centre.load(p)


def test_enrol_gives_the_site_its_bridge_login_and_the_broker_its_bridge(files, monkeypatch):
    monkeypatch.delenv('EDGE_CENTRE_PASSWORD', raising=False)
    s = sitemod.load_valid(files / 'site.yaml')
    assert not s.errors
    with pytest.raises(EdgeError, match='no bridge login'):
        centre.site_bridge(s, files / 'site.yaml', None)
    r = run('centre', 'enrol', 'centre.yaml', 'site.yaml', cwd=files)
    assert r.returncode == 0, r.stderr
    sec = json.loads((files / 'site.secrets.json').read_text())
    hq = json.loads((files / 'centre.secrets.json').read_text())
    assert sec['centre'] == {'user': 'bridge.north', 'password': hq['sites']['north']['password']}
    assert (files / 'site.secrets.json').stat().st_mode & 0o077 == 0
    lines = centre.site_bridge(s, files / 'site.yaml', sec)
    assert 'address centre.example.net:8883' in lines and 'remote_username bridge.north' in lines
    assert 'bridge_cafile %s' % (files / 'hq-ca.pem').resolve() in lines
    assert 'remote_password %s' % sec['centre']['password'] in lines
    monkeypatch.setenv('EDGE_CENTRE_PASSWORD', 'from-env')
    assert 'remote_password from-env' in centre.site_bridge(s, files / 'site.yaml', sec)
    # a site the centre does not list gets no login
    (files / 'east.yaml').write_text((SITE % 1883).replace('site: north', 'site: east'))
    r = run('centre', 'enrol', 'centre.yaml', 'east.yaml', cwd=files)
    assert r.returncode == 2 and 'not in' in r.stderr and 'Traceback' not in r.stderr


def test_a_missing_centre_ca_is_said(files):
    (files / 'hq-ca.pem').unlink()
    s = sitemod.load_valid(files / 'site.yaml')
    with pytest.raises(EdgeError, match='centre.ca'):
        centre.site_bridge(s, files / 'site.yaml', {'centre': {'user': 'u', 'password': 'p'}})


def test_a_misspelt_centre_key_is_refused_by_the_site_check(files):
    (files / 'site.yaml').write_text((SITE % 1883).replace('ca: hq-ca.pem', 'cafile: hq-ca.pem'))
    with pytest.raises(EdgeError):
        sitemod.load_valid(files / 'site.yaml')


def test_the_centres_acl_keeps_each_bridge_to_its_site():
    bridges, room = centre.acl_text(['north', 'south'])
    blocks = {b.splitlines()[0]: b.splitlines()[1:] for b in bridges.split('\n\n') if b.startswith('user ')}
    for site, other in (('north', 'south'), ('south', 'north')):
        rules = blocks['user bridge.%s' % site]
        assert rules and all(' edge/v1/%s/' % site in r for r in rules)
        assert not any(other in r for r in rules)
        assert not any('cmd' in r for r in rules if r.startswith('topic write'))    # no commands up
    assert 'topic read edge/v1/#' in room and not any('evt' in l or 'status' in l for l in room.splitlines()
                                                       if l.startswith('topic write'))


def test_journal_query_on_postgresql(postgres, tmp_path):
    from edgectl.room.pgstore import PgStore
    url = postgres.create_db('cli_query')
    s = PgStore(url)
    for site in ('north', 'south'):
        s.event('%s/gate-1' % site, {'seq': 1, 'log': 1, 'ts': 5, 'type': 'door.forced', 'sev': 'alarm', 'ctrl': 'g',
                                     'active': True})
    s.close()
    r = run('journal', 'query', '--db', url, '--device', 'south/*', '--json', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [(e['device'], e['type']) for e in json.loads(r.stdout)] == [('south/gate-1', 'door.forced')]
    r = run('journal', 'backup', '--db', url, cwd=tmp_path)
    assert r.returncode == 2 and 'pg_dump' in r.stderr
    r = run('journal', 'query', '--db', 'postgresql://nobody@127.0.0.1:1/none', cwd=tmp_path)
    assert r.returncode == 1 and 'cannot open the journal' in r.stderr and 'Traceback' not in r.stderr
