"""The fan-out's pooled reindex (PooledReindexOperator): the same starter as start_reindex, sized
for its share, then the same deferred wait, in one task instance."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import TaskDeferred

from es_embedding.index import PooledReindexOperator
from es_embedding.index.start import ReindexStarter
from es_embedding.triggers import ReindexTaskTrigger
from tests.unit.fakes import FakeAsyncEs, FakeHook, context, settings, with_hook
from tests.unit.index.test_start import deployment_stats, fresh_cluster


def pooled(hook: FakeHook, share: int = 2) -> PooledReindexOperator:
    operator = PooledReindexOperator(
        task_id="reindex",
        source_index="src",
        dest_index="dst",
        deployment_id="dep",
        pipeline_id="pipe",
        share=share,
        deferrable=True,
        settings=settings(),
    )
    return with_hook(operator, hook)


def test_it_starts_then_defers_on_the_task_it_started_holding_its_slot():
    running = {
        "completed": False,
        "task": {"status": {"total": 10, "created": 1}, "running_time_in_nanos": 10**9},
    }
    client = fresh_cluster(**{"ml.get_trained_models_stats": [deployment_stats(queue_capacity=1000)]})
    hook = FakeHook(client, aclient=FakeAsyncEs(**{"tasks.get": [running]}))
    ctx = context()
    with pytest.raises(TaskDeferred) as deferred:
        pooled(hook).execute(ctx)
    trigger = deferred.value.trigger
    assert isinstance(trigger, ReindexTaskTrigger) and trigger.es_task_id == "n1:77"
    assert ctx["ti"].pushed["es_task_id"] == "n1:77"
    assert ctx["task_state_store"].values[ReindexStarter.STORE_KEY] == "n1:77"
    [sent] = client.calls["reindex"]
    # Sized for half the queues: 0.8 x (500 + 2) in flight at most.
    assert sent["slices"] * sent["source"]["size"] <= int(0.8 * 502)


def test_a_resumed_instance_learns_its_task_from_the_event():
    operator = pooled(FakeHook())
    result = {
        "total": 10,
        "created": 10,
        "canceled": None,
        "failures": {"count": 0, "by_kind": {}, "samples": []},
    }
    ctx = context()
    operator.execute_complete(ctx, {"status": "success", "es_task_id": "n1:77", "result": result})
    assert operator.es_task_id == "n1:77" and ctx["ti"].pushed["reindex_result"]["created"] == 10
