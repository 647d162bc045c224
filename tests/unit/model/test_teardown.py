"""stop_deployment (StopDeploymentOperator): stopped only when asked, and only when no other run and
no pipeline of someone else uses the deployment; forced only over this package's own pipelines."""

from __future__ import annotations

from types import SimpleNamespace

from es_embedding.model import StopDeploymentOperator
from es_embedding.model.teardown import inference_users
from tests.unit.fakes import FakeEs, FakeHook, context, not_found, settings, with_hook

OURS = {"_meta": {"managed_by": "es_embedding"}, "processors": [{"inference": {"model_id": "dep"}}]}
THEIRS = {"processors": [{"foreach": {"processor": {"inference": {"model_id": "dep"}}}}]}


def test_pipelines_naming_the_deployment_at_any_depth_and_whose_they_are():
    other = {"processors": [{"inference": {"model_id": "another"}}], "on_failure": [{"set": {}}]}
    assert inference_users({"a": OURS, "b": THEIRS, "c": other}, "dep") == {"a": True, "b": False}


class Ti:
    """The task instance's count of active runs, as the Execution API answers it."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self.pushed: dict = {}

    def get_dr_count(self, dag_id: str, states: list[str]) -> int:
        assert states == ["queued", "running"]
        return self.counts.get(dag_id, 0)

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


def stop(client: FakeEs, stop_after_run: bool = True, runs: dict[str, int] | None = None) -> dict:
    operator = StopDeploymentOperator(
        task_id="stop_deployment",
        deployment_id="dep",
        settings=settings(embedding_deployment={"stop_after_run": stop_after_run}),
    )
    ctx = context(
        ti=Ti(runs or {"embedding_reindex": 1}), dag_run=SimpleNamespace(dag_id="embedding_reindex")
    )
    return with_hook(operator, FakeHook(client)).execute(ctx)


def test_left_running_unless_asked():
    client = FakeEs()
    assert stop(client, stop_after_run=False)["stopped"] is False
    assert dict(client.calls) == {}


def test_left_to_another_active_run():
    result = stop(FakeEs(), runs={"embedding_reindex": 2, "embedding_backfill": 1})
    assert result == {
        "stopped": False,
        "reason": "other runs still use it (1 of embedding_reindex, 1 of embedding_backfill)",
    }


def test_left_to_a_pipeline_of_someone_else():
    client = FakeEs(**{"ingest.get_pipeline": [{"ours": OURS, "theirs": THEIRS}]})
    assert stop(client)["reason"] == "ingest pipelines not created by es_embedding use it: theirs"
    assert "ml.stop_trained_model_deployment" not in client.calls


def test_stopped_forced_over_its_own_pipelines_only():
    client = FakeEs(
        **{"ingest.get_pipeline": [{"ours": OURS}], "ml.stop_trained_model_deployment": [{"stopped": True}]}
    )
    assert stop(client)["stopped"] is True
    assert client.calls["ml.stop_trained_model_deployment"] == [{"model_id": "dep", "force": True}]
    unused = FakeEs(**{"ingest.get_pipeline": [{}], "ml.stop_trained_model_deployment": [{"stopped": True}]})
    stop(unused)
    assert unused.calls["ml.stop_trained_model_deployment"] == [{"model_id": "dep", "force": False}]


def test_a_deployment_already_gone_is_left_as_it_is():
    gone = not_found("Could not find trained model deployment [dep]")
    client = FakeEs(**{"ingest.get_pipeline": [{}], "ml.stop_trained_model_deployment": [gone]})
    assert stop(client) == {"stopped": False, "reason": "it is not running"}
