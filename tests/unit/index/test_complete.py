"""complete_index (CompleteIndexOperator): one decision per pass (copy what is missing, embed what
lacks an embedding, compare and re-embed what is stale or missing, remove what left the scope, or
stop with the comparison as proof), all within the run's scope; the passes' memory across retries;
the wait for a deployment being allocated; the batch arithmetic."""

from __future__ import annotations

import copy

import pytest
from airflow.sdk.exceptions import TaskDeferred

from es_embedding.errors import DeploymentFailedError, ReindexFailedError
from es_embedding.index import CompleteIndexOperator
from es_embedding.index.complete import HISTORY_KEY, PASS_KEY, TASK_KEY, next_batch_size
from es_embedding.index.currency import ID_LIMIT, Comparison, re_embed_plan
from es_embedding.index.start import embed_batch_size
from es_embedding.triggers import DeploymentStateTrigger, ReindexTaskTrigger
from tests.unit.fakes import FakeEs, FakeHook, FakeStore, context, settings, with_hook
from tests.unit.index.test_stamp import DEST_STATS, STATS, stamp
from tests.unit.index.test_start import NO_TASKS, deployment_stats

INTERVAL = {"range": {"published": {"gte": "2026-03-04T02:00:00+00:00", "lt": "2026-03-05T02:00:00+00:00"}}}
EMBEDDED = {
    "bool": {
        "filter": [{"exists": {"field": "content_embedding"}}],
        "must_not": [{"exists": {"field": "embedding_failure"}}],
    }
}
UNEMBEDDED = {"bool": {"must_not": [EMBEDDED]}}
ADDED = ["content_embedding", "embedding_failure", "model_id", "is_truncated"]


def counts(expected: int, present: int, unembedded: int) -> list[dict]:
    """`count` answers in the order complete_index asks: source scope, destination scope, without embedding."""
    return [{"count": expected}, {"count": present}, {"count": unembedded}]


def doc(doc_id: str, text: str = "same") -> dict:
    return {"_id": doc_id, "_source": {"content": text}, "sort": [doc_id]}


def compared(source: list[dict], dest: list[dict]) -> dict:
    """The scripted reads of one comparison: a point in time, one page of `source`, the copies."""
    return {
        "open_point_in_time": [{"id": "pit-1"}],
        "search": [{"pit_id": "pit-1", "hits": {"hits": source}}, {"pit_id": "pit-1", "hits": {"hits": []}}],
        "mget": [{"docs": dest}],
        "close_point_in_time": [{"succeeded": True}],
    }


def found(doc_id: str, text: str = "same") -> dict:
    return {"_id": doc_id, "found": True, "_source": {"content": text}}


def complete(client: FakeEs, dest_query: dict | None = None, **reindex: object) -> CompleteIndexOperator:
    operator = CompleteIndexOperator(
        task_id="complete_index",
        source_index="src",
        dest_index="dst",
        deployment_id="dep",
        pipeline_id="pipe",
        dest_query=dest_query,
        settings=settings(embedding_reindex={"poll_interval": "2s", **reindex}),
    )
    return with_hook(operator, FakeHook(client))


def test_a_complete_and_current_destination_ends_with_the_comparison_as_proof():
    client = FakeEs(
        **{"indices.refresh": [{}], "count": counts(2, 2, 0)},
        **compared([doc("a"), doc("b")], [found("a"), found("b")]),
    )
    summary = complete(client).execute(context())["resume"]
    currency = summary.pop("currency")
    assert summary == {
        "passes": 0,
        "copied": 0,
        "embedded": 0,
        "re_embedded": 0,
        "removed": 0,
        "lost_tasks": 0,
        "expected": 2,
        "present": 2,
        "still_missing": 0,
    }
    assert {k: currency[k] for k in ("compared", "current", "missing", "stale", "present", "dest_index")} == {
        "compared": 2,
        "current": 2,
        "missing": 0,
        "stale": 0,
        "present": 2,
        "dest_index": "dst",
    }
    assert "reindex" not in client.calls and "update_by_query" not in client.calls
    # The chain's own fields are left out of the comparison on both sides, by Elasticsearch.
    [first_page, _] = client.calls["search"]
    assert first_page["source"] == {"excludes": ADDED} and first_page["sort"] == ["_shard_doc"]
    assert first_page["pit"] == {"id": "pit-1", "keep_alive": "2m"}
    assert client.calls["mget"][0] == {
        "index": "dst",
        "docs": [{"_id": "a"}, {"_id": "b"}],
        "source_excludes": ADDED,
    }
    assert client.calls["close_point_in_time"] == [{"id": "pit-1"}]


