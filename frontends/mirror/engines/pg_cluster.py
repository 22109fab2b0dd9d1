"""A throwaway private PostgreSQL cluster: initdb + pg_ctl in a temporary folder, on a free port of
127.0.0.1, run as an unprivileged user (PostgreSQL refuses to run as root; under root the commands go
through `runuser -u <user>`). The tests and the engine comparison load data into one; a user can too,
to try Mirror's PostgreSQL path without a server.

    with PrivateCluster() as pg:
        pg.create_database("shop")
        Mirror(pg.url("shop"))
"""
from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from ..errors import MirrorError

SERVICE_USERS = ("girflow-pg", "nobody")  # tools/setup.sh creates girflow-pg when run as root


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl are: PATH, or Debian's /usr/lib/postgresql/<version>/bin (newest)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[-3].split(".")[0]))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateCluster:
    def __init__(self, user: str | None = None):
        bindir = find_bindir()
        if bindir is None:
            raise MirrorError("PostgreSQL is not installed (no initdb/pg_ctl; Debian: apt-get install postgresql)")
        self.bindir: Path = bindir
        self.run_as = None
        if os.geteuid() == 0:
            self.run_as = user or os.environ.get("GIRFLOW_PG_USER") or next(
                (u for u in SERVICE_USERS if _user_exists(u)), None)
            if self.run_as is None:
                raise MirrorError("running as root and no unprivileged user to run PostgreSQL as")
        self.root = Path(tempfile.mkdtemp(prefix="girflow_pg_"))
        self.data = self.root / "data"
        self.port: int | None = None

    def _cmd(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.run_as:
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def start(self) -> "PrivateCluster":
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        os.chmod(self.root, 0o700)
        r = self._cmd("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--locale=C", "--no-sync")
        if r.returncode:
            raise MirrorError(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")
        for _ in range(5):  # the port may be taken between choosing and binding it
            self.port = _free_port()
            opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                    f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB "
                    f"-c max_connections=40")
            r = self._cmd("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "server.log"), "-w",
                          "-t", "60", "start")
            if r.returncode == 0:
                atexit.register(self.stop)  # never leave a server behind when the caller forgets
                return self
        log = (self.root / "server.log").read_text(errors="replace")[-2000:] if (self.root / "server.log").exists() else ""
        raise MirrorError(f"pg_ctl start failed: {r.stderr.strip()}\n{log}")

    def stop(self) -> None:
        atexit.unregister(self.stop)
        if self.data.exists():
            self._cmd("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        auth = user + (f":{password}" if password else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as con:
            con.execute(sql)

    def create_database(self, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
