"""Shared test set-up.

Airflow reads its configuration when first imported, so the environment for a throw-away Airflow
home (SQLite metadata DB, this repo's dags/ and plugins/) is set here, before any test module
imports airflow. Sandbox fixtures start real es_sandbox processes that tests reach over HTTP with
the real elasticsearch-py client.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Kept in the environment so that importing this module twice (as `conftest` and `tests.conftest`)
# cannot point Airflow at a second, empty home; one home per pytest-xdist worker.
_HOME_KEY = f"ES_EMBEDDING_TEST_AIRFLOW_HOME_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
AIRFLOW_HOME = Path(os.environ.setdefault(_HOME_KEY, tempfile.mkdtemp(prefix="airflow-home-")))

for path in (str(ROOT / "plugins"), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

from bin.airflow_local import airflow_env  # noqa: E402

os.environ.update(
    {
        **airflow_env(AIRFLOW_HOME),
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH")])
        ),
    }
)

from es_sandbox import SandboxConfig, SandboxProcess  # noqa: E402

# Fast clocks for tests: downloads take half a second, inference one millisecond.
TEST_SANDBOX = {"port": 0, "download_seconds": 0.5, "inference_ms": 1.0}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxProcess]:
    """One sandbox for the session; `es` resets it before every test."""
    proc = SandboxProcess(SandboxConfig(**TEST_SANDBOX))
    yield proc
    proc.stop()


@pytest.fixture
def es(sandbox: SandboxProcess):
    from elasticsearch import Elasticsearch

    client = Elasticsearch(sandbox.url, request_timeout=30)
    client.perform_request("POST", "/_sandbox/reset", headers={"accept": "application/json"})
    yield client
    client.close()


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxProcess]]:
    """Factory for sandboxes with their own options (stopped after the test)."""
    started: list[SandboxProcess] = []

    def start(**options) -> SandboxProcess:
        proc = SandboxProcess(SandboxConfig(**{**TEST_SANDBOX, **options}))
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata DB in the throw-away AIRFLOW_HOME (about 3 s, once a session)."""
    import subprocess

    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    return AIRFLOW_HOME / "airflow.db"
