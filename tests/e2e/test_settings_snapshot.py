"""A run reads its Variables once: validate_settings pushes the validated settings as the run's
snapshot, and every later task uses that snapshot. End to end, dag.test() on the real metadata DB
against the sandbox over HTTP: the Variables are edited (Airflow reads them from the environment,
as in production) the moment validate_settings has ended, before any other task starts."""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import (
    ALIAS,
    ROOT,
    SOURCE_INDEX,
    prepare_run,
    xcom,
)

VARIABLES = json.loads((ROOT / "include" / "variables.json").read_text())
DOCS = 20
# What a task that read the Variables after validate_settings would meet: two valid edits that would
# silently change the run (another pipeline and output field, another deployment), and two values
# that would fail any task reading them.
EDITED = {
    "AIRFLOW_VAR_EMBEDDING_PIPELINE": json.dumps(
        {"pipeline_id": "edited-pipeline", "output_field": "edited_embedding"}
    ),
    "AIRFLOW_VAR_EMBEDDING_DEPLOYMENT": json.dumps({"deployment_id": "edited-deployment"}),
    "AIRFLOW_VAR_EMBEDDING_REINDEX": "{not json",
    "AIRFLOW_VAR_EMBEDDING_MODEL": json.dumps({"timeout": -1}),
}


@pytest.fixture
def cluster(es, sandbox, monkeypatch):
    prepare_run(monkeypatch, es, sandbox.url, DOCS)
    return es


@pytest.fixture
def edit_variables_after_validate_settings(monkeypatch) -> list[str]:
    """Edits the Variables as soon as validate_settings ends; returns the tasks that ran after that.
    Only the hand-over between tasks is hooked (dag.test()'s in-process supervisor): the tasks run
    as they are."""
    from airflow.sdk.execution_time import supervisor

    later: list[str] = []
    real = supervisor.run_task_in_process

    def run_then_edit(ti, task, client=None):
        if ti.task_id != "validate_settings":
            later.append(ti.task_id)
        result = real(ti=ti, task=task, client=client)
        if ti.task_id == "validate_settings":
            for name, value in EDITED.items():
                monkeypatch.setenv(name, value)
        return result

    monkeypatch.setattr(supervisor, "run_task_in_process", run_then_edit)
    return later


def test_a_variable_edited_during_a_run_changes_nothing_in_that_run(
    cluster, run_dag, edit_variables_after_validate_settings
):
    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "success", result.task_states
    # The other backend's stages were skipped by choose_backend; every other task succeeded.
    skipped = {"ensure_endpoint", "wait_endpoint"}
    assert {t: s for t, s in result.task_states.items() if s != "success"} == dict.fromkeys(
        skipped, "skipped"
    )
    # Every other task ran after the edit.
    assert (
        set(edit_variables_after_validate_settings)
        == set(result.task_states) - {"validate_settings"} - skipped
    )

    # The run used the settings validate_settings took: the shipped pipeline, field and deployment.
    pipeline, deployment = VARIABLES["embedding_pipeline"], VARIABLES["embedding_deployment"]
    [dest] = cluster.indices.get_alias(name=ALIAS)
    properties = cluster.indices.get_mapping(index=dest)[dest]["mappings"]["properties"]
    assert pipeline["output_field"] in properties and "edited_embedding" not in properties
    cluster.indices.refresh(index=dest)
    assert cluster.count(index=dest, query={"exists": {"field": pipeline["output_field"]}})["count"] == DOCS
    assert set(cluster.ingest.get_pipeline()) == {pipeline["pipeline_id"]}
    stats = cluster.ml.get_trained_models_stats()["trained_model_stats"]
    deployments = {s["deployment_stats"]["deployment_id"] for s in stats if s.get("deployment_stats")}
    assert deployments == {deployment["deployment_id"]}

    # The snapshot, and the run report showing the settings the run used.
    snapshot = xcom(result.run_id, "validate_settings", "settings")
    assert snapshot["embedding_pipeline"] == pipeline
    assert snapshot["embedding_reindex"] == {**VARIABLES["embedding_reindex"], "poll_interval": "100ms"}
    report = xcom(result.run_id, "run_report")
    assert report["settings"] == snapshot
    assert not any(line.startswith("settings") for line in report["unavailable"])
