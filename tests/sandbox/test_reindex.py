"""_reindex, _update_by_query and _delete_by_query: response shapes, validation errors, conflicts,
max_docs, query and _source, async tasks whose status moves, throttling and rethrottle, cancel,
slices, and a failing pipeline ending the request with `failures`."""

from __future__ import annotations

import time

import pytest
from elasticsearch import ApiError, BadRequestError, ConflictError, NotFoundError
from elasticsearch.helpers import bulk

from tests.sandbox.ml_support import poll, strict

STATUS_KEYS = [
    "total",
    "updated",
    "created",
    "deleted",
    "batches",
    "version_conflicts",
    "noops",
    "retries",
    "throttled_millis",
    "requests_per_second",
    "throttled_until_millis",
]


def seed(es, index="src", n=20, **settings):
    if settings:
        es.indices.create(index=index, settings=settings)
    bulk(
        es,
        (
            {
                "_index": index,
                "_id": str(i),
                "n": i,
                "kind": "even" if i % 2 == 0 else "odd",
                "extra": {"a": i},
            }
            for i in range(n)
        ),
        refresh=True,
    )


def start_reindex(es, *, batch_size, **params):
    """src -> dst in the background, `batch_size` documents a batch: the task id."""
    return es.reindex(
        source={"index": "src", "size": batch_size},
        dest={"index": "dst"},
        wait_for_completion=False,
        **params,
    ).body["task"]


def task_status(es, task_id):
    return es.tasks.get(task_id=task_id)["task"]["status"]


def finished(es, task_id, timeout=15.0):
    return poll(lambda: es.tasks.get(task_id=task_id).body, lambda r: r["completed"], timeout=timeout)


def test_sync_reindex_response(es):
    seed(es)
    answer = es.reindex(source={"index": "src", "size": 8}, dest={"index": "dst"}, refresh=True).body
    assert list(answer) == ["took", "timed_out", *STATUS_KEYS, "failures"]
    assert answer["took"] >= 0 and answer["timed_out"] is False
    assert {k: answer[k] for k in STATUS_KEYS} == {
        "total": 20,
        "updated": 0,
        "created": 20,
        "deleted": 0,
        "batches": 3,
        "version_conflicts": 0,
        "noops": 0,
        "retries": {"bulk": 0, "search": 0},
        "throttled_millis": 0,
        "requests_per_second": -1,
        "throttled_until_millis": 0,
    }
    assert answer["failures"] == []
    assert es.get(index="dst", id="7")["_source"] == {"n": 7, "kind": "odd", "extra": {"a": 7}}
    again = es.reindex(source={"index": "src"}, dest={"index": "dst"}).body
    assert (again["created"], again["updated"], again["batches"]) == (0, 20, 1)


def test_query_source_filter_and_max_docs(es):
    seed(es)
    answer = es.reindex(
        source={"index": "src", "query": {"term": {"kind": "even"}}, "_source": ["n"]},
        dest={"index": "evens"},
        refresh=True,
    ).body
    assert (answer["total"], answer["created"]) == (10, 10)
    assert es.get(index="evens", id="4")["_source"] == {"n": 4}

    limited = es.reindex(source={"index": "src", "size": 3}, dest={"index": "few"}, max_docs=5).body
    assert (limited["total"], limited["created"], limited["batches"]) == (5, 5, 2)
    with pytest.raises(BadRequestError) as info:
        es.perform_request(
            "POST",
            "/_reindex",
            params={"max_docs": 3},
            headers=JSON,
            body={"source": {"index": "src"}, "dest": {"index": "x"}, "max_docs": 4},
        )
    assert info.value.body["error"]["reason"] == "[max_docs] set to two different values [4] and [3]"


JSON = {"accept": "application/json", "content-type": "application/json"}


