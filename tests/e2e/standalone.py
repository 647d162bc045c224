"""A real `airflow standalone` (scheduler, dag-processor, api-server, triggerer; LocalExecutor on
SQLite) in a throw-away AIRFLOW_HOME, driven through its REST API: what dag.test() cannot show
(the scheduler's backfills, pools and mapped-task concurrency, triggers in the real triggerer).
Each start costs 20-60 s on a 2-core machine: share one per test session where possible."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.harness import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


@dataclass
class Standalone:
    api: httpx.Client  # base URL /api/v2, authenticated
    home: Path
    env: dict[str, str]  # the components' environment: run `airflow ...` CLI commands with it
    sandbox: object | None = None  # the SandboxProcess it talks to, when a fixture sets it

    def cli(self, *args: str, attempts: int = 3) -> subprocess.CompletedProcess:
        """An idempotent `airflow` command; retried while SQLite answers "database is locked"."""
        for _ in range(attempts):
            done = subprocess.run(
                [sys.executable, "-m", "airflow", *args], env=self.env, capture_output=True, text=True
            )
            if "database is locked" not in done.stderr:
                break
            time.sleep(2)
        if done.returncode:
            raise AssertionError(
                f"airflow {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
            )
        return done

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        wait_for(lambda: self.api.get(f"/dags/{dag_id}").status_code == 200, timeout, f"DAG {dag_id} parsed")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        def finished():
            state = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        return wait_for(finished, timeout, f"run {run_id} to finish", interval=2)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        resp = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        return resp.json()["task_instances"]


@contextmanager
def running_standalone(home: Path, sandbox_url: str, **extra_env: str) -> Generator[Standalone, None, None]:
    """Start standalone with this repo's dags/ and plugins/, the connection to `sandbox_url`, and
    `extra_env`; wait until all four components are healthy; stop its process group afterwards."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        # standalone starts its components as `airflow ...` found on PATH: this interpreter's.
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{port}",
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT": json.dumps({"conn_type": "elasticsearch", "host": sandbox_url}),
        # Only the repository root: the plugins folder must reach the triggerer through Airflow itself.
        "PYTHONPATH": str(ROOT),
        **extra_env,
    }
    log = (home / "standalone.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow", "standalone"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://localhost:{port}"
    try:

        def healthy():
            try:
                health = httpx.get(f"{base}/api/v2/monitor/health", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                return False
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return all(health.get(p, {}).get("status") == "healthy" for p in parts)

        wait_for(healthy, 180, "airflow standalone to be healthy")
        token = httpx.get(f"{base}/auth/token", timeout=10).json()["access_token"]
        with httpx.Client(
            base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as api:
            yield Standalone(api=api, home=home, env=env)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
