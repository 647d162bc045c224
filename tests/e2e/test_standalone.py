"""Smoke test under a real `airflow standalone` (scheduler, dag-processor, api-server, triggerer on
PostgreSQL) against the sandbox: the DAG is parsed by the dag-processor, its triggers import and run in
the real triggerer (what dag.test() cannot show), and a run started through the REST API succeeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.e2e.harness import ALIAS, SOURCE_INDEX, load_corpus
from tests.e2e.standalone import running_standalone

pytestmark = [pytest.mark.standalone, pytest.mark.slow]
DAG_ID = "embedding_reindex"


@pytest.fixture
def standalone(tmp_path: Path, start_sandbox, postgres):
    # Slow enough that every sensor finds its work unfinished and defers to the triggerer.
    sandbox = start_sandbox(download_seconds=8, inference_ms=150)
    with running_standalone(tmp_path / "airflow", sandbox.url, postgres.new_database()) as airflow:
        airflow.sandbox = sandbox
        yield airflow


def test_run_succeeds_with_triggers_in_the_real_triggerer(standalone):
    es = Elasticsearch(standalone.sandbox.url)
    load_corpus(es, limit=40)
    standalone.wait_for_dag(DAG_ID)

    run_id = standalone.trigger(DAG_ID, source_index=SOURCE_INDEX, alias=ALIAS)

    state = standalone.wait_for_run(DAG_ID, run_id)
    tis = standalone.task_instances(DAG_ID, run_id)
    assert state == "success", {t["task_id"]: t["state"] for t in tis}

    # Every sensor deferred, and its trigger ran in the triggerer process (which writes these logs).
    deferred = {
        p.parent.name.removeprefix("task_id=") for p in (standalone.home / "logs").rglob("*.log.trigger.*")
    }
    assert {"wait_model_download", "wait_deployment", "wait_reindex"} <= deferred
    assert es.count(index=ALIAS)["count"] == 40