@pytest.mark.parametrize(
    ("params", "body", "error_type", "reason"),
    [
        (
            {},
            {"source": {"index": "src"}, "dest": {}},
            "action_request_validation_exception",
            "Validation Failed: 1: index must be specified;",
        ),
        (
            {},
            {"source": {}, "dest": {"index": "d"}},
            "action_request_validation_exception",
            "Validation Failed: 1: use _all if you really want to copy from all existing indexes;",
        ),
        (
            {"slices": "0"},
            {"source": {"index": "src"}, "dest": {"index": "d"}},
            "illegal_argument_exception",
            '[slices] must be a positive integer or the string "auto", but was [0]',
        ),
        (
            {"requests_per_second": "0"},
            {"source": {"index": "src"}, "dest": {"index": "d"}},
            "illegal_argument_exception",
            "[requests_per_second] must be a float greater than 0. Use -1 to disable throttling.",
        ),
        (
            {"pipeline": "p"},
            {"source": {"index": "src"}, "dest": {"index": "d"}},
            "illegal_argument_exception",
            "_reindex doesn't support [pipeline] as a query parameter. Specify it in the [dest] object instead.",
        ),
        (
            {},
            {"source": {"index": "src"}, "dest": {"index": "d"}, "conflicts": "ignore"},
            "illegal_argument_exception",
            'conflicts may only be "proceed" or "abort" but was [ignore]',
        ),
        (
            {},
            {"source": {"index": "src"}, "dest": {"index": "src"}},
            "action_request_validation_exception",
            "Validation Failed: 1: reindex cannot write into an index its reading from [src];",
        ),
    ],
)
def test_validation_errors(es, params, body, error_type, reason):
    seed(es, n=2)
    with pytest.raises(BadRequestError) as info:
        es.perform_request("POST", "/_reindex", params=params, headers=JSON, body=body)
    assert (info.value.body["error"]["type"], info.value.body["error"]["reason"]) == (error_type, reason)


def test_missing_source_index(es):
    with pytest.raises(NotFoundError) as info:
        es.reindex(source={"index": "nope"}, dest={"index": "d"})
    assert info.value.body["error"]["type"] == "index_not_found_exception"
    task = es.reindex(source={"index": "nope"}, dest={"index": "d"}, wait_for_completion=False)["task"]
    stored = finished(es, task)
    assert stored["error"]["type"] == "index_not_found_exception" and "response" not in stored


def test_op_type_create_conflicts_abort_or_proceed(es):
    seed(es, n=10)
    es.index(index="dst", id="3", document={"n": -1}, refresh=True)
    with pytest.raises(ConflictError) as info:
        es.reindex(source={"index": "src"}, dest={"index": "dst", "op_type": "create"})
    body = info.value.body
    assert body["version_conflicts"] == 1 and body["created"] == 9
    (failure,) = body["failures"]
    assert (failure["index"], failure["id"], failure["status"]) == ("dst", "3", 409)
    assert failure["cause"]["type"] == "version_conflict_engine_exception"

    proceed = es.reindex(
        source={"index": "src"}, dest={"index": "dst", "op_type": "create"}, conflicts="proceed"
    ).body
    assert (proceed["version_conflicts"], proceed["created"], proceed["failures"]) == (10, 0, [])


def test_failing_pipeline_ends_the_reindex_with_failures(es):
    bulk(
        es,
        ({"_index": "src", "_id": str(i), **({"odd_only": 1} if i % 2 else {})} for i in range(10)),
        refresh=True,
    )
    es.ingest.put_pipeline(id="picky", processors=[{"rename": {"field": "odd_only", "target_field": "x"}}])
    with pytest.raises(ApiError) as info:
        strict(es).reindex(source={"index": "src", "size": 4}, dest={"index": "dst", "pipeline": "picky"})
    body = info.value.body
    assert info.value.meta.status == 400
    assert body["batches"] == 1 and body["created"] == 2  # the rest of the batch was indexed
    assert [f["id"] for f in body["failures"]] == ["0", "2"]
    assert body["failures"][0] == {
        "index": "dst",
        "id": "0",
        "status": 400,
        "cause": {"type": "illegal_argument_exception", "reason": "field [odd_only] doesn't exist"},
    }


def test_async_status_moves_and_the_result_is_stored(es):
    seed(es)
    task_id = start_reindex(es, batch_size=5, requests_per_second=20)
    first = es.tasks.get(task_id=task_id).body
    assert first["completed"] is False
    assert first["task"]["status"]["requests_per_second"] == 20.0
    moving = poll(
        lambda: es.tasks.get(task_id=task_id).body,
        lambda r: r["completed"] or 0 < r["task"]["status"]["created"] < 20,
    )
    assert moving["completed"] or moving["task"]["status"]["throttled_until_millis"] >= 0
    stored = finished(es, task_id)
    assert stored["response"]["created"] == 20 and stored["response"]["batches"] == 4
    # Four waits of 5 docs / 20 per second, the last one before noticing the end.
    assert stored["response"]["throttled_millis"] == 1000
    assert stored["task"]["status"]["created"] == 20


