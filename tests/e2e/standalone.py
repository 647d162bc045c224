"""A real `airflow standalone` (scheduler, dag-processor, api-server, triggerer; LocalExecutor on a
PostgreSQL metadata DB, see tests/postgres.py) in a throw-away AIRFLOW_HOME, driven through its REST
API: what dag.test() cannot show (the scheduler's backfills, pools and mapped-task concurrency,
triggers in the real triggerer). Started by bin/airflow_local.py, as the demo starts it. Each start
costs 20-60 s on a 2-core machine: share one per test session where possible."""

from __future__ import annotations

import subprocess
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bin.airflow_local import AirflowStandalone, wait_for, wait_for_dag

__all__ = ["Standalone", "running_standalone", "wait_for"]


@dataclass
class Standalone:
    launcher: AirflowStandalone
    api: httpx.Client  # base URL /api/v2, logged in as the admin
    metadata_db: str  # the SQLAlchemy URL of its metadata DB
    sandbox: Any = None  # the SandboxProcess it talks to, when a fixture sets it

    @property
    def home(self) -> Path:
        return self.launcher.home

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """An `airflow` CLI command against this deployment; its failure fails the test."""
        done = self.launcher.airflow(*args, capture_output=True, text=True)
        if done.returncode:
            raise AssertionError(
                f"airflow {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}"
            )
        return done

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        wait_for_dag(self.api, dag_id, timeout)

    def trigger(self, dag_id: str, **conf) -> str:
        """A manual run with `conf` (no logical date), as the UI's trigger form starts it; its id."""
        resp = self.api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        assert resp.status_code == 200, resp.text
        return resp.json()["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        def finished():
            state = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        return wait_for(finished, timeout, f"run {run_id} to finish", interval=2)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        resp = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        return resp.json()["task_instances"]


@contextmanager
def running_standalone(
    home: Path, es_conn: dict | str, metadata_db: str, **extra_env: str
) -> Generator[Standalone, None, None]:
    """Standalone with this repo's dags/ and plugins/, the connection `es_conn` (a dict, or the URL
    of an unauthenticated cluster), the metadata DB `metadata_db` and `extra_env`; healthy on entry,
    every component stopped on exit."""
    if isinstance(es_conn, str):
        es_conn = {"conn_type": "elasticsearch", "host": es_conn}
    launcher = AirflowStandalone(home, es_conn, metadata_db=metadata_db, extra_env=extra_env)
    try:
        launcher.start()
        with launcher.api() as api:
            yield Standalone(launcher=launcher, api=api, metadata_db=metadata_db)
    finally:
        launcher.stop()