def stamped(client: FakeEs, top: int) -> CompleteIndexOperator:
    """complete_index with start_reindex's stamp of `src` at max_seq_no 99 (es_embedding.index.stamp),
    the source now at `top`."""
    operator = complete(client)
    operator.source_stamp = stamp()
    now = copy.deepcopy(STATS)
    now["indices"]["src"]["shards"]["0"][1]["seq_no"]["max_seq_no"] = top
    client.scripts["cluster.state"] = [{"metadata": {"indices": {"src": {"primary_terms": {"0": 1}}}}}]
    client.scripts["indices.stats"] = [now, DEST_STATS]
    return operator


def test_an_unchanged_source_since_start_reindex_s_stamp_ends_without_reading_the_documents():
    client = FakeEs(**{"indices.refresh": [{}], "count": counts(2, 2, 0)})
    summary = stamped(client, top=99).execute(context())["resume"]
    currency = summary["currency"]
    assert {k: currency[k] for k in ("proof", "compared", "current", "missing", "stale", "source_count")} == {
        "proof": "unchanged_source",
        "compared": 0,
        "current": 2,
        "missing": 0,
        "stale": 0,
        "source_count": 2,
    }
    assert currency["reason"].startswith("the source is unchanged since before the copy")
    assert (currency["dest_index"], currency["present"], summary["passes"]) == ("dst", 2, 0)
    assert "open_point_in_time" not in client.calls and "mget" not in client.calls
    assert [c["index"] for c in client.calls["indices.stats"]] == ["src", "dst"]


def test_a_source_written_since_the_stamp_is_compared_and_why_is_recorded():
    client = FakeEs(
        **{"indices.refresh": [{}], "count": counts(2, 2, 0)},
        **compared([doc("a"), doc("b")], [found("a"), found("b")]),
    )
    currency = stamped(client, top=100).execute(context())["resume"]["currency"]
    assert (currency["proof"], currency["compared"], currency["stale"]) == ("comparison", 2, 0)
    assert currency["why_compared"] == "[src][0] was written since (max_seq_no 99 -> 100)"


def test_without_a_stamp_nothing_more_is_read_and_the_comparison_says_why():
    client = FakeEs(
        **{"indices.refresh": [{}], "count": counts(2, 2, 0)},
        **compared([doc("a"), doc("b")], [found("a"), found("b")]),
    )
    operator = complete(client)
    operator.source_stamp = {}  # start_reindex's push when the destination held documents
    currency = operator.execute(context())["resume"]["currency"]
    assert currency["why_compared"].startswith("no source stamp was recorded before the copy")
    assert "indices.stats" not in client.calls and "cluster.state" not in client.calls


def test_an_incremental_run_counts_compares_and_copies_within_its_interval_only():
    scope = {"bool": {"filter": [{"match_all": {}}, INTERVAL]}}
    client = FakeEs(
        **{
            "indices.refresh": [{}],
            "count": counts(44, 30, 0),
            "tasks.list": [NO_TASKS],
            "reindex": [{"task": "n1:3"}],
        }
    )
    operator = complete(client, dest_query=scope)
    operator.query = scope
    with pytest.raises(TaskDeferred):
        operator.execute(context())
    source_count, dest_count, unembedded = client.calls["count"]
    assert source_count == {"index": "src", "query": scope}
    assert dest_count == {"index": "dst", "query": scope}, "not the whole destination"
    assert unembedded == {"index": "dst", "query": {"bool": {"filter": [scope, UNEMBEDDED]}}}
    [copy] = client.calls["reindex"]
    assert copy["source"]["query"] == scope and copy["dest"] == {"index": "dst", "op_type": "create"}


