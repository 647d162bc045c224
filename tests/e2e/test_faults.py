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

from tests.e2e.harness import (
    ALIAS,
    FAST_POLLS,
    ROOT,
    SOURCE_INDEX,
    connect,
    load_corpus,
    node_restart_when,
    prepare_run,
    set_variables,
    xcom,
)
from tests.sandbox.ml_support import arm_faults

VARIABLES = json.loads((ROOT / "include" / "variables.json").read_text())
OUTPUT_FIELD = VARIABLES["embedding_pipeline"]["output_field"]
FAILURE_FIELD = VARIABLES["embedding_pipeline"]["failure_field"]
DEPLOYMENT_ID = VARIABLES["embedding_deployment"]["deployment_id"]
DOCS = 40
SAMPLE_QUERIES = 1  # verify_embeddings runs one semantic query (one inference) per run


# --- helpers -------------------------------------------------------------------------------------


def snapshot(es: Elasticsearch, index: str = SOURCE_INDEX) -> dict[str, dict]:
    es.indices.refresh(index=index)
    return {h["_id"]: h["_source"] for h in helpers.scan(es, index=index, query={"query": {"match_all": {}}})}


def inference_count(es: Elasticsearch) -> int:
    stats = es.ml.get_trained_models_stats(model_id=DEPLOYMENT_ID)["trained_model_stats"]
    return sum(s.get("inference_stats", {}).get("inference_count", 0) for s in stats)


def missing(es: Elasticsearch, index: str) -> int:
    es.indices.refresh(index=index)
    return es.count(index=index, query={"bool": {"must_not": {"exists": {"field": OUTPUT_FIELD}}}})["count"]


def filled(es: Elasticsearch, index: str) -> int | None:
    """How many documents `index` holds (refreshed first); None while it does not exist."""
    if not es.indices.exists(index=index):
        return None
    es.indices.refresh(index=index)
    return es.count(index=index)["count"]


def alias_targets(es: Elasticsearch) -> list[str]:
    return (
        sorted(es.options(ignore_status=404).indices.get_alias(name=ALIAS).body or {})
        if es.indices.exists_alias(name=ALIAS)
        else []
    )


def assert_complete(es: Elasticsearch, index: str, docs: int = DOCS) -> None:
    """Row 11: what an alias may point at: every source document, each with its embedding."""
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == docs
    assert missing(es, index) == 0
    assert es.count(index=index, query={"exists": {"field": FAILURE_FIELD}})["count"] == 0


def try_numbers(run_id: str) -> dict[str, int]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id="embedding_reindex", run_id=run_id).all()
        return {ti.task_id: ti.try_number for ti in tis}


def failure_of(result, task_errors: dict[str, list[str]], task_id: str) -> str:
    """The one error with which `task_id`, the run's only failed task, failed the run."""
    assert result.state == "failed"
    assert result.failed_tasks == [task_id]
    [message] = task_errors[task_id]
    return message


def refusal_of_validate_settings(result, task_errors: dict[str, list[str]]) -> str:
    """The one error with which validate_settings failed the run, on its first try: a refusal
    before any write is final, not retried."""
    message = failure_of(result, task_errors, "validate_settings")
    assert try_numbers(result.run_id)["validate_settings"] == 1, "a refusal is not retried"
    return message


@pytest.fixture
def cluster(es, sandbox, monkeypatch):
    """A fresh sandbox with DOCS documents of the sample corpus, fast poll intervals."""
    prepare_run(monkeypatch, es, sandbox.url, DOCS)
    return es


@pytest.fixture
def task_errors(monkeypatch) -> dict[str, list[str]]:
    """The exception each task try ended with, by task id, as the task log's error line shows it.

    dag.test() writes no task log files and routes task logs to whichever stream structlog bound
    first, so a test cannot rely on reading them. This records the real exception that
    dag.test()'s in-process supervisor returns (TaskRunResult.error); the task itself is not touched.
    """
    from airflow.sdk.execution_time import supervisor

    errors: dict[str, list[str]] = {}
    real = supervisor.run_task_in_process

    def recording(ti, task, client=None):
        result = real(ti=ti, task=task, client=client)
        if result.error is not None:
            errors.setdefault(ti.task_id, []).append(f"{type(result.error).__name__}: {result.error}")
        return result

    monkeypatch.setattr(supervisor, "run_task_in_process", recording)
    return errors


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
    arm_faults(es, inference_rejection={"burst": 15})

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


