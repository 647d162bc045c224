"""Helpers of the end-to-end tests: connection and Variables as Airflow reads them in production
(environment), the sample corpus, and the result of one DAG run."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from bin.sample_corpus import create_sample_index

ROOT = Path(__file__).resolve().parents[2]
SOURCE_INDEX = "articles"
ALIAS = "articles-embedded"


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
