"""HTTP faults: injected 5xx answers and dropped connections, before the endpoint runs (nothing
happened) or after it (`after_processing`: the work is done, only the answer is lost)."""

from __future__ import annotations

import time

import elastic_transport
import pytest
from elasticsearch import ApiError

from tests.sandbox.ml_support import arm_faults


def test_an_injected_5xx_answers_before_anything_happens_then_is_used_up(es):
    arm_faults(es, http_error=[{"path": "^/books$", "method": "PUT", "status": 503}])
    once = es.options(max_retries=0)
    with pytest.raises(ApiError) as raised:
        once.indices.create(index="books")
    assert raised.value.meta.status == 503 and raised.value.error == "sandbox_injected_fault"
    assert not es.indices.exists(index="books")
    once.indices.create(index="books")  # count 1: the next request goes through
    assert es.indices.exists(index="books")


def test_a_dropped_connection_before_processing_changes_nothing(es):
    arm_faults(es, http_error=[{"path": "^/books$", "method": "PUT", "drop_connection": True}])
    with pytest.raises(elastic_transport.ConnectionError):
        es.options(max_retries=0).indices.create(index="books")
    assert not es.indices.exists(index="books")


def test_a_dropped_connection_after_processing_loses_only_the_answer(es):
    es.indices.create(index="books")
    es.index(index="books", id="1", document={"title": "a"}, refresh=True)
    arm_faults(es, http_error=[{"path": "^/_reindex$", "drop_connection": True, "after_processing": True}])
    with pytest.raises(elastic_transport.ConnectionError):
        es.options(max_retries=0).reindex(
            source={"index": "books"}, dest={"index": "copy"}, wait_for_completion=False
        )
    # The reindex was started: its task runs (or ran) and the copy appears.
    deadline = time.monotonic() + 10
    while not (es.indices.exists(index="copy") and es.count(index="copy")["count"] == 1):
        assert time.monotonic() < deadline, "the reindex whose answer was lost never ran"
        time.sleep(0.05)
        if es.indices.exists(index="copy"):
            es.indices.refresh(index="copy")
    assert es.perform_request("GET", "/_sandbox/faults", headers={"accept": "application/json"}).body == {}


def test_a_client_that_resends_after_a_lost_answer_does_the_work_twice(es):
    """Why the library sends task-starting requests once: the client's own retry of a POST whose
    answer was lost starts the same work again."""
    es.indices.create(index="books")
    arm_faults(es, http_error=[{"path": "^/books/_doc$", "drop_connection": True, "after_processing": True}])
    es.options(max_retries=1).index(index="books", document={"title": "a"}, refresh=True)
    assert es.count(index="books")["count"] == 2