# --- row 2: bulk retries that drop the pipeline (elastic/elasticsearch#78792) ----------------------


def test_row2_documents_landed_without_embeddings_are_caught_and_re_embedded(cluster, run_dag, embedding_dag):
    """The package's pipeline records an inference failure in its on_failure handler, so an
    inference 429 never reaches the bulk retry that drops the pipeline. The bug still bites any
    pipeline without that handler: here the sandbox reproduces it on a destination filled that
    way (failures empty, documents without embeddings AND without a failure record), and a run onto
    that destination must catch them, embed exactly them, and only then move the alias."""
    es = cluster
    before = snapshot(es)
    first = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)
    assert first.state == "success", first.task_states
    [complete] = alias_targets(es)

    damaged = f"{SOURCE_INDEX}-damaged"
    mappings = es.indices.get_mapping(index=complete)[complete]["mappings"]
    es.indices.create(index=damaged, mappings=mappings)  # ours: its _meta says managed_by
    es.ingest.put_pipeline(
        id="no-on-failure",
        processors=[
            {
                "inference": {
                    "model_id": DEPLOYMENT_ID,
                    "input_output": [{"input_field": "content", "output_field": OUTPUT_FIELD}],
                }
            }
        ],
    )
    arm_faults(es, pipeline_drop={"enabled": True}, inference_rejection={"burst": 12})
    answer = es.reindex(
        source={"index": SOURCE_INDEX, "size": DOCS},
        dest={"index": damaged, "pipeline": "no-on-failure"},
        refresh=True,
    )
    arm_faults(es, pipeline_drop={"enabled": False}, inference_rejection={"burst": 0})
    assert answer["failures"] == [] and answer["created"] == DOCS and answer["retries"]["bulk"] >= 1
    dropped = missing(es, damaged)
    assert dropped == 12
    assert es.count(index=damaged, query={"exists": {"field": FAILURE_FIELD}})["count"] == 0

    # Verification catches them: with the resume step skipped, the run fails before the alias moves.
    skipped = embedding_dag.test(
        run_conf={"source_index": SOURCE_INDEX, "alias": ALIAS, "dest_index": damaged},
        mark_success_pattern="complete_index",
    )
    assert str(skipped.state) == "failed"
    assert alias_targets(es) == [complete]

    calls = inference_count(es)
    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=damaged)

    assert result.state == "success", result.task_states
    assert alias_targets(es) == [damaged]
    assert_complete(es, damaged)
    assert xcom(result.run_id, "complete_index", "resume")["embedded"] == dropped
    assert inference_count(es) - calls == dropped + SAMPLE_QUERIES, "only the dropped documents are embedded"
    assert snapshot(es) == before


# --- row 3: node restart mid-reindex ---------------------------------------------------------------


def test_row3_node_restart_loses_the_task_and_the_run_resumes_what_is_missing(
    start_sandbox, monkeypatch, run_dag
):
    slow = start_sandbox(inference_ms=25)
    es = Elasticsearch(slow.url)
    prepare_run(monkeypatch, es, slow.url, DOCS)
    before = snapshot(es)
    dest = f"{SOURCE_INDEX}-restarted"
    seen: dict[str, int] = {}

    def at_restart() -> None:
        seen["present"] = es.count(index=dest)["count"]
        seen["embedded"] = seen["present"] - missing(es, dest)
        seen["calls_after_restart"] = inference_count(es)

    with node_restart_when(
        es,
        lambda: filled(es, dest),
        at_restart,
        before_restart=lambda: seen.update(calls_before=inference_count(es)),
    ):
        result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=dest)

    assert seen, "the reindex finished before the node restart"
    assert 0 < seen["present"] < DOCS
    assert result.state == "success", result.task_states
    assert xcom(result.run_id, "wait_reindex", "reindex_result")["lost"] is True
    assert alias_targets(es) == [dest]
    assert_complete(es, dest)
    resume = xcom(result.run_id, "complete_index", "resume")
    assert resume["copied"] == DOCS - seen["present"], resume
    # After the restart, only the documents without an embedding were embedded.
    embedded_after = inference_count(es) - seen["calls_after_restart"]
    assert embedded_after == DOCS - seen["embedded"] + SAMPLE_QUERIES, (seen, embedded_after)
    assert snapshot(es) == before


