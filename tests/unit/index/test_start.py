"""start_reindex and its starter (es_embedding.index.start): a reindex is started once, sized to the
deployment's queues; a retry, a running twin or a half-filled destination never starts a second
one through the pipeline."""

from __future__ import annotations

import pytest

from es_embedding.base import TaskMemory
from es_embedding.errors import DeploymentFailedError, TransientClusterError
from es_embedding.index import ReindexStarter, StartReindexOperator
from es_embedding.index.backend import IngestPipelineBackend
from es_embedding.settings import ReindexSettings
from tests.unit.fakes import FakeEs, FakeHook, FakeStore, api_error, context, not_found, settings, with_hook

KEY = ReindexStarter.STORE_KEY
NO_TASKS = {"nodes": {}}


def deployment_stats(allocations: int = 2, queue_capacity: int = 100) -> dict:
    route = {
        "node": {"n1": {}},
        "routing_state": {"routing_state": "started"},
        "number_of_allocations": allocations,
    }
    stats = {
        "deployment_id": "dep",
        "queue_capacity": queue_capacity,
        "threads_per_allocation": 1,
        "nodes": [route],
    }
    return {"trained_model_stats": [{"model_id": "m", "deployment_stats": stats}]}


def fresh_cluster(**scripts) -> FakeEs:
    return FakeEs(
        **{
            "tasks.list": [NO_TASKS],
            "count": [{"count": 0}],
            "ml.get_trained_models_stats": [deployment_stats()],
            "indices.get_settings": [{"src": {"settings": {"index": {"number_of_shards": "1"}}}}],
            "reindex": [{"task": "n1:77"}],
            "tasks.get": [{"completed": False, "task": {"description": "reindex from [src] to [dst]"}}],
            # The source stamp start_reindex records before a first copy (es_embedding.index.stamp).
            "cluster.state": [{"metadata": {"indices": {"src": {"primary_terms": {"0": 1}}}}}],
            "indices.stats": [{"indices": {}}],
            "indices.refresh": [{"_shards": {"total": 1, "successful": 1, "failed": 0}}],
            **scripts,
        }
    )


def operator(client: FakeEs, mode: str = "full", **reindex: object) -> tuple[StartReindexOperator, FakeHook]:
    hook = FakeHook(client)
    start = StartReindexOperator(
        task_id="start_reindex",
        source_index="src",
        dest_index="dst",
        deployment_id="dep",
        pipeline_id="pipe",
        query={"match": {"topic": "ml"}},
        mode=mode,
        settings=settings(embedding_reindex=reindex),
    )
    return with_hook(start, hook), hook


def test_a_fresh_reindex_goes_through_the_pipeline_sized_to_the_queues_and_is_remembered_at_once():
    client = fresh_cluster()
    start, hook = operator(client)
    ctx = context()
    result = start.execute(ctx)
    [sent] = client.calls["reindex"]
    assert sent["dest"] == {"index": "dst", "pipeline": "pipe"}
    assert sent["source"]["index"] == "src" and sent["source"]["query"] == {"match": {"topic": "ml"}}
    assert sent["wait_for_completion"] is False and sent["conflicts"] == "abort"
    assert sent["slices"] == 2  # auto: one per shard, at least two
    # One round of batches (slices x size) fits the queues: 0.8 x (100 + 2) = 81 in flight at most.
    assert sent["slices"] * sent["source"]["size"] <= 81
    assert result == {"es_task_id": "n1:77", "batch_size": sent["source"]["size"], "slices": 2}
    assert ctx["task_state_store"].values[KEY] == "n1:77"
    assert hook.sent_once == ["once"]  # a request that starts work is never resent by the client


def test_a_reindex_lost_right_after_its_start_is_handed_on_not_failed():
    # A node restart between the start and the first read: the task is gone, and wait_reindex
    # (which sees it lost) and complete_index take it from there.
    client = fresh_cluster(
        **{"tasks.get": [not_found("task [n1:77] isn't running and hasn't stored its results")]}
    )
    start, _ = operator(client)
    ctx = context()
    assert start.execute(ctx)["es_task_id"] == "n1:77"
    assert ctx["task_state_store"].values[KEY] == "n1:77"
    assert len(client.calls["reindex"]) == 1


def test_a_retry_follows_the_task_its_earlier_try_started():
    client = FakeEs(**{"tasks.get": [{"completed": True, "task": {}}]})
    start, _ = operator(client)
    ctx = context(task_state_store=FakeStore(**{KEY: "n1:5"}))
    assert start.execute(ctx) == {"es_task_id": "n1:5"}
    assert "reindex" not in client.calls


def test_a_retry_whose_task_was_lost_starts_again():
    client = fresh_cluster(
        **{"tasks.get": [not_found("task [n1:5] isn't running and hasn't stored its results"), {}]}
    )
    start, _ = operator(client)
    ctx = context(task_state_store=FakeStore(**{KEY: "n1:5"}))
    assert start.execute(ctx)["es_task_id"] == "n1:77"


