"""Helpers of the end-to-end tests: connection and Variables as Airflow reads them in production
(environment), the sample corpus, and the result of one DAG run."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bin.sample_corpus import create_sample_index
from tests.sandbox.ml_support import arm_faults

ROOT = Path(__file__).resolve().parents[2]
SOURCE_INDEX = "articles"
ALIAS = "articles-embedded"
DAG_ID = "embedding_reindex"
# Every wait polls every 100 ms, so that a run against the sandbox takes seconds.
FAST_POLLS = {
    "embedding_model": {"poll_interval": "100ms"},
    "embedding_deployment": {"poll_interval": "100ms"},
    "embedding_reindex": {"poll_interval": "100ms"},
}


def missing_prerequisite(message: str):
    """A tool the test needs is not on this machine: skip on a developer's machine, fail under CI
    (CI=true), where .ci/run installs it and a skip would hide a test that never ran."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"this test must run in CI: {message}")
    pytest.skip(message)


@dataclass
class RunResult:
    state: str
    task_states: dict[str, str]
    run_id: str

    @property
    def failed_tasks(self) -> list[str]:
        return sorted(t for t, s in self.task_states.items() if s == "failed")


def pristine_params(dag) -> None:
    """Make every `dag.test()` of `dag` start from the Params' declared defaults.

    Airflow's `process_params()` merges the DAG's and the task's Param objects into a new ParamsDict
    without copying them, and `Param.resolve(value)` stores the run's value in the Param
    (airflow/sdk/definitions/param.py). A worker parses the DAG afresh for every task, so scheduled
    runs never see it; dag.test() runs every task in-process on one DAG object, so a conf key of one
    run became the default of the next run of that object (one test's `dest_index` reached the next
    test's validate_settings). This restores the declared values before each dag.test() call.
    """
    holders = [dag.params, *(task.params for task in dag.tasks)]
    declared = [(param, param.value) for params in holders for param in (params.get_param(k) for k in params)]
    real_test = dag.test

    def test(*args, **kwargs):
        for param, value in declared:
            param.value = value
        return real_test(*args, **kwargs)

    dag.test = test


def connect(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point the elasticsearch_default connection at `url` (an environment connection, as in prod)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", json.dumps({"conn_type": "elasticsearch", "host": url})
    )


def set_variables(monkeypatch: pytest.MonkeyPatch, **variables: dict) -> None:
    """Airflow Variables as environment variables (AIRFLOW_VAR_<NAME>, JSON)."""
    for name, value in variables.items():
        monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", json.dumps(value))


def load_corpus(es, index: str = SOURCE_INDEX, limit: int | None = None) -> int:
    return create_sample_index(es, index, limit=limit)


def prepare_run(monkeypatch: pytest.MonkeyPatch, es, url: str, docs: int | None, **variables: dict) -> None:
    """What most runs start from: the connection pointed at the sandbox at `url` (which `es` talks
    to), fast polls with `variables` besides, and the first `docs` documents of the sample corpus
    (None: all of it)."""
    connect(monkeypatch, url)
    set_variables(monkeypatch, **FAST_POLLS, **variables)
    load_corpus(es, limit=docs)


def xcom(run_id: str, task_id: str, key: str = "return_value"):
    """What `task_id` pushed under `key` in run `run_id` of embedding_reindex, read from the metadata
    DB; a value that was never pushed fails the test."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == DAG_ID,
                XComModel.run_id == run_id,
                XComModel.task_id == task_id,
                XComModel.key == key,
            )
        ).one_or_none()
        assert row is not None, f"{task_id} pushed no XCom {key!r} in run {run_id}"
        return XComModel.deserialize_value(row)


@contextlib.contextmanager
def node_restart_when(
    es,
    count: Callable[[], int | None],
    on_restart: Callable[[], None],
    *,
    at: int = 8,
    before_restart: Callable[[], None] = lambda: None,
) -> Generator[None]:
    """While the block runs (a DAG run), a watcher restarts the sandbox's node (the node_restart
    fault) as soon as `count()` reaches `at` (None: not yet countable), and calls `on_restart` right
    after to record what the restart met (`before_restart` right before). It gives up after 120 s;
    the block's end waits 5 s at most for it."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            written = count()
            if written is not None and written >= at:
                before_restart()
                arm_faults(es, node_restart=True)
                on_restart()
                return
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        watcher.join(timeout=5)