# --- row 7: the worker dies after the reindex task was started -------------------------------------


def test_row7_a_retry_re_attaches_to_the_reindex_task_it_started(cluster, run_dag, quick_retries):
    es = cluster
    before = snapshot(es)
    # start_reindex's first try ends right after the cluster accepted the reindex and the task id
    # was stored: its next request (the first read of the task) gets a 500. In-process dag.test()
    # cannot kill a worker; what the retry sees is the same: a stored id and a task it did not follow.
    arm_faults(es, http_error=[{"path": "^/_tasks/[^/]+$", "method": "GET", "status": 500, "count": 1}])

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "success", result.task_states
    assert try_numbers(result.run_id)["start_reindex"] == 2
    [dest] = alias_targets(es)
    assert_complete(es, dest)
    # One reindex, not two: every document was embedded exactly once.
    assert inference_count(es) == DOCS + SAMPLE_QUERIES
    assert xcom(result.run_id, "complete_index", "resume")["passes"] == 0
    assert snapshot(es) == before


# --- row 9: bad input, refused before the first write --------------------------------------------


def foreign_alias(es):
    es.indices.create(index="hand-made", aliases={ALIAS: {}})


BAD_INPUT = {
    "missing source index": ({"source_index": "no-such-index"}, {}, None, ["source_index", "no-such-index"]),
    "dest equal to source": (
        {"dest_index": SOURCE_INDEX},
        {},
        None,
        ["dest_index", SOURCE_INDEX, "must differ"],
    ),
    "alias on an unmanaged index": ({}, {}, foreign_alias, ["alias", "hand-made", "managed_by"]),
    "unknown model": (
        {},
        {"embedding_model": {"model_id": "no-such-model"}},
        None,
        ["embedding_model", "model_id", "no-such-model", "allowed"],
    ),
    "queue capacity over the 9.x limit": (
        {},
        {"embedding_deployment": {"queue_capacity": 200_000}},
        None,
        ["embedding_deployment", "queue_capacity", "200000", "100000"],
    ),
    "threads not a power of two": (
        {},
        {"embedding_deployment": {"threads_per_allocation": 3}},
        None,
        ["threads_per_allocation", "3", "power of 2"],
    ),
    "unknown key": (
        {},
        {"embedding_reindex": {"batch": 5}},
        None,
        ["embedding_reindex", "batch", "known keys"],
    ),
    "wrong type": (
        {},
        {"embedding_reindex": {"max_failures": "many"}},
        None,
        ["embedding_reindex", "max_failures", "many"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_row9_bad_input_is_refused_before_the_first_write(case, cluster, monkeypatch, run_dag, task_errors):
    es = cluster
    conf, variables, prepare, words = BAD_INPUT[case]
    if prepare:
        prepare(es)
    set_variables(
        monkeypatch, **{name: {**FAST_POLLS.get(name, {}), **value} for name, value in variables.items()}
    )
    indices_before = sorted(i["index"] for i in es.cat.indices(format="json"))

    result = run_dag(**{"source_index": SOURCE_INDEX, "alias": ALIAS, **conf})

    # The message names the field, the value and what is allowed.
    message = refusal_of_validate_settings(result, task_errors)
    assert message.startswith("SettingsError"), message
    for word in words:
        assert word in message, (word, message)
    # Nothing was written: no model put, no pipeline, no index, no alias moved.
    assert [m["model_id"] for m in es.ml.get_trained_models()["trained_model_configs"]] == [
        "lang_ident_model_1"
    ]
    assert es.options(ignore_status=404).ingest.get_pipeline().body == {}
    assert sorted(i["index"] for i in es.cat.indices(format="json")) == indices_before


# --- row 10: wrong credentials / an expired api key ----------------------------------------------

API_KEY = (
    "cm93MTAta2V5LWlkOnJvdzEwLXNlY3JldC0zZjlh"  # the encoded form, base64("row10-key-id:row10-secret-3f9a")
)
WRONG_KEY = "cm93MTAta2V5LWlkOmV4cGlyZWQtb3Itd3Jvbmc="  # base64("row10-key-id:expired-or-wrong")


def test_row10_a_refused_api_key_fails_validate_settings_naming_the_connection(
    start_sandbox, monkeypatch, run_dag, task_errors
):
    """Elasticsearch answers a wrong, expired or invalidated key alike (401 security_exception, the
    cause only in its own log), so one refused key stands for all three."""
    secured = start_sandbox(api_key=API_KEY)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT",
        json.dumps({"conn_type": "elasticsearch", "host": secured.url, "extra": {"api_key": WRONG_KEY}}),
    )
    set_variables(monkeypatch, **FAST_POLLS)

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    message = refusal_of_validate_settings(result, task_errors)
    assert message.startswith("AuthenticationError: reading the cluster version failed: HTTP 401"), message
    assert "connection 'elasticsearch_default'" in message and "api_key" in message
    assert WRONG_KEY not in message and API_KEY not in message
    # The run report (a teardown) also meets the 401 and says so without failing anything else.
    es = Elasticsearch(secured.url, api_key=API_KEY)
    assert es.cat.indices(format="json").body == []


def test_a_licence_without_ml_fails_validate_settings_saying_what_to_do_and_writes_nothing(
    start_sandbox, monkeypatch, run_dag, task_errors
):
    basic = start_sandbox(license="basic")
    es = Elasticsearch(basic.url)
    load_corpus(es, limit=DOCS)
    before = snapshot(es)
    connect(monkeypatch, basic.url)
    set_variables(monkeypatch, **FAST_POLLS)

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    message = refusal_of_validate_settings(result, task_errors)
    assert message.startswith("LicenseError: the cluster's licence: type basic, status active; "), message
    assert "does not include machine learning" in message and "start_trial" in message
    assert "privilege" not in message
    assert {i["index"] for i in es.cat.indices(format="json").body} == {SOURCE_INDEX}
    assert snapshot(es) == before


# --- row 4: model download fails or stalls ---------------------------------------------------------


def task_seconds(run_id: str, task_id: str) -> float:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = (
            session.query(TaskInstance)
            .filter_by(dag_id="embedding_reindex", run_id=run_id, task_id=task_id)
            .one()
        )
        return (ti.end_date - ti.start_date).total_seconds()


def elser_model(es) -> dict:
    [model] = [
        m for m in es.ml.get_trained_models()["trained_model_configs"] if m["model_id"].startswith(".elser")
    ]
    return model


def assert_the_next_run_puts_the_model_again(es, run_dag, monkeypatch, model: dict, before) -> None:
    """The cluster downloads normally again: the next run deletes the incomplete model, puts it anew
    (the grace that protects another run's just-started download, 5 s, is not waited for here) and
    completes the index."""
    from es_embedding.model import trained_model

    arm_faults(es, model_download=None)
    monkeypatch.setattr(trained_model, "DOWNLOAD_START_GRACE", 0.0)
    set_variables(monkeypatch, embedding_model=FAST_POLLS["embedding_model"])
    again = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert again.state == "success", again.task_states
    [config] = es.ml.get_trained_models(model_id=model["model_id"], include="definition_status")[
        "trained_model_configs"
    ]
    assert config["fully_defined"] is True
    assert config["create_time"] > model["create_time"], "put again, not resumed"
    [dest] = alias_targets(es)
    assert_complete(es, dest)
    assert snapshot(es) == before


def test_row4_a_failed_download_fails_with_the_reason_and_the_next_run_downloads_again(
    cluster, run_dag, task_errors, monkeypatch
):

    es = cluster
    before = snapshot(es)
    reason = "Failed to download model: connection reset while fetching model definition part [3]"
    arm_faults(es, model_download={"mode": "fail", "reason": reason})

    failed = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    message = failure_of(failed, task_errors, "wait_model_download")
    assert message.startswith("ModelDownloadError") and reason in message, message
    model = elser_model(es)
    incomplete = es.ml.get_trained_models(model_id=model["model_id"], include="definition_status")
    assert incomplete["trained_model_configs"][0]["fully_defined"] is False
    assert alias_targets(es) == []

    assert_the_next_run_puts_the_model_again(es, run_dag, monkeypatch, model, before)


def test_row4_a_stalled_download_fails_at_the_timeout_and_the_next_run_downloads_again(
    cluster, run_dag, task_errors, monkeypatch
):
    es = cluster
    before = snapshot(es)
    arm_faults(es, model_download={"mode": "stall"})
    set_variables(monkeypatch, embedding_model={**FAST_POLLS["embedding_model"], "timeout": "2s"})

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    message = failure_of(result, task_errors, "wait_model_download")
    assert message.startswith(
        "ModelDownloadError: gave up waiting after 2 s (Variable 'embedding_model': key 'timeout'); last state: "
    ), message
    assert "downloading (task " in message, message
    assert "; cancelled download task " in message, message
    # It ends at its own deadline, not at Airflow's backstop a minute later.
    assert 2 <= task_seconds(result.run_id, "wait_model_download") < 30
    # The stalled download was cancelled: no download task is left to wait on.
    assert not any(n["tasks"] for n in es.tasks.list(actions="xpack/ml/model_import*")["nodes"].values())
    model = elser_model(es)
    assert alias_targets(es) == []

    assert_the_next_run_puts_the_model_again(es, run_dag, monkeypatch, model, before)


# --- row 5: a deployment that stays `starting` -------------------------------------------------------


def test_row5_a_deployment_stuck_in_starting_fails_at_wait_timeout_with_each_nodes_reason(
    cluster, run_dag, task_errors, monkeypatch
):
    es = cluster
    before = snapshot(es)
    reason = "Could not load model: native process failed to start in time"
    arm_faults(es, deployment_stuck={"reason": reason})
    set_variables(
        monkeypatch, embedding_deployment={**FAST_POLLS["embedding_deployment"], "wait_timeout": "2s"}
    )

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    message = failure_of(result, task_errors, "wait_deployment")
    assert message.startswith(
        "DeploymentFailedError: gave up waiting after 2 s (Variable 'embedding_deployment': key 'wait_timeout'); "
        f"last state: deployment [{DEPLOYMENT_ID}] starting"
    ), message
    nodes = es.ml.get_trained_models_stats(model_id=DEPLOYMENT_ID)["trained_model_stats"][0][
        "deployment_stats"
    ]["nodes"]
    for route in nodes:
        [node_id] = route["node"]
        assert f"node {node_id}: starting: {reason}" in message, message
    assert 2 <= task_seconds(result.run_id, "wait_deployment") < 30
    assert alias_targets(es) == []
    assert snapshot(es) == before


# --- row 6: transient 5xx answers and dropped connections ------------------------------------------


def test_row6_5xx_and_dropped_connections_are_retried_and_one_reindex_runs(
    start_sandbox, monkeypatch, run_dag, quick_retries
):
    slow = start_sandbox(inference_ms=100)  # the reindex still runs when the retry looks for it
    es = Elasticsearch(slow.url)
    prepare_run(monkeypatch, es, slow.url, DOCS)
    before = snapshot(es)
    arm_faults(
        es,
        http_error=[
            # Answered by the client's own retries (502/503/504 and connection errors).
            {"path": "^/$", "method": "GET", "status": 503, "count": 2},
            {"path": "^/_ml/trained_models/_stats$", "drop_connection": True, "count": 1},
            {"path": "/_doc_count|^/[^_][^/]*/_count$", "status": 502, "count": 1},
            # The reindex starts, and its answer is lost: the client must not send it again (that
            # would start a second reindex); the task's retry re-attaches to the running one.
            {"path": "^/_reindex$", "method": "POST", "drop_connection": True, "after_processing": True},
        ],
    )
    reindex_tasks: set[str] = set()
    done = threading.Event()

    def watch_reindex_tasks() -> None:
        while not done.is_set():
            listed = es.tasks.list(actions="*reindex", detailed=True)["nodes"]
            reindex_tasks.update(  # the reindexes, not their slices (which name a parent)
                t if ":" in t else f"{node}:{t}"
                for node, info in listed.items()
                for t, task in info["tasks"].items()
                if "parent_task_id" not in task
            )
            time.sleep(0.02)

    watcher = threading.Thread(target=watch_reindex_tasks, daemon=True)
    watcher.start()
    try:
        result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)
    finally:
        done.set()
        watcher.join(timeout=5)

    assert result.state == "success", result.task_states
    assert len(reindex_tasks) == 1, f"one reindex for the run, not {sorted(reindex_tasks)}"
    assert try_numbers(result.run_id)["start_reindex"] == 2, "the lost answer failed the first try"
    assert xcom(result.run_id, "start_reindex", "es_task_id") in reindex_tasks
    assert es.perform_request("GET", "/_sandbox/faults", headers={"accept": "application/json"}).body == {}
    [dest] = alias_targets(es)
    assert_complete(es, dest)
    assert inference_count(es) == DOCS + SAMPLE_QUERIES, "every document embedded once"
    assert xcom(result.run_id, "complete_index", "resume")["passes"] == 0
    assert snapshot(es) == before


# --- row 12: the source changes between two attempts into the same destination ---------------------


def body(doc: dict) -> dict:
    """A destination document's body without what the chain adds (the inference processor writes
    `model_id` next to its output)."""
    return {k: v for k, v in doc.items() if k not in (OUTPUT_FIELD, FAILURE_FIELD, "model_id")}


def published(es: Elasticsearch, index: str) -> dict[str, dict]:
    """Every document of `index`, embeddings included (9.2+ leaves vectors out of `_source` unless asked)."""
    es.indices.refresh(index=index)
    query = {"query": {"match_all": {}}, "_source": {"exclude_vectors": False}}
    return {h["_id"]: h["_source"] for h in helpers.scan(es, index=index, query=query)}


def test_row12_re_runs_after_the_source_changed_re_embed_what_changed_and_never_publish_it_stale(
    cluster, run_dag
):
    """Issue 15, defect 3: a run re-run into the same `dest_index` after the source changed kept the
    old bodies and embeddings of the changed documents, and verification, counting, published them.
    Then deletions and an addition: what the source deleted leaves the destination."""
    es = cluster
    dest = f"{SOURCE_INDEX}-reused"
    first = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=dest)
    assert first.state == "success", first.task_states
    old = published(es, dest)

    # Between the attempts: two documents rewritten (the counts still match).
    rewritten = sorted(old)[:2]
    for doc_id in rewritten:
        es.update(index=SOURCE_INDEX, id=doc_id, doc={"content": f"rewritten {doc_id}: lava and magma"})
    es.indices.refresh(index=SOURCE_INDEX)
    calls = inference_count(es)

    again = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=dest)

    assert again.state == "success", again.task_states
    now = published(es, dest)
    source = snapshot(es)
    assert {doc_id: body(doc) for doc_id, doc in now.items()} == source, "every document current"
    assert all(now[d][OUTPUT_FIELD] != old[d][OUTPUT_FIELD] for d in rewritten), "embedded again"
    assert all(now[d] == old[d] for d in set(old) - set(rewritten)), "current documents are not written again"
    assert inference_count(es) - calls == len(rewritten) + SAMPLE_QUERIES, "only the rewritten ones embedded"
    assert xcom(again.run_id, "complete_index", "resume")["re_embedded"] == len(rewritten)
    verification = xcom(again.run_id, "verify_embeddings", "verification")
    assert verification["stale"] == 0 and verification["compared"] == DOCS, verification

    # Then one document deleted and one added: the counts still match, the contents do not.
    deleted, added = sorted(old)[2], "doc-added"
    es.delete(index=SOURCE_INDEX, id=deleted)
    new = {"title": "new", "topic": "geology", "published": "2026-03-04T09:30:00Z", "content": "basalt"}
    es.index(index=SOURCE_INDEX, id=added, document=new, refresh=True)
    before = snapshot(es)

    third = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=dest)

    assert third.state == "success", third.task_states
    assert alias_targets(es) == [dest]
    assert_complete(es, dest)
    assert {doc_id: body(doc) for doc_id, doc in published(es, dest).items()} == before
    assert xcom(third.run_id, "complete_index", "resume")["removed"] == 1
    assert snapshot(es) == before


