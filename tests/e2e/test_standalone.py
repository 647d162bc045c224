"""Smoke test under a real `airflow standalone` (scheduler, dag-processor, api-server, triggerer on
SQLite) against the sandbox: the DAG is parsed by the dag-processor, its triggers import and run in
the real triggerer (what dag.test() cannot show), and a run started through the REST API succeeds."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from tests.e2e.harness import ALIAS, ROOT, SOURCE_INDEX, load_corpus

pytestmark = [pytest.mark.standalone, pytest.mark.slow]
DAG_ID = "embedding_reindex"


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


@pytest.fixture
def standalone(tmp_path: Path, start_sandbox):
    # Slow enough that every sensor finds its work unfinished and defers to the triggerer.
    sandbox = start_sandbox(download_seconds=8, inference_ms=150)
    port = free_port()
    home = tmp_path / "airflow"
    home.mkdir()
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
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT": json.dumps({"conn_type": "elasticsearch", "host": sandbox.url}),
        # Only the repository root: the plugins folder must reach the triggerer through Airflow itself.
        "PYTHONPATH": str(ROOT),
    }
    log = (tmp_path / "standalone.log").open("wb")
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

        wait_for(healthy, 120, "airflow standalone to be healthy")
        token = httpx.get(f"{base}/auth/token", timeout=10).json()["access_token"]
        client = httpx.Client(
            base_url=f"{base}/api/v2", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        yield client, Elasticsearch(sandbox.url), home
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_run_succeeds_with_triggers_in_the_real_triggerer(standalone):
    api, es, home = standalone
    load_corpus(es, limit=40)
    wait_for(lambda: api.get(f"/dags/{DAG_ID}").status_code == 200, 120, "the dag-processor to parse the DAG")

    resp = api.post(
        f"/dags/{DAG_ID}/dagRuns",
        json={"logical_date": None, "conf": {"source_index": SOURCE_INDEX, "alias": ALIAS}},
    )
    assert resp.status_code == 200, resp.text
    run_id = resp.json()["dag_run_id"]

    def finished():
        state = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
        return state if state in ("success", "failed") else None

    state = wait_for(finished, 300, "the DAG run to finish", interval=2)
    tis = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    assert state == "success", {t["task_id"]: t["state"] for t in tis}

    # Every sensor deferred, and its trigger ran in the triggerer process (which writes these logs).
    deferred = {p.parent.name.removeprefix("task_id=") for p in (home / "logs").rglob("*.log.trigger.*")}
    assert {"wait_model_download", "wait_deployment", "wait_reindex"} <= deferred
    assert es.count(index=ALIAS)["count"] == 40
