"""Pure readers of poll responses: a sliced reindex's progress includes its running slices."""

from es_embedding import checks


def _leader(completed: bool = False, **status) -> dict:
    return {"completed": completed, "task": {"running_time_in_nanos": 2_000_000_000, "status": status}}


def _children(*statuses: dict) -> dict:
    tasks = {f"n:{i}": {"status": s} for i, s in enumerate(statuses, start=10)}
    return {"nodes": {"n": {"tasks": tasks}}}


def test_running_slices_are_added_to_the_leaders_finished_ones():
    leader = _leader(total=40, created=40, batches=4, slices=[{"total": 40, "created": 40}, None, None])
    merged = checks.with_running_slices(
        leader, _children({"total": 30, "created": 10}, {"total": 30, "created": 5})
    )
    status = merged["task"]["status"]
    assert (status["total"], status["created"]) == (100, 55)
    assert "55/100 documents (55.0%)" in checks.reindex(merged, "n:1").message
    assert leader["task"]["status"]["created"] == 40, "the response read is not modified"


def test_only_running_sliced_tasks_need_their_slices():
    assert checks.running_slices_missing(_leader(slices=[None, None]))
    assert not checks.running_slices_missing(_leader(total=10, created=3))
    assert not checks.running_slices_missing(_leader(completed=True, slices=[{"total": 1}]))