# --- row 13: the alias swap's answer is lost -------------------------------------------------------


def test_row13_a_lost_answer_to_the_alias_swap_ends_in_success_and_the_tasks_after_it_run(cluster, run_dag):
    """Issue 15, defect 2: Elasticsearch applied `POST _aliases`, a proxy answered 502, the client
    resent remove+add and the resend answered 404 aliases_not_found_exception: the run failed with
    the alias moved, and announce_ready and apply_retention did not run."""
    es = cluster
    before = snapshot(es)
    first = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)
    assert first.state == "success", first.task_states
    [previous] = alias_targets(es)
    arm_faults(
        es, http_error=[{"path": "^/_aliases$", "method": "POST", "status": 502, "after_processing": True}]
    )

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "success", result.task_states
    assert try_numbers(result.run_id)["swap_alias"] == 1, "the lost answer is not a failure"
    [dest] = alias_targets(es)
    assert dest != previous
    assert_complete(es, dest)
    assert {t: result.task_states[t] for t in ("announce_ready", "apply_retention")} == {
        "announce_ready": "success",
        "apply_retention": "success",
    }
    assert xcom(result.run_id, "swap_alias", "previous_indices") == [previous]
    assert es.perform_request("GET", "/_sandbox/faults", headers={"accept": "application/json"}).body == {}
    assert snapshot(es) == before