def test_a_running_reindex_of_the_same_source_and_destination_is_followed():
    running = {
        "nodes": {
            "n1": {
                "tasks": {
                    "n1:9": {
                        "description": "reindex from [src] to [dst]",
                        "action": "indices:data/write/reindex",
                    }
                }
            }
        }
    }
    client = FakeEs(**{"tasks.list": [running]})
    start, _ = operator(client)
    ctx = context()
    assert start.execute(ctx) == {"es_task_id": "n1:9"}
    assert ctx["task_state_store"].values[KEY] == "n1:9"


def test_a_destination_holding_documents_gets_only_the_missing_ones_without_inference():
    client = FakeEs(**{"tasks.list": [NO_TASKS], "count": [{"count": 40}], "reindex": [{"task": "n1:8"}]})
    start, _ = operator(client, max_docs=100)
    assert start.execute(context()) == {"es_task_id": "n1:8"}
    assert client.calls["reindex"] == [
        {
            "source": {"index": "src", "query": {"match": {"topic": "ml"}}},
            "dest": {"index": "dst", "op_type": "create"},
            "wait_for_completion": False,
            "slices": "auto",
            "requests_per_second": -1,
            "conflicts": "proceed",
            "max_docs": 100,
        }
    ]


def test_an_incremental_run_overwrites_its_interval_through_the_pipeline():
    client = fresh_cluster(**{"count": [{"count": 5000}]})
    start, _ = operator(client, mode="incremental")
    start.execute(context())
    assert client.calls["reindex"][0]["dest"] == {"index": "dst", "pipeline": "pipe"}


def test_no_running_deployment_is_refused_before_any_write():
    client = FakeEs(
        **{
            "tasks.list": [NO_TASKS],
            "count": [{"count": 0}],
            "ml.get_trained_models_stats": [{"trained_model_stats": []}],
        }
    )
    start, _ = operator(client)
    with pytest.raises(
        DeploymentFailedError, match=r"^deployment \[dep\] is not running; the reindex would fail$"
    ):
        start.execute(context())


def test_a_lost_answer_to_the_start_fails_the_try_and_its_retry_finds_the_task():
    timeout = api_error(504, "gateway_timeout", "upstream timed out")
    client = fresh_cluster(**{"reindex": [timeout]})
    start, _ = operator(client)
    with pytest.raises(TransientClusterError, match=r"^starting reindex \[src\] -> \[dst\] failed: HTTP 504"):
        start.execute(context())


def test_a_shared_start_sizes_for_its_share_of_the_queues():
    client = fresh_cluster(
        **{"ml.get_trained_models_stats": [deployment_stats(allocations=2, queue_capacity=1000)]}
    )
    stage = with_hook(
        StartReindexOperator(
            task_id="t", source_index="src", dest_index="dst", deployment_id="dep", pipeline_id="p"
        ),
        FakeHook(client),
    )
    starter = ReindexStarter(
        stage=stage,
        source_index="src",
        dest_index="dst",
        query=None,
        deployment_id="dep",
        backend=IngestPipelineBackend("p", "content_embedding", "embedding_failure"),
        settings=ReindexSettings(),
        share=4,
    )
    assert starter.queues().queue_capacity == 250
    started = starter.start(TaskMemory(context()))
    assert started.slices * started.batch_size <= int(0.8 * (250 + 2))


def test_before_a_first_copy_the_source_stamp_is_taken_then_the_source_refreshed_then_the_copy_started():
    order: list[str] = []

    def answer(name: str, value: dict):
        return lambda **kwargs: order.append(name) or value

    client = fresh_cluster(
        **{
            "cluster.state": [
                answer("terms", {"metadata": {"indices": {"src": {"primary_terms": {"0": 1}}}}})
            ],
            "indices.stats": [answer("stats", {"indices": {}})],
            "indices.refresh": [answer("refresh", {"_shards": {"total": 1, "successful": 1, "failed": 0}})],
            "reindex": [answer("reindex", {"task": "n1:77"})],
        }
    )
    start, _ = operator(client)
    ctx = context()
    start.execute(ctx)
    assert order == ["terms", "stats", "stats", "refresh", "reindex"]
    pushed = ctx["ti"].pushed["source_stamp"]
    assert set(pushed) == {"source", "dest", "dest_pipelines", "taken"}
    assert ctx["task_state_store"].values[ReindexStarter.STAMP_KEY] == pushed, "kept for a retry that follows"


def test_a_destination_holding_documents_gets_no_stamp():
    client = FakeEs(**{"tasks.list": [NO_TASKS], "count": [{"count": 40}], "reindex": [{"task": "n1:8"}]})
    start, _ = operator(client)
    ctx = context(task_state_store=FakeStore(**{ReindexStarter.STAMP_KEY: {"source": {}}}))
    start.execute(ctx)
    assert ctx["ti"].pushed["source_stamp"] == {}
    assert ReindexStarter.STAMP_KEY not in ctx["task_state_store"].values, "an earlier try's stamp is dropped"
    assert "indices.stats" not in client.calls and "indices.refresh" not in client.calls
