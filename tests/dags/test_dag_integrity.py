"""The DAG parses cleanly, fast, without Variables or network, with a typed Params form and the
stages in order; triggers resolve by the path the triggerer uses."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import RetryAction

ROOT = Path(__file__).resolve().parents[2]
CHAIN = [
    "validate_settings",
    "ensure_model",
    "wait_model_download",
    "choose_backend",
    "start_deployment",
    "wait_deployment",
    "put_pipeline",
    "create_dest_index",
    "start_reindex",
    "wait_reindex",
    "complete_index",
    "verify_embeddings",
    "swap_alias",
    "run_report",
]
# After the swap: the alias's Asset event, retention, and the deployment's teardown (last).
TAIL = {"announce_ready", "apply_retention", "stop_deployment"}
# The semantic_text backend's stages, the branch's other way from choose_backend to create_dest_index.
ENDPOINT = ["ensure_endpoint", "wait_endpoint"]


def load(monkeypatch) -> tuple[DagBag, float]:
    """A fresh DagBag with Variable access and sockets made to fail, as parsing must need neither."""

    def forbidden(*args, **kwargs):
        raise AssertionError("parse-time access to Variables or the network")

    monkeypatch.setattr("airflow.sdk.Variable.get", forbidden)
    monkeypatch.setattr(socket.socket, "connect", forbidden)
    started = time.monotonic()
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    return bag, time.monotonic() - started


@pytest.fixture
def dag(monkeypatch):
    bag, _ = load(monkeypatch)
    assert bag.import_errors == {}
    return bag.dags["embedding_reindex"]


def test_parses_without_errors_fast_and_offline(monkeypatch):
    bag, seconds = load(monkeypatch)
    assert bag.import_errors == {}
    assert "embedding_reindex" in bag.dags
    assert seconds < 5


def test_stages_in_order(dag):
    order, task = [], dag.get_task(CHAIN[0])
    while task is not None:
        order.append(task.task_id)
        downstream = sorted((t for t in task.downstream_task_ids if t in CHAIN), key=CHAIN.index)
        task = dag.get_task(downstream[0]) if downstream else None
    assert order == CHAIN
    assert set(dag.task_ids) == set(CHAIN) | TAIL | set(ENDPOINT)
    assert dag.get_task("choose_backend").downstream_task_ids == {
        "start_deployment",
        "ensure_endpoint",
        "stop_deployment",
    }
    assert dag.get_task("ensure_endpoint").downstream_task_ids == {"wait_endpoint"}
    assert dag.get_task("create_dest_index").upstream_task_ids >= {"put_pipeline", "wait_endpoint"}
    assert dag.get_task("create_dest_index").trigger_rule == "none_failed_min_one_success"
    assert dag.get_task("announce_ready").upstream_task_ids >= {"swap_alias"}
    assert dag.get_task("apply_retention").upstream_task_ids >= {"swap_alias"}
    stop = dag.get_task("stop_deployment")
    assert stop.is_teardown and stop.upstream_task_ids >= {"run_report", "choose_backend"}


def test_run_report_runs_after_failures_without_deciding_the_outcome(dag):
    report = dag.get_task("run_report")
    # A teardown: it runs once everything upstream is done (failed included), and the run's state
    # stays that of the stages (a successful report does not turn a failed run green).
    assert report.is_teardown and not report.on_failure_fail_dagrun
    assert report.trigger_rule == "all_done_setup_success"
    assert "swap_alias" in report.upstream_task_ids


def test_params_form(dag):
    schema = {name: param.schema for name, param in dag.params.items()}
    assert schema["source_index"]["type"] == "string" and schema["source_index"]["minLength"] == 1
    assert schema["dest_index"]["type"] == ["null", "string"]
    assert schema["alias"]["type"] == ["null", "string"]
    assert schema["query"]["type"] == "object" and dag.params["query"] == {"match_all": {}}
    assert schema["mode"]["enum"] == ["auto", "full", "incremental"] and dag.params["mode"] == "auto"


def test_catchup_tags_and_docs(dag):
    assert dag.catchup is False
    assert {"elasticsearch", "embeddings"} <= set(dag.tags)
    assert dag.doc_md and "embedding_deployment" in dag.doc_md


def test_without_a_source_index_runs_only_when_triggered_and_the_form_asks_for_the_source(monkeypatch):
    monkeypatch.delenv("EMBEDDING_REINDEX_SOURCE_INDEX", raising=False)
    monkeypatch.delenv("EMBEDDING_REINDEX_SCHEDULE", raising=False)
    bag, _ = load(monkeypatch)
    dag = bag.dags["embedding_reindex"]
    assert dag.schedule is None
    assert not dag.params.get_param("source_index").has_value  # required: no guessed index


def test_a_source_index_turns_on_the_nightly_schedule_which_the_environment_overrides(monkeypatch):
    monkeypatch.setenv("EMBEDDING_REINDEX_SOURCE_INDEX", "articles")
    monkeypatch.delenv("EMBEDDING_REINDEX_SCHEDULE", raising=False)
    bag, _ = load(monkeypatch)
    dag = bag.dags["embedding_reindex"]
    assert dag.timetable.expression == "0 2 * * *" and dag.params["source_index"] == "articles"
    monkeypatch.setenv("EMBEDDING_REINDEX_SCHEDULE", "30 4 * * 1")
    bag, _ = load(monkeypatch)
    assert bag.dags["embedding_reindex"].timetable.expression == "30 4 * * 1"
    monkeypatch.setenv("EMBEDDING_REINDEX_SCHEDULE", "none")
    bag, _ = load(monkeypatch)
    assert bag.dags["embedding_reindex"].schedule is None


def test_a_schedule_without_a_source_index_is_an_import_error_naming_both(monkeypatch):
    monkeypatch.delenv("EMBEDDING_REINDEX_SOURCE_INDEX", raising=False)
    monkeypatch.setenv("EMBEDDING_REINDEX_SCHEDULE", "0 3 * * *")
    bag, _ = load(monkeypatch)
    [error] = [e for path, e in bag.import_errors.items() if path.endswith("embedding_reindex.py")]
    assert "EMBEDDING_REINDEX_SCHEDULE is '0 3 * * *'" in error
    assert "EMBEDDING_REINDEX_SOURCE_INDEX is not set" in error


def test_retries_only_transient_errors_with_backoff(dag):
    from es_embedding.errors import SettingsError, TransientClusterError

    for task in dag.tasks:
        assert task.retries >= 2 and task.retry_exponential_backoff and task.max_retry_delay
        assert task.retry_policy.evaluate(TransientClusterError("503"), 1, 3).action is RetryAction.RETRY
        assert task.retry_policy.evaluate(SettingsError("bad"), 1, 3).action is RetryAction.FAIL


def test_waits_are_deferrable_and_their_triggers_importable_by_path(dag):
    from airflow.sdk.module_loading import import_string

    from es_embedding.triggers import (
        DeploymentStateTrigger,
        EndpointAllocationTrigger,
        ModelDownloadTrigger,
        ReindexTaskTrigger,
    )

    sensors = [task for task in dag.tasks if task.task_id.startswith("wait_")]
    assert len(sensors) == 4 and all(sensor.deferrable for sensor in sensors)
    for trigger in (
        ReindexTaskTrigger(es_task_id="n:1"),
        DeploymentStateTrigger("d"),
        ModelDownloadTrigger("m"),
        EndpointAllocationTrigger("e", "e", "sparse_embedding"),
    ):
        classpath, kwargs = trigger.serialize()
        assert classpath.startswith("es_embedding.triggers.")
        assert import_string(classpath)(**kwargs).serialize() == (classpath, kwargs)