# --- row 14: every other write whose answer is lost -------------------------------------------------


def test_row14_writes_whose_answers_are_lost_are_resent_safely(cluster, run_dag, monkeypatch):
    """The pipeline put, the index creation, the deployment start and the retention's delete are
    each answered 502 after the cluster carried them out; the client resends each, and the resend
    finds the work done (reindex starts: row 6)."""
    es = cluster
    before = snapshot(es)
    set_variables(
        monkeypatch,
        **{**FAST_POLLS, "embedding_reindex": {**FAST_POLLS["embedding_reindex"], "keep_indices": 1}},
    )
    first = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=f"{SOURCE_INDEX}-v1")
    assert first.state == "success", first.task_states
    es.ingest.delete_pipeline(id=VARIABLES["embedding_pipeline"]["pipeline_id"])
    es.ml.stop_trained_model_deployment(model_id=DEPLOYMENT_ID)
    lost = {"status": 502, "after_processing": True}
    arm_faults(
        es,
        http_error=[
            {"path": "^/_ingest/pipeline/", "method": "PUT", **lost},
            {"path": f"^/{SOURCE_INDEX}-v2$", "method": "PUT", **lost},
            {"path": "/deployment/_start$", "method": "POST", **lost},
            {"path": f"^/{SOURCE_INDEX}-v1$", "method": "DELETE", **lost},
        ],
    )

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=f"{SOURCE_INDEX}-v2")

    assert result.state == "success", result.task_states
    assert es.perform_request("GET", "/_sandbox/faults", headers={"accept": "application/json"}).body == {}
    assert alias_targets(es) == [f"{SOURCE_INDEX}-v2"]
    assert_complete(es, f"{SOURCE_INDEX}-v2")
    assert not es.indices.exists(index=f"{SOURCE_INDEX}-v1"), "retention deleted the older index"
    assert xcom(result.run_id, "apply_retention", "deleted") == [f"{SOURCE_INDEX}-v1"]
    assert set(try_numbers(result.run_id).values()) <= {0, 1}, "no task needed a retry (0: skipped)"
    assert snapshot(es) == before


