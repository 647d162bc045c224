"""A real `airflow standalone` (scheduler, dag-processor, api-server, triggerer) for this repository,
with a real login: the demo (bin/demo) and the tests that need a scheduler (tests/e2e/standalone.py,
tests/ui) start it this way. Its metadata DB is SQLite in its home unless a SQLAlchemy URL is given
(the scheduler tests give PostgreSQL's).

Simple auth manager with one admin user whose password this module writes into the passwords file
before Airflow starts (Airflow keeps a password it finds there), so the caller knows the login
without reading Airflow's output. Stopped by signalling its whole process group.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "embedding_reindex"
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def airflow_env(home: Path, metadata_db: str | None = None) -> dict[str, str]:
    """What every Airflow of this repository (demo, tests, benchmarks) is configured with: its home,
    this repository's dags/ and plugins/, no examples, and its metadata DB (SQLite in `home` unless
    a SQLAlchemy URL is given)."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_db or f"sqlite:///{home}/airflow.db",
    }


def free_port(preferred: int | None = None) -> int:
    """`preferred` when it is free on 127.0.0.1, else any free port."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is free
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise OSError("no free port")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


class AirflowStandalone:
    """`airflow standalone` in `home`, talking to Elasticsearch through `es_conn` (the connection
    elasticsearch_default as JSON, an environment connection, as in production), keeping its state
    in `metadata_db` (a SQLAlchemy URL; default SQLite in `home`)."""

    def __init__(
        self,
        home: Path,
        es_conn: dict,
        *,
        port: int | None = None,
        username: str = "admin",
        metadata_db: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port(port)
        self.url = f"http://localhost:{self.port}"
        self.username = username
        self.password = self._password()
        self.log_path = self.home / "standalone.log"
        self.env = {
            **os.environ,
            # standalone starts its components as `airflow ...` found on PATH: this interpreter's.
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            **airflow_env(self.home, metadata_db),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{username}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.passwords_file),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__API__PORT": str(self.port),
            # The components serve their live logs to the UI; ports of their own, so that two
            # standalones on one machine (parallel tests) do not fight over the defaults 8793/8794.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__API__BASE_URL": self.url,
            # Manual runs only, even with EMBEDDING_REINDEX_SOURCE_INDEX in the caller's environment: a
            # nightly run would start at once on unpause.
            "EMBEDDING_REINDEX_SCHEDULE": "none",
            "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT": json.dumps(es_conn),
            # Only the repository root: the plugins folder reaches the components through Airflow.
            "PYTHONPATH": str(ROOT),
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def passwords_file(self) -> Path:
        return self.home / "simple_auth_manager_passwords.json"

    def _password(self) -> str:
        """The admin's password: the one kept in the passwords file, else a new random one."""
        try:
            known = json.loads(self.passwords_file.read_text()).get(self.username)
        except (OSError, ValueError):
            known = None
        password = known or secrets.token_urlsafe(12)
        self.passwords_file.write_text(json.dumps({self.username: password}) + "\n")
        self.passwords_file.chmod(0o600)
        return password

    def airflow(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess:
        """An `airflow` CLI command against this home (e.g. `variables import`)."""
        return subprocess.run([sys.executable, "-m", "airflow", *args], env=self.env, **kwargs)

    def start(self, timeout: float = 180) -> AirflowStandalone:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "airflow", "standalone"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C reaches us, we stop it in order
        )
        wait_for(self.healthy, timeout, f"airflow standalone to be healthy (log: {self.log_path})")
        return self

    def healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"airflow standalone exited with {self.proc.returncode}:\n{tail}")
        try:
            health = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        return all(health.get(part, {}).get("status") == "healthy" for part in COMPONENTS)

    def api(self) -> httpx.Client:
        """A REST client (api/v2) logged in as the admin, as the UI's login form does it."""
        resp = httpx.post(
            f"{self.url}/auth/token", json={"username": self.username, "password": self.password}, timeout=30
        )
        resp.raise_for_status()
        token = resp.json()["access_token"]
        return httpx.Client(
            base_url=f"{self.url}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM to the whole process group, then wait until every component has exited (the
        api-server outlives standalone by seconds); SIGKILL to what is left after `timeout`."""
        if self.proc is not None:
            group = self.proc.pid
            _signal_group(group, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _group_alive(group, self.proc) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _group_alive(group, self.proc):
                _signal_group(group, signal.SIGKILL)
            self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass


def _group_alive(group: int, leader: subprocess.Popen) -> bool:
    """Whether a live (non-zombie) process is left in the group."""
    leader.poll()  # reap the leader, or it stays a zombie member of its group
    proc = Path("/proc")
    if not proc.is_dir():  # not Linux: the group exists while any member does
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            return True
    return False


def wait_for_dag(api: httpx.Client, dag_id: str = DAG_ID, timeout: float = 120) -> None:
    wait_for(
        lambda: api.get(f"/dags/{dag_id}").status_code == 200, timeout, f"the dag-processor to parse {dag_id}"
    )
