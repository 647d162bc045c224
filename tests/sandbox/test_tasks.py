"""The _tasks API: running and stored tasks, list filters and groupings, cancellation, the errors for
malformed and unknown ids, wait_for_completion timeouts, and a node restart losing running tasks."""

from __future__ import annotations

import time

import pytest
from elasticsearch import ApiError, BadRequestError, NotFoundError
from elasticsearch.helpers import bulk

from tests.sandbox.ml_support import arm_faults, poll, strict

REINDEX = "indices:data/write/reindex"


def seed(es, index="src", n=20):
    bulk(es, ({"_index": index, "_id": str(i), "n": i} for i in range(n)), refresh=True)


def slow_reindex(es, dest="dst"):
    """About five seconds of work: 20 docs in batches of 2 at 4 docs/s."""
    seed(es)
    return es.reindex(
        source={"index": "src", "size": 2},
        dest={"index": dest},
        wait_for_completion=False,
        requests_per_second=4,
    )["task"]


def node_id(es):
    return next(iter(es.nodes.info()["nodes"]))


def test_malformed_and_unknown_ids(es):
    with pytest.raises(BadRequestError) as info:
        es.tasks.get(task_id="no-colon")
    assert info.value.body["error"]["type"] == "illegal_argument_exception"
    assert info.value.body["error"]["reason"] == "malformed task id no-colon"

    nid = node_id(es)
    with pytest.raises(NotFoundError) as info:
        es.tasks.get(task_id=f"{nid}:999999")
    error = info.value.body["error"]
    assert error["type"] == "resource_not_found_exception"
    assert error["reason"] == f"task [{nid}:999999] isn't running and hasn't stored its results"
    # Nothing has stored a result yet, so the .tasks index does not exist.
    assert error["caused_by"]["type"] == "index_not_found_exception"
    assert error["caused_by"]["reason"] == "no such index [.tasks]"

    with pytest.raises(NotFoundError) as info:
        es.tasks.get(task_id="elsewhere:1")
    assert info.value.body["error"]["reason"] == (
        "task [elsewhere:1] belongs to the node [elsewhere] which isn't part of the cluster and there is no record "
        "of the task"
    )


def test_running_task_then_stored_result(es):
    task_id = slow_reindex(es)
    nid, number = task_id.split(":")
    running = es.tasks.get(task_id=task_id).body
    assert running["completed"] is False
    task = running["task"]
    assert (task["node"], task["id"], task["type"], task["action"]) == (
        nid,
        int(number),
        "transport",
        REINDEX,
    )
    assert task["description"] == "reindex from [src] to [dst]"
    assert (task["cancellable"], task["cancelled"], task["headers"]) == (True, False, {})
    assert task["status"]["total"] == 20
    assert task["running_time_in_nanos"] > 0 and task["start_time_in_millis"] > 0

    es.tasks.cancel(task_id=task_id)
    done = es.tasks.get(task_id=task_id, wait_for_completion=True, timeout="10s").body
    assert done["completed"] is True
    assert "cancelled" not in done["task"]  # not recorded in the stored task
    assert done["response"]["canceled"] == "by user request"

    # Once something has been stored, unknown ids no longer mention the missing .tasks index.
    with pytest.raises(NotFoundError) as info:
        es.tasks.get(task_id=f"{nid}:999999")
    assert "caused_by" not in info.value.body["error"]


def test_wait_for_completion_times_out(es):
    task_id = slow_reindex(es)
    with pytest.raises(ApiError) as info:
        strict(es).tasks.get(task_id=task_id, wait_for_completion=True, timeout="200ms")
    assert info.value.meta.status == 429
    assert info.value.body["error"]["type"] == "timeout_exception"
    assert info.value.body["error"]["reason"] == "Timed out waiting for completion of task"
    es.tasks.cancel(task_id=task_id)


def test_list_filters_details_and_groupings(es):
    task_id = slow_reindex(es)
    nid = node_id(es)

    by_node = es.tasks.list(actions="*reindex").body
    node = by_node["nodes"][nid]
    assert {"name", "transport_address", "host", "ip", "roles", "tasks"} <= set(node)
    assert list(node["tasks"]) == [task_id]
    assert "status" not in node["tasks"][task_id] and "description" not in node["tasks"][task_id]

    detailed = es.tasks.list(actions=REINDEX, detailed=True)["nodes"][nid]["tasks"][task_id]
    assert detailed["status"]["total"] == 20
    assert detailed["description"] == "reindex from [src] to [dst]"

    flat = es.tasks.list(actions="*reindex", group_by="none").body
    assert [t["id"] for t in flat["tasks"]] == [int(task_id.split(":")[1])]

    everything = es.tasks.list(group_by="parents").body["tasks"]
    listing = [t for t in everything.values() if t["action"] == "cluster:monitor/tasks/lists"]
    assert listing and listing[0]["children"][0]["action"] == "cluster:monitor/tasks/lists[n]"

    assert es.tasks.list(actions="indices:data/write/update*").body == {"nodes": {}}
    with pytest.raises(BadRequestError) as info:
        es.perform_request(
            "GET", "/_tasks", params={"group_by": "shape"}, headers={"accept": "application/json"}
        )
    assert (
        info.value.body["error"]["reason"]
        == "[group_by] must be one of [nodes], [parents] or [none] but was [shape]"
    )
    es.tasks.cancel(task_id=task_id)


def test_cancel_by_id_and_by_actions(es):
    task_id = slow_reindex(es)
    nid = node_id(es)
    answer = es.tasks.cancel(task_id=task_id).body
    info = answer["nodes"][nid]["tasks"][task_id]
    assert (info["action"], info["cancellable"], info["cancelled"]) == (REINDEX, True, True)
    assert "node_failures" not in answer

    second = slow_reindex(es, dest="dst2")
    answer = es.tasks.cancel(actions="*reindex").body
    assert second in answer["nodes"][nid]["tasks"]
    poll(lambda: es.tasks.get(task_id=second).body, lambda r: r["completed"])


def test_cancel_unknown_task_reports_a_node_failure(es):
    nid = node_id(es)
    answer = es.tasks.cancel(task_id=f"{nid}:424242").body
    assert answer["nodes"] == {}
    (failure,) = answer["node_failures"]
    assert failure == {
        "type": "failed_node_exception",
        "reason": f"Failed node [{nid}]",
        "node_id": nid,
        "caused_by": {"type": "resource_not_found_exception", "reason": f"task [{nid}:424242] is not found"},
    }


def test_node_restart_loses_running_tasks(es):
    task_id = slow_reindex(es)
    time.sleep(0.3)
    arm_faults(es, node_restart=True)
    with pytest.raises(NotFoundError) as info:
        es.tasks.get(task_id=task_id)
    assert (
        info.value.body["error"]["reason"] == f"task [{task_id}] isn't running and hasn't stored its results"
    )
    assert es.tasks.list(actions="*reindex").body == {"nodes": {}}
    copied = es.count(index="dst")["count"]
    time.sleep(0.8)  # the work stopped with the node: nothing more lands
    assert es.count(index="dst")["count"] == copied < 20