# --- rows 3 and 12 on the semantic_text backend -----------------------------------------------------


def semantic_hits(es: Elasticsearch, index: str, text: str) -> list[str]:
    found = es.search(index=index, query={"semantic": {"field": OUTPUT_FIELD, "query": text}}, size=3)
    return [h["_id"] for h in found["hits"]["hits"]]


def test_row12_on_semantic_text_a_re_run_re_embeds_the_rewritten_documents_in_the_bulk_path(
    cluster, run_dag, monkeypatch
):
    """The same comparison, with that backend's answers: no pipeline, nothing the chain adds to
    `_source`, `exists` on the semantic_text field. That backend has no copy that pays no inference,
    so start_reindex, finding the destination filled, compares first and copies again by id only
    the stale documents, with a plain `_reindex` that embeds them in the bulk path."""
    es = cluster
    set_variables(monkeypatch, **FAST_POLLS, embedding_inference={"backend": "semantic_text"})
    dest = f"{SOURCE_INDEX}-semantic"
    first = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=dest)
    assert first.state == "success", first.task_states
    rewritten = sorted(snapshot(es))[:2]
    for doc_id in rewritten:
        es.update(index=SOURCE_INDEX, id=doc_id, doc={"content": f"rewritten {doc_id}: lava and magma"})
    es.indices.refresh(index=SOURCE_INDEX)
    assert not set(semantic_hits(es, dest, "lava and magma")) & set(rewritten)

    again = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=dest)

    assert again.state == "success", again.task_states
    assert alias_targets(es) == [dest]
    assert {d: body(doc) for d, doc in snapshot(es, dest).items()} == snapshot(es), "every document current"
    es.indices.refresh(index=dest)
    assert es.count(index=dest, query={"exists": {"field": OUTPUT_FIELD}})["count"] == DOCS
    assert sorted(semantic_hits(es, dest, "lava and magma")[:2]) == rewritten, "embedded from the new text"
    # start_reindex found the destination filled: it compared, and re-embedded only the two.
    reindexed = xcom(again.run_id, "wait_reindex", "reindex_result")
    assert (reindexed["total"], reindexed["updated"]) == (len(rewritten), len(rewritten)), reindexed
    assert xcom(again.run_id, "complete_index", "resume")["passes"] == 0


