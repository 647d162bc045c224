"""The write-step contract of the document write path (es_sandbox.documents.writes): every way a
document gets stored passes its items, after the ingest pipelines and before the store, through the
registered steps, which may transform a document or fail that one item.

The app is served in process, on a thread of this test, because a step is registered on the cluster
object, which a sandbox in another process does not expose; the requests are real HTTP from the
real elasticsearch-py client.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from elasticsearch import ApiError, Elasticsearch

from es_sandbox.app import create_app
from es_sandbox.cluster import Cluster
from es_sandbox.config import SandboxConfig
from es_sandbox.documents import PendingWrite
from es_sandbox.errors import EsError
from es_sandbox.indices import Index

STEPPED = {"_meta": {"stepped": True}, "properties": {"title": {"type": "keyword"}}}


class UpperCaseTitles:
    """Upper-cases `title` in indices whose mapping's _meta says `stepped`; refuses the title 'bad'."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.seen: list[tuple[str, str, str | None, dict | None, bool]] = []

    def applies_to(self, index: Index) -> bool:
        self.asked.append(index.name)
        return index.mappings.get("_meta", {}).get("stepped") is True

    async def __call__(self, index: Index, writes: list[PendingWrite]) -> None:
        for write in writes:
            self.seen.append((index.name, write.op, write.id, write.source, write.script))
            if write.source is None:
                continue
            if write.source.get("title") == "bad":
                write.fail(EsError(422, "status_exception", f"cannot take [{write.id}]"))
            elif "title" in write.source:
                write.source = {**write.source, "title": write.source["title"].upper()}


class ServedApp:
    def __init__(self, cluster: Cluster, es: Elasticsearch, step: UpperCaseTitles) -> None:
        self.cluster, self.es, self.step = cluster, es, step


@pytest.fixture
def served() -> Iterator[ServedApp]:
    app = create_app(SandboxConfig())
    step = UpperCaseTitles()
    app.state.cluster.documents.register_write_step(step)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    es = Elasticsearch(f"http://127.0.0.1:{sock.getsockname()[1]}", request_timeout=10)
    es.indices.create(index="stepped", mappings=STEPPED)
    es.indices.create(index="plain", mappings={"properties": {"title": {"type": "keyword"}}})
    yield ServedApp(app.state.cluster, es, step)
    es.close()
    server.should_exit = True
    thread.join(10)


def statuses(resp) -> list[int]:
    return [next(iter(item.values()))["status"] for item in resp["items"]]


def test_bulk_items_pass_through_the_step_after_the_pipeline_and_fail_alone(served):
    es, step = served.es, served.step
    es.ingest.put_pipeline(id="suffix", processors=[{"set": {"field": "title", "value": "{{{title}}}-p"}}])
    resp = es.bulk(
        operations=[
            {"index": {"_index": "stepped", "_id": "1", "pipeline": "suffix"}},
            {"title": "one"},
            {"create": {"_index": "stepped", "_id": "2"}},
            {"title": "bad"},
            {"index": {"_index": "plain", "_id": "3"}},
            {"title": "three"},
            {"index": {"_index": "fresh", "_id": "4"}},
            {"title": "four"},
            {"delete": {"_index": "stepped", "_id": "9"}},
        ]
    )
    assert statuses(resp) == [201, 422, 201, 201, 404]
    assert resp["items"][1]["create"] == {
        "_index": "stepped",
        "_id": "2",
        "status": 422,
        "error": {"type": "status_exception", "reason": "cannot take [2]"},
    }
    assert es.get(index="stepped", id="1")["_source"] == {"title": "ONE-P"}  # after the pipeline
    assert es.get(index="plain", id="3")["_source"] == {"title": "three"}  # not a stepped index
    assert es.get(index="fresh", id="4")["_source"] == {"title": "four"}  # new: no mapping asks
    assert not es.exists(index="stepped", id="2")
    # One question per existing target and bulk; deletes and new indices are never shown.
    assert sorted(step.asked) == ["plain", "stepped"]
    assert [(s[1], s[2]) for s in step.seen] == [("index", "1"), ("create", "2")]


