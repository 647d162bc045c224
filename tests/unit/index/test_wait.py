"""wait_reindex (ReindexTaskSensor): what the end of the ES task means for the run: the failure
policy, a cancelled task, a task lost to a node restart."""

from __future__ import annotations

import pytest

from es_embedding.errors import ReindexFailedError
from es_embedding.index import ReindexTaskSensor
from tests.unit.fakes import FakeEs, FakeHook, context, settings, with_hook

FAILURES = {
    "count": 2,
    "by_kind": {"status_exception (status 429)": 2},
    "samples": [{"index": "dst", "id": "7", "reason": "inference process queue is full"}],
}


def sensor(**reindex: object) -> ReindexTaskSensor:
    return ReindexTaskSensor(
        task_id="wait_reindex", es_task_id="n1:5", settings=settings(embedding_reindex=reindex)
    )


def finished(failures: dict | None = None, canceled: str | None = None) -> dict:
    result = {
        "total": 10,
        "created": 8,
        "canceled": canceled,
        "failures": failures or {"count": 0, "by_kind": {}, "samples": []},
    }
    return {"status": "success", "es_task_id": "n1:5", "result": result}


def test_the_result_is_returned_and_pushed():
    ctx = context()
    assert sensor().execute_complete(ctx, finished())["created"] == 8
    assert ctx["ti"].pushed["reindex_result"]["total"] == 10


def test_failures_fail_the_run_by_default_saying_how_to_tolerate_them():
    with pytest.raises(ReindexFailedError) as failed:
        sensor().execute_complete(context(), finished(FAILURES))
    assert str(failed.value) == (
        "reindex n1:5: 2 failure(s): 2 x status_exception (status 429). Samples: [dst/7] inference process queue "
        "is full. A failure stops the reindex; with failure_policy 'tolerate' and max_failures >= 2 in "
        "Variable 'embedding_reindex' the run would continue to verify"
    )


def test_failures_within_the_tolerated_number_continue():
    ctx = context()
    assert sensor(failure_policy="tolerate", max_failures=2).execute_complete(ctx, finished(FAILURES))
    with pytest.raises(ReindexFailedError):
        sensor(failure_policy="tolerate", max_failures=1).execute_complete(context(), finished(FAILURES))


def test_a_cancelled_reindex_fails():
    with pytest.raises(ReindexFailedError, match=r"^reindex n1:5 was cancelled: by user request$"):
        sensor().execute_complete(context(), finished(canceled="by user request"))


def test_a_lost_task_is_handed_to_complete_index_not_failed():
    ctx = context()
    lost = {"status": "lost", "es_task_id": "n1:5", "message": "ES task n1:5 is lost (...)"}
    assert sensor().execute_complete(ctx, lost) == {"lost": True, "es_task_id": "n1:5"}
    assert ctx["ti"].pushed["reindex_result"] == {"lost": True, "es_task_id": "n1:5"}


def test_a_kill_while_poking_cancels_the_es_task():
    client = FakeEs(**{"tasks.cancel": [{"nodes": {}}]})
    with_hook(sensor(), FakeHook(client)).on_kill()
    assert client.calls["tasks.cancel"] == [{"task_id": "n1:5"}]
