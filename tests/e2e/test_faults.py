"""The fault matrix of docs/RELIABILITY.md, one end-to-end test per row: the real DAG through
dag.test() on the real metadata DB, the real client over HTTP, faults injected by the sandbox
(`POST /_sandbox/faults`). Every test also checks row 11: the source index is unchanged and the
alias points only at a verified, complete index (or nowhere / where it was).

Inference calls are counted with the deployment's own statistics (GET _ml/trained_models/<id>/_stats,
inference_stats.inference_count), so "completed documents are not embedded again" is measured, not
assumed. The verify step's sample semantic query is one inference of its own (SAMPLE_QUERIES).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from elasticsearch import Elasticsearch, helpers

from tests.e2e.harness import ALIAS, ROOT, SOURCE_INDEX, connect, load_corpus, set_variables

VARIABLES = json.loads((ROOT / "include" / "variables.json").read_text())
OUTPUT_FIELD = VARIABLES["embedding_pipeline"]["output_field"]
FAILURE_FIELD = VARIABLES["embedding_pipeline"]["failure_field"]
DEPLOYMENT_ID = VARIABLES["embedding_deployment"]["deployment_id"]
DOCS = 40
SAMPLE_QUERIES = 1  # verify_embeddings runs one semantic query (one inference) per run
FAST = {
    "embedding_model": {"poll_interval": "100ms"},
    "embedding_deployment": {"poll_interval": "100ms"},
    "embedding_reindex": {"poll_interval": "100ms"},
}


# --- helpers -------------------------------------------------------------------------------------


def snapshot(es: Elasticsearch, index: str = SOURCE_INDEX) -> dict[str, dict]:
    es.indices.refresh(index=index)
    return {h["_id"]: h["_source"] for h in helpers.scan(es, index=index, query={"query": {"match_all": {}}})}


def arm(es: Elasticsearch, **faults) -> None:
    es.perform_request(
        "POST", "/_sandbox/faults", body=faults, headers={"content-type": "application/json", "accept": "application/json"}
    )


def inference_count(es: Elasticsearch) -> int:
    stats = es.ml.get_trained_models_stats(model_id=DEPLOYMENT_ID)["trained_model_stats"]
    return sum(s.get("inference_stats", {}).get("inference_count", 0) for s in stats)


def missing(es: Elasticsearch, index: str) -> int:
    es.indices.refresh(index=index)
    return es.count(index=index, query={"bool": {"must_not": {"exists": {"field": OUTPUT_FIELD}}}})["count"]


def alias_targets(es: Elasticsearch) -> list[str]:
    return sorted(es.options(ignore_status=404).indices.get_alias(name=ALIAS).body or {}) if es.indices.exists_alias(
        name=ALIAS
    ) else []


def assert_complete(es: Elasticsearch, index: str, docs: int = DOCS) -> None:
    """Row 11: what an alias may point at: every source document, each with its embedding."""
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == docs
    assert missing(es, index) == 0
    assert es.count(index=index, query={"exists": {"field": FAILURE_FIELD}})["count"] == 0


def xcom(run_id: str, task_id: str, key: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id="embedding_reindex", run_id=run_id, task_id=task_id, key=key)
            .one_or_none()
        )
        return XComModel.deserialize_value(row) if row else None


def try_numbers(run_id: str) -> dict[str, int]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id="embedding_reindex", run_id=run_id).all()
        return {ti.task_id: ti.try_number for ti in tis}


@pytest.fixture
def cluster(es, sandbox, monkeypatch):
    """A fresh sandbox with DOCS documents of the sample corpus, fast poll intervals."""
    connect(monkeypatch, sandbox.url)
    set_variables(monkeypatch, **FAST)
    load_corpus(es, limit=DOCS)
    return es


@pytest.fixture
def quick_retries(embedding_dag):
    """Retries after 0 s instead of the DAG's 30 s (dag.test() waits for the real retry delay)."""
    saved = {t.task_id: (t.retry_delay, t.retry_exponential_backoff) for t in embedding_dag.tasks}
    for task in embedding_dag.tasks:
        task.retry_delay, task.retry_exponential_backoff = timedelta(0), 0
    yield
    for task in embedding_dag.tasks:
        task.retry_delay, task.retry_exponential_backoff = saved[task.task_id]


# --- row 1: inference queue overflow ---------------------------------------------------------------


def test_row1_queue_overflow_resumes_only_the_rejected_documents(cluster, run_dag):
    es = cluster
    before = snapshot(es)
    # The deployment's queue rejects the next 15 inference requests (429 "queue is full").
    arm(es, inference_rejection={"burst": 15})

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "success", result.task_states
    [dest] = alias_targets(es)
    assert_complete(es, dest)
    resume = xcom(result.run_id, "complete_index", "resume")
    assert resume["embedded"] == 15, resume
    # Each document was embedded exactly once: 25 by the reindex, the 15 rejected ones by the resume
    # pass; the rejected requests never ran an inference.
    assert inference_count(es) == DOCS + SAMPLE_QUERIES
    stats = es.ml.get_trained_models_stats(model_id=DEPLOYMENT_ID)["trained_model_stats"][0]
    assert stats["deployment_stats"]["rejected_execution_count"] == 15
    assert snapshot(es) == before
