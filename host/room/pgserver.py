"""A throw-away PostgreSQL for tests and `edgectl bench central`: Debian's server binaries,
initdb into a temporary folder, pg_ctl on a free loopback port, its unix socket in that
folder. PostgreSQL refuses to run as root: as root it runs as the `postgres` user (the
Debian package makes it), which then owns the folder."""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..core.errors import EdgeError


def bindir():
    """The folder of initdb/pg_ctl (Debian: /usr/lib/postgresql/N/bin, the newest), or None."""
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'), key=lambda p: int(p.split('/')[4]))
    if found:
        return Path(found[-1]).parent
    exe = shutil.which('initdb')
    return Path(exe).parent if exe else None


def missing():
    """Why no PostgreSQL can be started here (None when one can)."""
    if bindir() is None:
        return 'no PostgreSQL server binaries (Debian: apt-get install postgresql; tools/install.sh does)'
    if os.geteuid() == 0:
        try:
            pwd.getpwnam('postgres')
        except KeyError:
            return 'running as root and there is no postgres user to run PostgreSQL as'
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return 'no psycopg in this Python (pip install "psycopg[binary]"; tools/install.sh does)'
    return None


class PgServer:
    def __init__(self, port=None):
        from ..core.broker import free_port
        self.port = port or free_port()
        self._tmp = tempfile.mkdtemp(prefix='edgectl-pg-')
        self.root = Path(self._tmp)
        self.data = self.root / 'data'
        self.log = self.root / 'postgres.log'
        self.user = None
        if os.geteuid() == 0:
            pw = pwd.getpwnam('postgres')
            self.user = 'postgres'
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _run(self, *args):
        cmd = [str(bindir() / args[0])] + list(args[1:])
        if self.user:
            cmd = ['runuser', '-u', self.user, '--'] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=str(self.root))
        if r.returncode:
            raise EdgeError('PostgreSQL %s failed: %s' % (args[0], (r.stderr or r.stdout).strip()[-400:]))
        return r

    def start(self):
        why = missing()
        if why:
            raise EdgeError(why)
        self._run('initdb', '-D', str(self.data), '-U', 'edgectl', '-A', 'trust', '--no-sync', '-E', 'UTF8')
        opts = ("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s -c fsync=off "
                "-c synchronous_commit=on -c max_connections=50" % (self.port, self.root))
        self._run('pg_ctl', '-D', str(self.data), '-l', str(self.log), '-o', opts, '-w', '-t', '30', 'start')
        return self

    def dsn(self, db='edgectl'):
        return 'postgresql://edgectl@127.0.0.1:%d/%s' % (self.port, db)

    def create_db(self, name):
        """A fresh database on this server (one per test), its DSN."""
        import psycopg
        with psycopg.connect(self.dsn('postgres'), autocommit=True) as c:
            c.execute('DROP DATABASE IF EXISTS "%s"' % name)
            c.execute('CREATE DATABASE "%s"' % name)
        return self.dsn(name)

    def stop(self):
        try:
            self._run('pg_ctl', '-D', str(self.data), '-m', 'immediate', '-w', 'stop')
        except EdgeError:
            pass
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
