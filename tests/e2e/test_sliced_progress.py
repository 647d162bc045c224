"""Against the sandbox's real task shapes: while a sliced reindex runs, its leader counts only
finished slices, and the progress the reindex sensor logs adds the running slices' own statuses."""

from elasticsearch import helpers

from es_embedding import checks
from tests.sandbox.ml_support import poll


def test_progress_of_a_running_sliced_reindex_counts_its_running_slices(es):
    helpers.bulk(es, ({"_index": "src", "_id": str(i), "n": i} for i in range(40)), refresh=True)
    task_id = es.reindex(
        source={"index": "src", "size": 2},
        dest={"index": "dst"},
        slices=2,
        requests_per_second=4,  # throttled: the slices are still running while we look
        wait_for_completion=False,
    )["task"]
    try:
        found = poll(lambda: dict(es.tasks.get(task_id=task_id)), lambda t: checks.running_slices_missing(t))
        leader = found["task"]["status"]
        children = dict(es.tasks.list(parent_task_id=task_id, detailed=True))
        merged = checks.with_running_slices(found, children)["task"]["status"]
        assert merged["total"] > (leader.get("total") or 0)
        assert merged["total"] <= 40
        assert checks.reindex(checks.with_running_slices(found, children), task_id).message.startswith(
            f"reindex {task_id}: "
        )
    finally:
        es.tasks.cancel(task_id=task_id)