def test_rethrottle_speeds_up_at_once(es):
    seed(es)
    task_id = start_reindex(es, batch_size=2, requests_per_second=0.5)
    poll(lambda: task_status(es, task_id), lambda s: s["throttled_until_millis"] > 1000)
    answer = es.reindex_rethrottle(task_id=task_id, requests_per_second=-1).body
    (node,) = answer["nodes"].values()
    assert node["tasks"][task_id]["status"]["requests_per_second"] == -1
    started = time.monotonic()
    stored = finished(es, task_id)
    assert time.monotonic() - started < 15  # still throttled at 0.5/s it would take about 36 s
    assert stored["response"]["created"] == 20 and stored["response"]["requests_per_second"] == -1


def test_rethrottle_errors(es):
    with pytest.raises(BadRequestError) as info:
        es.perform_request("POST", "/_reindex/x:1/_rethrottle", headers={"accept": "application/json"})
    assert info.value.body["error"]["reason"] == "requests_per_second is a required parameter"
    nid = next(iter(es.nodes.info()["nodes"]))
    answer = es.reindex_rethrottle(task_id=f"{nid}:77777", requests_per_second=3).body
    assert answer["node_failures"][0]["caused_by"] == {
        "type": "resource_not_found_exception",
        "reason": f"task [{nid}:77777] is missing",
    }


def test_cancel_ends_with_canceled(es):
    seed(es)
    task_id = start_reindex(es, batch_size=2, requests_per_second=2)
    poll(lambda: task_status(es, task_id), lambda s: s["batches"] >= 1)
    es.tasks.cancel(task_id=task_id)
    response = finished(es, task_id)["response"]
    assert response["canceled"] == "by user request"
    assert response["created"] < 20 and response["failures"] == []
    assert response["requests_per_second"] == -1  # handleCancel rethrottles to unlimited


def test_slices_run_child_tasks(es):
    seed(es, n=40)
    task_id = start_reindex(es, batch_size=5, slices=2, requests_per_second=20)
    children = poll(
        lambda: es.tasks.list(actions="*reindex", group_by="none", detailed=True)["tasks"],
        lambda ts: len(ts) == 3,
    )
    kids = [t for t in children if "parent_task_id" in t]
    assert len(kids) == 2 and {t["parent_task_id"] for t in kids} == {task_id}
    assert sorted(t["status"]["slice_id"] for t in kids) == [0, 1]
    assert {t["status"]["requests_per_second"] for t in kids} == {10.0}
    parent = task_status(es, task_id)
    assert parent["slices"] == [None, None] and parent["total"] == 0  # only finished slices count
    response = finished(es, task_id)["response"]
    assert response["created"] == 40 and len(response["slices"]) == 2
    assert [s["slice_id"] for s in response["slices"]] == [0, 1]
    assert sum(s["created"] for s in response["slices"]) == 40


def test_auto_slices_follow_the_shards(es):
    seed(es, index="one")
    assert "slices" not in es.reindex(source={"index": "one"}, dest={"index": "d1"}, slices="auto").body
    seed(es, index="two", number_of_shards=2)
    answer = es.reindex(source={"index": "two"}, dest={"index": "d2"}, slices="auto").body
    assert len(answer["slices"]) == 2 and answer["created"] == 20


def test_update_by_query_with_a_pipeline(es):
    seed(es)
    es.ingest.put_pipeline(id="mark", processors=[{"set": {"field": "marked", "value": True}}])
    answer = es.update_by_query(
        index="src", query={"term": {"kind": "even"}}, pipeline="mark", refresh=True
    ).body
    assert "created" not in answer
    assert (answer["total"], answer["updated"], answer["version_conflicts"]) == (10, 10, 0)
    assert es.get(index="src", id="2")["_source"]["marked"] is True
    assert "marked" not in es.get(index="src", id="3")["_source"]

    task_id = es.update_by_query(index="src", wait_for_completion=False).body["task"]
    stored = finished(es, task_id)
    assert stored["task"]["action"] == "indices:data/write/update/byquery"
    assert stored["task"]["description"] == "update-by-query [src]"


def test_delete_by_query(es):
    seed(es)
    with pytest.raises(BadRequestError) as info:
        es.perform_request("POST", "/src/_delete_by_query", headers=JSON, body={})
    assert info.value.body["error"]["reason"] == "Validation Failed: 1: query is missing;"
    answer = es.delete_by_query(index="src", query={"term": {"kind": "odd"}}, refresh=True).body
    assert "created" not in answer and "updated" not in answer
    assert (answer["total"], answer["deleted"]) == (10, 10)
    assert es.count(index="src")["count"] == 10
