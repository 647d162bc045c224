"""Document APIs: index / create / get / delete / update, `_bulk` with per-item results and pipelines,
and the write path's contract (pipelines run concurrently over the items)."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from elasticsearch import BadRequestError, ConflictError, NotFoundError

from es_sandbox.cluster import Cluster
from es_sandbox.config import SandboxConfig
from es_sandbox.documents import BulkAction
from es_sandbox.errors import EsError

SHARDS = {"total": 2, "successful": 1, "failed": 0}


def write_response(index, doc_id, *, version, result, seq_no, **extra):
    """A document write's answer (DocWriteResponse) on the sandbox's one-shard, one-replica index."""
    return {
        "_index": index,
        "_id": doc_id,
        "_version": version,
        "result": result,
        **extra,
        "_shards": SHARDS,
        "_seq_no": seq_no,
        "_primary_term": 1,
    }


def shard_error(es, index, type_, reason):
    """The `error` of a failure on the index's one shard: its root cause carries the same fields."""
    uuid = es.indices.get(index=index)[index]["settings"]["index"]["uuid"]
    cause = {"type": type_, "reason": reason, "index_uuid": uuid, "shard": "0", "index": index}
    return {"root_cause": [cause], **cause}


def test_index_then_overwrite(es):
    first = es.index(index="docs", id="1", document={"title": "one"})
    assert first.meta.status == 201
    assert first.body == write_response("docs", "1", version=1, result="created", seq_no=0)
    second = es.index(index="docs", id="1", document={"title": "uno"}, refresh=True)
    assert second.meta.status == 200
    assert second.body == write_response(
        "docs", "1", version=2, result="updated", seq_no=1, forced_refresh=True
    )
    assert es.get(index="docs", id="1")["_source"] == {"title": "uno"}


def test_auto_generated_ids(es):
    resp = es.index(index="auto", document={"a": 1})
    assert resp.meta.status == 201
    assert re.fullmatch(r"[A-Za-z0-9_-]{20}", resp["_id"])
    assert es.get(index="auto", id=resp["_id"])["found"] is True


def test_create_conflicts_with_an_existing_document(es):
    es.create(index="c", id="7", document={"v": 1})
    es.index(index="c", id="7", document={"v": 2})
    with pytest.raises(ConflictError) as info:
        es.create(index="c", id="7", document={"v": 3})
    assert info.value.body["error"] == shard_error(
        es,
        "c",
        "version_conflict_engine_exception",
        "[7]: version conflict, document already exists (current version [2])",
    )
    with pytest.raises(ConflictError):
        es.index(index="c", id="7", document={"v": 3}, op_type="create")


def test_optimistic_concurrency(es):
    doc = es.index(index="occ", id="1", document={"v": 1})
    es.index(index="occ", id="1", document={"v": 2}, if_seq_no=doc["_seq_no"], if_primary_term=1)
    with pytest.raises(ConflictError) as info:
        es.index(index="occ", id="1", document={"v": 3}, if_seq_no=doc["_seq_no"], if_primary_term=1)
    assert info.value.body["error"]["reason"] == (
        "[1]: version conflict, required seqNo [0], primary term [1]. current document has seqNo [1] and primary "
        "term [1]"
    )


def test_get_head_and_missing(es):
    es.index(index="g", id="1", document={"a": {"b": 1, "c": 2}, "d": 3})
    got = es.get(index="g", id="1")
    assert got.body == {
        "_index": "g",
        "_id": "1",
        "_version": 1,
        "_seq_no": 0,
        "_primary_term": 1,
        "found": True,
        "_source": {"a": {"b": 1, "c": 2}, "d": 3},
    }
    assert es.get(index="g", id="1", source_includes="a.b")["_source"] == {"a": {"b": 1}}
    assert es.get(index="g", id="1", source_excludes="a")["_source"] == {"d": 3}
    assert "_source" not in es.get(index="g", id="1", source=False)
    with pytest.raises(NotFoundError) as info:
        es.get(index="g", id="2")
    assert info.value.body == {"_index": "g", "_id": "2", "found": False}
    with pytest.raises(NotFoundError) as info:
        es.get(index="nowhere", id="1")
    assert info.value.body["error"]["type"] == "index_not_found_exception"
    assert es.exists(index="g", id="1").body is True
    assert es.exists(index="g", id="2").body is False
    assert es.exists(index="nowhere", id="2").body is False