def test_row3_on_semantic_text_a_lost_reindex_is_completed_by_id(start_sandbox, monkeypatch, run_dag):
    slow = start_sandbox(inference_ms=25)
    es = Elasticsearch(slow.url)
    prepare_run(monkeypatch, es, slow.url, DOCS, embedding_inference={"backend": "semantic_text"})
    before = snapshot(es)
    dest = f"{SOURCE_INDEX}-restarted"
    seen: dict[str, int] = {}
    with node_restart_when(
        es, lambda: filled(es, dest), lambda: seen.update(present=es.count(index=dest)["count"])
    ):
        result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=dest)

    assert seen and 0 < seen["present"] < DOCS, seen
    assert result.state == "success", result.task_states
    assert xcom(result.run_id, "wait_reindex", "reindex_result")["lost"] is True
    assert alias_targets(es) == [dest]
    es.indices.refresh(index=dest)
    assert es.count(index=dest)["count"] == DOCS
    assert es.count(index=dest, query={"exists": {"field": OUTPUT_FIELD}})["count"] == DOCS
    assert {d: body(doc) for d, doc in snapshot(es, dest).items()} == before
    resume = xcom(result.run_id, "complete_index", "resume")
    assert resume["re_embedded"] >= DOCS - seen["present"], resume
    assert snapshot(es) == before
