"""A private, throw-away PostgreSQL server for the tests that run a real Airflow scheduler.

Airflow refuses backfills on SQLite under concurrent access, and its scheduler, triggerer and
api-server contend for SQLite's single write lock; production deployments use PostgreSQL, so these
tests do too. The server runs from Debian's `postgresql` binaries (`.ci/run` installs them) in a
temporary data directory, on a free loopback port, with trust authentication, and is stopped and
deleted afterwards. PostgreSQL refuses to run as root, so under root it runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bin.airflow_local import free_port, wait_for


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def server_bindir() -> Path:
    """The directory holding `initdb` and `pg_ctl`: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if versions:
        return Path(versions[-1]).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    )


class PostgresServer:
    """`start()`, then `new_database()` for each Airflow that needs a metadata DB of its own."""

    def __init__(self) -> None:
        self.bindir = server_bindir()
        self.port = free_port()
        self.datadir = Path(tempfile.mkdtemp(prefix="pg-airflow-"))
        self._as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self._names = itertools.count(1)

    def _run(self, binary: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as_user, str(self.bindir / binary), *args], capture_output=True, text=True, timeout=120
        )
        if done.returncode:
            raise RuntimeError(f"{binary} {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> PostgresServer:
        if self._as_user:
            shutil.chown(self.datadir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-l",
            str(self.datadir / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )
        wait_for(self._accepts_connections, 30, "PostgreSQL to accept connections", interval=0.2)
        return self

    def _connect(self, database: str = "postgres"):
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database)
        conn.autocommit = True
        return conn

    def _accepts_connections(self) -> bool:
        import psycopg2

        try:
            self._connect().close()
        except psycopg2.OperationalError:
            return False
        return True

    def new_database(self) -> str:
        """A new empty database; its SQLAlchemy URL, for AIRFLOW__DATABASE__SQL_ALCHEMY_CONN."""
        name = f"airflow_{next(self._names)}"
        conn = self._connect()
        try:
            conn.cursor().execute(f"CREATE DATABASE {name}")
        finally:
            conn.close()
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.datadir, ignore_errors=True)