def test_delete(es):
    es.index(index="d", id="1", document={"a": 1})
    deleted = es.delete(index="d", id="1")
    assert deleted.body == write_response("d", "1", version=2, result="deleted", seq_no=1)
    with pytest.raises(NotFoundError) as info:
        es.delete(index="d", id="1")
    assert info.value.body == write_response("d", "1", version=1, result="not_found", seq_no=2)
    with pytest.raises(NotFoundError) as info:
        es.delete(index="nowhere", id="1")
    assert info.value.body["error"]["reason"] == "no such index [nowhere]"


def test_update_doc_upsert_and_noop(es):
    es.index(index="u", id="1", document={"a": 1, "nested": {"x": 1}})
    updated = es.update(index="u", id="1", doc={"b": 2, "nested": {"y": 2}})
    assert updated["result"] == "updated" and updated["_version"] == 2
    assert es.get(index="u", id="1")["_source"] == {"a": 1, "nested": {"x": 1, "y": 2}, "b": 2}
    noop = es.update(index="u", id="1", doc={"b": 2})
    assert noop["result"] == "noop" and noop["_version"] == 2
    assert noop["_shards"] == {"total": 0, "successful": 0, "failed": 0}
    created = es.update(index="u", id="2", doc={"fresh": True}, doc_as_upsert=True)
    assert created.meta.status == 201 and created["result"] == "created"
    es.update(index="u", id="3", doc={"ignored": 1}, upsert={"from": "upsert"})
    assert es.get(index="u", id="3")["_source"] == {"from": "upsert"}
    with pytest.raises(NotFoundError) as info:
        es.update(index="u", id="9", doc={"a": 1})
    assert info.value.body["error"] == shard_error(
        es, "u", "document_missing_exception", "[9]: document missing"
    )


def test_bulk_per_item_results(es):
    es.indices.create(index="b", mappings={"properties": {"n": {"type": "long"}}})
    resp = es.bulk(
        operations=[
            {"index": {"_index": "b", "_id": "1"}},
            {"n": 1},
            {"create": {"_index": "b", "_id": "1"}},
            {"n": 2},
            {"index": {"_index": "b", "_id": "2"}},
            {"n": "not a number"},
            {"update": {"_index": "b", "_id": "1"}},
            {"doc": {"n": 10}},
            {"update": {"_index": "b", "_id": "404"}},
            {"doc": {"n": 10}},
            {"delete": {"_index": "b", "_id": "1"}},
            {"delete": {"_index": "b", "_id": "1"}},
            {"index": {"_index": "other"}},
            {"n": 3},
        ]
    )
    assert resp["errors"] is True
    assert isinstance(resp["took"], int)
    items = resp["items"]
    assert [next(iter(i)) for i in items] == [
        "index",
        "create",
        "index",
        "update",
        "update",
        "delete",
        "delete",
        "index",
    ]
    assert [next(iter(i.values()))["status"] for i in items] == [201, 409, 400, 200, 404, 200, 404, 201]
    assert items[0]["index"] == {
        **write_response("b", "1", version=1, result="created", seq_no=0),
        "status": 201,
    }
    conflict = items[1]["create"]
    assert set(conflict) == {"_index", "_id", "status", "error"}
    assert conflict["error"]["type"] == "version_conflict_engine_exception"
    assert items[2]["index"]["error"]["type"] == "document_parsing_exception"
    assert items[3]["update"]["result"] == "updated"
    assert items[4]["update"]["error"]["type"] == "document_missing_exception"
    assert items[5]["delete"]["result"] == "deleted" and items[6]["delete"]["result"] == "not_found"
    assert "ingest_took" not in resp
    assert es.indices.exists(index="other")  # auto-created


def test_bulk_without_errors_and_with_default_index(es):
    resp = es.bulk(index="dflt", operations=[{"index": {"_id": "a"}}, {"x": 1}, {"index": {}}, {"x": 2}])
    assert resp["errors"] is False
    assert [i["index"]["_index"] for i in resp["items"]] == ["dflt", "dflt"]
    assert es.count(index="dflt")["count"] == 2


def test_bulk_request_errors(es, sandbox):
    with pytest.raises(BadRequestError) as info:
        es.bulk(operations=[{"index": {}}, {"x": 1}])
    assert info.value.body["error"]["reason"] == "Validation Failed: 1: index is missing;"
    with pytest.raises(BadRequestError) as info:
        es.bulk(operations=[{"upsert": {"_index": "x"}}, {"x": 1}])
    assert info.value.body["error"]["reason"] == (
        "Malformed action/metadata line [1], expected field [create], [delete], [index] or [update] but found [upsert]"
    )
    no_newline = httpx.post(
        sandbox.url + "/_bulk",
        content=b'{"index":{"_index":"x"}}\n{"a":1}',
        headers={"content-type": "application/x-ndjson"},
        timeout=10,
    )
    assert no_newline.status_code == 400
    assert no_newline.json()["error"]["reason"] == "The bulk request must be terminated by a newline [\\n]"
    empty = httpx.post(
        sandbox.url + "/_bulk", content=b"\n", headers={"content-type": "application/x-ndjson"}, timeout=10
    )
    assert empty.json()["error"]["reason"] == "Validation Failed: 1: no requests added;"