def test_single_document_writes_and_updates_pass_through_the_step(served):
    es, step = served.es, served.step
    assert es.index(index="stepped", id="1", document={"title": "one", "n": 1}).meta.status == 201
    assert es.index(index="stepped", document={"title": "auto"}).meta.status == 201
    with pytest.raises(ApiError) as refused:
        es.create(index="stepped", id="2", document={"title": "bad"})
    assert (refused.value.status_code, refused.value.error) == (422, "status_exception")
    assert refused.value.body["error"]["reason"] == "cannot take [2]"
    # The `_update` API resolves the update against the stored document first (doc merged, upsert
    # taken, script run), then writes what it comes to as a bulk of one (TransportUpdateAction): the
    # step sees the whole document as an index, an upsert as a create.
    assert es.update(index="stepped", id="1", doc={"title": "uno"}).meta.status == 200
    assert step.seen[-1] == ("stepped", "index", "1", {"title": "uno", "n": 1}, False)
    assert es.get(index="stepped", id="1")["_source"] == {"title": "UNO", "n": 1}
    assert es.update(index="stepped", id="5", doc={"title": "five"}, doc_as_upsert=True).meta.status == 201
    assert es.get(index="stepped", id="5")["_source"] == {"title": "FIVE"}
    with pytest.raises(ApiError) as failed:
        es.update(index="stepped", id="1", doc={"title": "bad"})
    assert failed.value.status_code == 422
    assert es.get(index="stepped", id="1")["_source"] == {"title": "UNO", "n": 1}
    assert es.update(index="stepped", id="1", script={"source": "ctx._source.n++"})["result"] == "updated"
    assert step.seen[-1] == ("stepped", "index", "1", {"title": "UNO", "n": 2}, False)  # the script ran first
    assert es.get(index="stepped", id="1")["_source"] == {"title": "UNO", "n": 2}
    assert [s[1] for s in step.seen] == ["index", "index", "create", "index", "create", "index", "index"]


def test_reindex_and_update_by_query_pass_through_the_step(served):
    es = served.es
    for i, title in enumerate(["a", "b", "bad"]):
        es.index(index="plain", id=str(i), document={"title": title})
    es.indices.create(index="dest", mappings=STEPPED)
    with pytest.raises(ApiError) as info:
        es.reindex(source={"index": "plain"}, dest={"index": "dest"})
    assert info.value.status_code == 422  # the worst failure's status, as Elasticsearch answers
    assert info.value.body["created"] == 2
    assert info.value.body["failures"] == [
        {
            "index": "dest",
            "id": "2",
            "cause": {"type": "status_exception", "reason": "cannot take [2]"},
            "status": 422,
        }
    ]
    assert es.get(index="dest", id="0")["_source"] == {"title": "A"}
    # Stored behind the write path's back, so only _update_by_query's pass through the step changes it.
    served.cluster.indices.get("stepped").put("7", {"title": "seven"})
    assert es.update_by_query(index="stepped")["updated"] == 1
    assert es.get(index="stepped", id="7")["_source"] == {"title": "SEVEN"}


def test_an_error_raised_by_the_step_fails_every_write_it_was_given(served):
    es = served.es

    class Unavailable:
        def applies_to(self, index: Index) -> bool:
            return index.name == "plain"

        async def __call__(self, index: Index, writes: list[PendingWrite]) -> None:
            raise EsError(503, "status_exception", "no capacity")

    served.cluster.documents.register_write_step(Unavailable())
    resp = es.bulk(
        operations=[
            {"index": {"_index": "plain", "_id": "1"}},
            {"title": "x"},
            {"index": {"_index": "plain", "_id": "2"}},
            {"title": "y"},
            {"index": {"_index": "stepped", "_id": "3"}},
            {"title": "three"},
        ]
    )
    assert statuses(resp) == [503, 503, 201]
    assert resp["items"][0]["index"]["error"] == {"type": "status_exception", "reason": "no capacity"}
    assert es.get(index="stepped", id="3")["_source"] == {"title": "THREE"}
