"""The run report, end to end: dag.test() on the real metadata DB against the sandbox over HTTP.

Its stage durations come from the Execution API (the run's task instances), its numbers from the
cluster; a run that fails still gets its report, and keeps its failed state."""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import ALIAS, ROOT, SOURCE_INDEX, connect, load_corpus, xcom
from tests.sandbox.ml_support import arm_faults

VARIABLES = json.loads((ROOT / "include" / "variables.json").read_text())


@pytest.fixture
def cluster(es, sandbox, monkeypatch):
    connect(monkeypatch, sandbox.url)
    load_corpus(es, limit=30)
    return es


def test_report_of_a_successful_run(cluster, sandbox, monkeypatch, run_dag, embedding_dag):
    kibana = "http://kibana.example:5601"
    conn = {"conn_type": "elasticsearch", "host": sandbox.url, "extra": {"kibana_url": kibana + "/"}}
    monkeypatch.setenv("AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", json.dumps(conn))

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "success", result.task_states
    assert result.task_states["run_report"] == "success"
    report = xcom(result.run_id, "run_report")
    assert report["outcome"] == "success"
    assert report["source_index"] == SOURCE_INDEX and report["alias"] == ALIAS
    docs = report["documents"]
    assert docs["source_matching"] == docs["reindex_total"] == docs["created"] == 30
    assert docs["in_destination"] == docs["embedded"] == 30
    assert docs["missing_embeddings"] == docs["recorded_failures"] == 0
    assert report["failures"] == {"reindex": {}}
    # Every stage, in the DAG's order, each with the duration Airflow recorded for it.
    # Every stage upstream of the report, in the DAG's order, each with the duration Airflow recorded.
    upstream = embedding_dag.get_task("run_report").get_flat_relative_ids(upstream=True)
    stages = [task.task_id for task in embedding_dag.topological_sort() if task.task_id in upstream]
    assert [row["task_id"] for row in report["stages"]][: len(stages)] == stages
    # The other backend's stages were skipped by choose_backend, and the report says so.
    skipped = {"ensure_endpoint", "wait_endpoint"}
    assert all(
        row["state"] == "success" and row["duration_s"] is not None
        for row in report["stages"]
        if row["task_id"] not in skipped
    )
    assert {
        row["task_id"]: row["state"] for row in report["stages"] if row["task_id"] in skipped
    } == dict.fromkeys(skipped, "skipped")
    assert report["docs_per_second"] > 0 and report["duration_s"] > 0
    inference = report["inference"]
    assert inference["deployment_id"] == VARIABLES["embedding_deployment"]["deployment_id"]
    # 30 documents, plus the verification's semantic query.
    assert inference["inference_count"] >= 30 and inference["average_inference_time_ms"] > 0
    assert inference["rejected_execution_count"] == 0 and inference["timeout_count"] == 0
    ingest = report["ingest"]
    assert ingest["pipeline_id"] == VARIABLES["embedding_pipeline"]["pipeline_id"]
    assert ingest["count"] == 30 and ingest["failed"] == 0
    assert report["unavailable"] == []
    # The Kibana links, as the worker computed them when each task ended (what the UI shows).
    model_id = xcom(result.run_id, "ensure_model", "model_id")
    model_link = xcom(result.run_id, "ensure_model", "_link_KibanaModelLink")
    assert model_link.startswith(f"{kibana}/app/ml/trained_models?_a=") and model_id in model_link
    index_link = f"{kibana}/app/management/data/index_management/indices/index_details?indexName="
    assert (
        xcom(result.run_id, "create_dest_index", "_link_KibanaIndexLink") == index_link + report["dest_index"]
    )
    assert xcom(result.run_id, "run_report", "_link_KibanaIndexLink") == index_link + report["dest_index"]


def test_failed_run_still_reports_failures_by_type_and_stays_failed(cluster, run_dag):
    # Two documents without the input field: the pipeline records its failure on them, and no
    # repair can embed them. And the next 4 inference requests are rejected as a full queue rejects.
    for doc_id in ("no-content-1", "no-content-2"):
        cluster.index(index=SOURCE_INDEX, id=doc_id, document={"title": "untitled"}, refresh=True)
    arm_faults(cluster, inference_rejection={"burst": 4})

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "failed"
    assert result.task_states["swap_alias"] == "upstream_failed"
    assert result.task_states["run_report"] == "success"
    report = xcom(result.run_id, "run_report")
    failed = [task for task, state in result.task_states.items() if state in ("failed", "upstream_failed")]
    assert report["outcome"].startswith("failed (") and all(task in report["outcome"] for task in failed)
    # Each stage as the run ended it (teardowns after the report, if any, are not in it).
    assert all(result.task_states[row["task_id"]] == row["state"] for row in report["stages"])
    assert {"verify_embeddings", "swap_alias"} <= {row["task_id"] for row in report["stages"]}
    docs = report["documents"]
    assert docs["source_matching"] == docs["in_destination"] == 32 and docs["embedded"] == 30
    assert docs["missing_embeddings"] == docs["recorded_failures"] == 2
    ((kind, count),) = report["failures"]["pipeline"].items()
    assert count == 2 and kind.startswith("inference: ") and "content" in kind
    assert report["inference"]["rejected_execution_count"] == 4
    # No kibana_url in the connection: the links stay empty (the UI shows none).
    assert xcom(result.run_id, "create_dest_index", "_link_KibanaIndexLink") == ""


def test_report_of_a_run_that_failed_before_the_cluster(cluster, monkeypatch, run_dag):
    monkeypatch.setenv("AIRFLOW_VAR_EMBEDDING_DEPLOYMENT", json.dumps({"threads_per_allocation": 3}))

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "failed" and result.task_states["run_report"] == "success"
    report = xcom(result.run_id, "run_report")
    assert report["outcome"].startswith("failed (validate_settings, ensure_model")
    assert report["inference"] is None and report["ingest"] is None
    assert any(
        line.startswith("deployment stats: the run did not get that far") for line in report["unavailable"]
    )