def test_bulk_pipelines(es):
    es.ingest.put_pipeline(id="mark", processors=[{"set": {"field": "by", "value": "mark"}}])
    es.ingest.put_pipeline(id="other", processors=[{"set": {"field": "by", "value": "other"}}])
    es.ingest.put_pipeline(id="final", processors=[{"set": {"field": "final", "value": True}}])
    es.ingest.put_pipeline(id="boom", processors=[{"fail": {"message": "no thanks"}}])
    es.indices.create(index="p", settings={"index.default_pipeline": "mark", "index.final_pipeline": "final"})
    resp = es.bulk(
        operations=[
            {"index": {"_index": "p", "_id": "default"}},
            {"a": 1},
            {"index": {"_index": "p", "_id": "item", "pipeline": "other"}},
            {"a": 1},
            {"index": {"_index": "p", "_id": "none", "pipeline": "_none"}},
            {"a": 1},
            {"index": {"_index": "p", "_id": "fails", "pipeline": "boom"}},
            {"a": 1},
            {"index": {"_index": "p", "_id": "ghost", "pipeline": "ghost"}},
            {"a": 1},
        ]
    )
    assert "ingest_took" in resp
    sources = {i: es.get(index="p", id=i)["_source"] for i in ("default", "item", "none")}
    assert sources == {
        "default": {"a": 1, "by": "mark", "final": True},
        "item": {"a": 1, "by": "other", "final": True},
        "none": {"a": 1, "final": True},
    }
    failed = resp["items"][3]["index"]
    assert failed["status"] == 500
    assert failed["error"]["type"] == "fail_processor_exception"
    assert failed["error"]["reason"] == "no thanks"
    ghost = resp["items"][4]["index"]
    assert ghost["status"] == 400
    assert ghost["error"] == {
        "type": "illegal_argument_exception",
        "reason": "pipeline with id [ghost] does not exist",
    }
    assert not es.exists(index="p", id="fails") and not es.exists(index="p", id="ghost")
    via_param = es.bulk(pipeline="other", operations=[{"index": {"_index": "plain", "_id": "1"}}, {"a": 1}])
    assert via_param["errors"] is False
    assert es.get(index="plain", id="1")["_source"] == {"a": 1, "by": "other"}
    es.index(index="plain", id="2", document={"a": 2}, pipeline="mark")
    assert es.get(index="plain", id="2")["_source"] == {"a": 2, "by": "mark"}


def test_bulk_of_a_thousand_docs(es):
    operations = []
    for i in range(1000):
        operations += [
            {"index": {"_index": "fast", "_id": str(i)}},
            {"title": f"document number {i}", "n": i},
        ]
    resp = es.bulk(operations=operations)
    assert resp["errors"] is False and len(resp["items"]) == 1000
    assert es.count(index="fast")["count"] == 1000


# --- the write path, in process: the pipelines run concurrently and failures stay per item ---------------


class _SlowIngest:
    def __init__(self) -> None:
        self.running = 0
        self.peak = 0

    async def run(self, pipeline_id: str, doc: dict, executed: list[str] | None = None) -> dict | None:
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.05)
        self.running -= 1
        if doc["_source"].get("reject"):
            raise EsError(
                429, "status_exception", "inference process queue is full. Unable to execute command"
            )
        return {**doc, "_source": {**doc["_source"], "seen_by": pipeline_id}}


def test_bulk_runs_pipelines_concurrently():
    cluster = Cluster(SandboxConfig())
    cluster.ingest = _SlowIngest()
    actions = [BulkAction("index", "conc", str(i), {"i": i, "reject": i == 7}) for i in range(100)]
    resp = asyncio.run(cluster.documents.bulk(actions, pipeline="embed"))
    assert cluster.ingest.peak == 100  # all 100 pipelines were in flight at once
    assert resp["errors"] is True
    rejected = resp["items"][7]["index"]
    assert rejected == {
        "_index": "conc",
        "_id": "7",
        "status": 429,
        "error": {
            "type": "status_exception",
            "reason": "inference process queue is full. Unable to execute command",
        },
    }
    index = cluster.indices.get("conc")
    assert len(index) == 99
    assert index.docs["3"].source == {"i": 3, "reject": False, "seen_by": "embed"}