def test_missing_documents_are_copied_first_without_the_pipeline():
    client = FakeEs(
        **{
            "indices.refresh": [{}],
            "count": counts(40, 30, 0),
            "tasks.list": [NO_TASKS],
            "reindex": [{"task": "n1:3"}],
        }
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


def test_documents_without_embedding_are_embedded_in_batches_the_queues_hold():
    client = FakeEs(
        **{
            "indices.refresh": [{}],
            "count": counts(40, 40, 12),
            "tasks.list": [NO_TASKS],
            "ml.get_trained_models_stats": [deployment_stats(allocations=2, queue_capacity=50)],
            "update_by_query": [{"task": "n1:4"}],
        }
    )
    with pytest.raises(TaskDeferred):
        complete(client).execute(context())
    [sent] = client.calls["update_by_query"]
    assert (
        sent["pipeline"] == "pipe" and sent["conflicts"] == "proceed" and sent["wait_for_completion"] is False
    )
    # Without the output field, or with a failure record (a failed re-embedding keeps the old output).
    assert sent["query"] == UNEMBEDDED
    assert sent["scroll_size"] == 41  # 0.8 x (50 + 2)


def test_stale_and_missing_documents_are_copied_again_and_embedded_by_id():
    client = FakeEs(
        **{
            "indices.refresh": [{}],
            "count": counts(3, 3, 0),
            "tasks.list": [NO_TASKS],
            "ml.get_trained_models_stats": [deployment_stats(allocations=2, queue_capacity=50)],
            "reindex": [{"task": "n1:5"}],
        },
        **compared([doc("a"), doc("b", "new text"), doc("c")], [found("a"), found("b", "old text")]),
    )
    ctx = context()
    with pytest.raises(TaskDeferred) as deferred:
        complete(client).execute(ctx)
    [sent] = client.calls["reindex"]
    assert sent["source"]["query"] == {"ids": {"values": ["b", "c"]}}
    assert sent["dest"] == {"index": "dst", "pipeline": "pipe"}, "overwritten and embedded in one write"
    assert sent["conflicts"] == "proceed" and sent["slices"] == 1 and sent["source"]["size"] == 41
    assert deferred.value.trigger.es_task_id == "n1:5"
    assert ctx["task_state_store"].values[PASS_KEY] == {"kind": "re_embed", "number": 1}


def test_more_stale_documents_than_a_pass_names_re_embed_the_whole_scope():
    comparison = Comparison(cut="t", compared=ID_LIMIT + 5, stale=ID_LIMIT + 5, stale_ids=["x"] * ID_LIMIT)
    plan = re_embed_plan(comparison, expected=ID_LIMIT + 5)
    assert plan.whole_scope and len(plan.ids) == ID_LIMIT


def test_missing_documents_beyond_max_docs_are_not_re_embedded():
    comparison = Comparison(
        cut="t", compared=500, current=100, missing=400, missing_ids=[f"m{i}" for i in range(400)]
    )
    assert re_embed_plan(comparison, expected=100) == ([], False)
    assert re_embed_plan(comparison, expected=102) == (["m0", "m1"], False)


def test_documents_that_left_the_scope_are_removed_once_everything_else_is_current():
    scripts = compared([doc("a")], [found("a")])
    scripts["open_point_in_time"] = [{"id": "pit-1"}, {"id": "pit-2"}]
    scripts["search"] = [
        {"pit_id": "pit-1", "hits": {"hits": [doc("a")]}},
        {"pit_id": "pit-1", "hits": {"hits": []}},
        # the destination's scope, then which of its ids the source's scope holds
        {
            "pit_id": "pit-2",
            "hits": {"hits": [{"_id": "a", "sort": [1]}, {"_id": "gone", "_routing": "r", "sort": [2]}]},
        },
        {"hits": {"hits": [{"_id": "a"}]}},
        {"pit_id": "pit-2", "hits": {"hits": []}},
    ]
    scripts["close_point_in_time"] = [{"succeeded": True}]
    client = FakeEs(
        **{
            "indices.refresh": [{}],
            "count": counts(1, 2, 0),
            "bulk": [
                {"errors": False, "items": [{"delete": {"_id": "gone", "status": 200, "result": "deleted"}}]}
            ],
        },
        **scripts,
    )
    summary = complete(client).execute(context())["resume"]
    assert client.calls["bulk"] == [
        {"operations": [{"delete": {"_index": "dst", "_id": "gone", "routing": "r"}}]}
    ]
    assert client.calls["search"][3]["query"] == {"ids": {"values": ["a", "gone"]}}
    assert summary["removed"] == 1 and summary["present"] == 1 and summary["currency"]["present"] == 1


def test_a_failed_delete_of_a_document_that_left_the_scope_fails_the_task():
    scripts = compared([doc("a")], [found("a")])
    scripts["open_point_in_time"] = [{"id": "pit-1"}, {"id": "pit-2"}]
    scripts["search"] = [
        {"hits": {"hits": [doc("a")]}},
        {"hits": {"hits": []}},
        {"hits": {"hits": [{"_id": "gone", "sort": [2]}]}},
        {"hits": {"hits": []}},
    ]
    error = {
        "type": "cluster_block_exception",
        "reason": "index [dst] blocked by: [FORBIDDEN/8/index write (api)];",
    }
    client = FakeEs(
        **{
            "indices.refresh": [{}],
            "count": counts(1, 2, 0),
            "bulk": [{"errors": True, "items": [{"delete": {"_id": "gone", "status": 403, "error": error}}]}],
        },
        **scripts,
    )
    with pytest.raises(ReindexFailedError, match=r"1 failed, e\.g\. \[gone\] .*cluster_block_exception"):
        complete(client).execute(context())


def test_a_deployment_being_allocated_again_is_waited_for_before_an_embed_pass():
    starting = deployment_stats()
    stats = starting["trained_model_stats"][0]["deployment_stats"]
    stats.update(state="started", allocation_status={"allocation_count": 0, "target_allocation_count": 2})
    stats["nodes"][0]["routing_state"] = {"routing_state": "starting"}
    client = FakeEs(
        **{"indices.refresh": [{}], "count": counts(40, 40, 12), "ml.get_trained_models_stats": [starting]}
    )
    with pytest.raises(TaskDeferred) as deferred:
        complete(client, max_embed_passes=3).execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, DeploymentStateTrigger) and trigger.wanted_state == "started"
    assert "wait_timeout" in trigger.bound and deferred.value.method_name == "allocation_complete"
    assert "update_by_query" not in client.calls
    with pytest.raises(DeploymentFailedError, match="gave up waiting"):
        complete(FakeEs()).allocation_complete(
            context(), {"status": "error", "message": "gave up waiting after 1200 s"}
        )


