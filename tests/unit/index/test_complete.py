"""complete_index (CompleteIndexOperator): one decision per pass (copy what is missing, embed what
lacks an embedding, or stop), the passes' memory across retries, and the embed batch arithmetic."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import TaskDeferred

from es_embedding.index import CompleteIndexOperator
from es_embedding.index.complete import HISTORY_KEY, PASS_KEY, TASK_KEY, embed_batch_size, next_batch_size
from es_embedding.triggers import ReindexTaskTrigger
from tests.unit.fakes import FakeEs, FakeHook, FakeStore, context, settings, with_hook
from tests.unit.index.test_start import NO_TASKS, deployment_stats


def counts(expected: int, present: int, missing: int) -> dict:
    """`count` answers in the order complete_index asks: source query, destination, lacking the field."""
    return {"count": [{"count": expected}, {"count": present}, {"count": missing}]}


def complete(client: FakeEs, **reindex: object) -> CompleteIndexOperator:
    operator = CompleteIndexOperator(
        task_id="complete_index",
        source_index="src",
        dest_index="dst",
        deployment_id="dep",
        pipeline_id="pipe",
        settings=settings(embedding_reindex={"poll_interval": "2s", **reindex}),
    )
    return with_hook(operator, FakeHook(client))


def test_a_complete_destination_ends_at_once_with_its_summary():
    client = FakeEs(**{"indices.refresh": [{}]}, **counts(40, 40, 0))
    ctx = context()
    summary = complete(client).execute(ctx)["resume"]
    assert summary == {
        "passes": 0,
        "copied": 0,
        "embedded": 0,
        "lost_tasks": 0,
        "expected": 40,
        "present": 40,
        "still_missing": 0,
    }
    assert "reindex" not in client.calls and "update_by_query" not in client.calls


def test_missing_documents_are_copied_first_without_the_pipeline():
    client = FakeEs(
        **{"indices.refresh": [{}], "tasks.list": [NO_TASKS], "reindex": [{"task": "n1:3"}]},
        **counts(40, 30, 0),
    )
    ctx = context()
    with pytest.raises(TaskDeferred) as deferred:
        complete(client).execute(ctx)
    assert client.calls["reindex"][0]["dest"] == {"index": "dst", "op_type": "create"}
    trigger = deferred.value.trigger
    assert (
        isinstance(trigger, ReindexTaskTrigger)
        and trigger.es_task_id == "n1:3"
        and trigger.poll_interval == 2
    )
    assert ctx["task_state_store"].values[TASK_KEY] == "n1:3"
    assert ctx["task_state_store"].values[PASS_KEY] == {"kind": "copy", "number": 1}


def test_documents_lacking_their_embedding_are_embedded_in_batches_the_queues_hold():
    client = FakeEs(
        **{
            "indices.refresh": [{}],
            "tasks.list": [NO_TASKS],
            "ml.get_trained_models_stats": [deployment_stats(allocations=2, queue_capacity=50)],
            "update_by_query": [{"task": "n1:4"}],
        },
        **counts(40, 40, 12),
    )
    with pytest.raises(TaskDeferred):
        complete(client).execute(context())
    [sent] = client.calls["update_by_query"]
    assert (
        sent["pipeline"] == "pipe" and sent["conflicts"] == "proceed" and sent["wait_for_completion"] is False
    )
    assert sent["query"] == {"bool": {"must_not": [{"exists": {"field": "content_embedding"}}]}}
    assert sent["scroll_size"] == 41  # 0.8 x (50 + 2)


def test_a_finished_pass_is_recorded_and_the_next_decision_taken():
    store = FakeStore(**{TASK_KEY: "n1:4", PASS_KEY: {"kind": "embed", "number": 1, "batch_size": 41}})
    client = FakeEs(
        **{"indices.refresh": [{}]}, **{"count": [{"count": 0}, {"count": 40}, {"count": 40}, {"count": 0}]}
    )
    event = {
        "status": "success",
        "es_task_id": "n1:4",
        "result": {"updated": 12, "created": 0, "canceled": None},
    }
    summary = complete(client).execute_complete(context(task_state_store=store), event)["resume"]
    assert store.values[HISTORY_KEY] == [
        {
            "kind": "embed",
            "number": 1,
            "batch_size": 41,
            "created": 0,
            "updated": 12,
            "version_conflicts": None,
            "lost": None,
            "failed_docs": 0,
        }
    ]
    assert summary["embedded"] == 12 and summary["still_missing"] == 0
    assert TASK_KEY not in store.values


def test_a_retry_re_attaches_to_the_running_pass_instead_of_starting_another():
    store = FakeStore(**{TASK_KEY: "n1:4", PASS_KEY: {"kind": "embed", "number": 1}})
    client = FakeEs(**{"tasks.get": [{"completed": False, "task": {}}]})
    with pytest.raises(TaskDeferred) as deferred:
        complete(client).execute(context(task_state_store=store))
    assert deferred.value.trigger.es_task_id == "n1:4"
    assert "reindex" not in client.calls and "update_by_query" not in client.calls


def test_passes_exhausted_leave_the_rest_to_verification():
    history = [{"kind": "embed", "number": n, "batch_size": 10, "failed_docs": 2} for n in (1, 2)]
    client = FakeEs(**{"indices.refresh": [{}]}, **counts(40, 40, 2))
    summary = complete(client, max_embed_passes=2).execute(
        context(task_state_store=FakeStore(**{HISTORY_KEY: history}))
    )
    assert summary["resume"]["still_missing"] == 2 and summary["resume"]["passes"] == 2


def test_a_cancelled_pass_fails():
    from es_embedding.errors import ReindexFailedError

    event = {"status": "success", "es_task_id": "n1:4", "result": {"canceled": "by user request"}}
    with pytest.raises(ReindexFailedError, match=r"^ES task n1:4 was cancelled: by user request$"):
        complete(FakeEs()).execute_complete(context(), event)


def test_embed_batches():
    assert embed_batch_size("auto", allocations=2, queue_capacity=50) == 41
    assert embed_batch_size(20, allocations=2, queue_capacity=10_000) == 20
    assert next_batch_size(None, planned=41, failed_before=False) == 41
    assert next_batch_size(41, planned=41, failed_before=True) == 20  # after a pass whose documents failed
    assert next_batch_size(1, planned=41, failed_before=True) == 1