def test_a_finished_pass_is_recorded_and_the_next_decision_taken():
    store = FakeStore(**{TASK_KEY: "n1:4", PASS_KEY: {"kind": "embed", "number": 1, "batch_size": 41}})
    client = FakeEs(
        **{"indices.refresh": [{}], "count": [{"count": 0}, *counts(1, 1, 0)]},
        **compared([doc("a")], [found("a")]),
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
    assert client.calls["count"][0]["query"] == {"exists": {"field": "embedding_failure"}}
    assert summary["embedded"] == 12 and summary["still_missing"] == 0
    assert TASK_KEY not in store.values


def test_a_retry_re_attaches_to_the_running_pass_instead_of_starting_another():
    store = FakeStore(**{TASK_KEY: "n1:4", PASS_KEY: {"kind": "embed", "number": 1}})
    client = FakeEs(**{"tasks.get": [{"completed": False, "task": {}}]})
    with pytest.raises(TaskDeferred) as deferred:
        complete(client).execute(context(task_state_store=store))
    assert deferred.value.trigger.es_task_id == "n1:4"
    assert "reindex" not in client.calls and "update_by_query" not in client.calls


def test_a_re_embed_pass_whose_answer_was_lost_is_followed_not_started_again():
    running = {"nodes": {"n1": {"tasks": {"n1:9": {"description": "reindex from [src] to [dst]"}}}}}
    client = FakeEs(
        **{
            "indices.refresh": [{}],
            "count": counts(1, 1, 0),
            "tasks.list": [running],
            "ml.get_trained_models_stats": [deployment_stats()],
        },
        **compared([doc("a", "new")], [found("a", "old")]),
    )
    with pytest.raises(TaskDeferred) as deferred:
        complete(client).execute(context())
    assert deferred.value.trigger.es_task_id == "n1:9" and "reindex" not in client.calls


def test_passes_exhausted_leave_the_rest_to_verification():
    history = [
        {"kind": kind, "number": n, "batch_size": 10, "failed_docs": 2}
        for n in (1, 2)
        for kind in ("embed", "re_embed")
    ]
    client = FakeEs(
        **{"indices.refresh": [{}], "count": counts(1, 1, 1)},
        **compared([doc("a", "new")], [found("a", "old")]),
    )
    summary = complete(client, max_embed_passes=2).execute(
        context(task_state_store=FakeStore(**{HISTORY_KEY: history}))
    )
    assert summary["resume"]["still_missing"] == 1 and summary["resume"]["passes"] == 4
    assert summary["resume"]["currency"]["stale"] == 1


def test_a_cancelled_pass_fails():
    event = {"status": "success", "es_task_id": "n1:4", "result": {"canceled": "by user request"}}
    with pytest.raises(ReindexFailedError, match=r"^ES task n1:4 was cancelled: by user request$"):
        complete(FakeEs()).execute_complete(context(), event)


def test_embed_batches():
    assert embed_batch_size("auto", allocations=2, queue_capacity=50) == 41
    assert embed_batch_size(20, allocations=2, queue_capacity=10_000) == 20
    assert next_batch_size(None, planned=41, failed_before=False) == 41
    assert next_batch_size(41, planned=41, failed_before=True) == 20  # after a pass whose documents failed
    assert next_batch_size(1, planned=41, failed_before=True) == 1
