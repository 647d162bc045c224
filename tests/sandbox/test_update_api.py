"""The `_update` API as TransportUpdateAction runs it, beside an update inside `_bulk`: the single-document
API resolves the update against the stored document first (script run, doc merged, upsert taken), then
writes what it resolved to as a bulk of one, so the index's pipelines run on the whole resolved
document and semantic_text fields are embedded again; a bulk update runs the pipelines on its upsert
only, before the shard applies it, and keeps the embeddings of the semantic_text fields its doc leaves
out."""

from __future__ import annotations

import pytest

from tests.sandbox.ml_support import api_error, assert_error, strict
from tests.sandbox.test_semantic_text import stored

SHOUT = {"processors": [{"uppercase": {"field": "title"}}, {"set": {"field": "piped", "value": True}}]}


@pytest.fixture
def piped(es):
    es.ingest.put_pipeline(id="shout", **SHOUT)
    es.indices.create(
        index="piped",
        settings={"index.default_pipeline": "shout"},
        mappings={"properties": {"title": {"type": "keyword"}, "n": {"type": "long"}}},
    )
    es.index(index="piped", id="1", document={"title": "one", "n": 1})
    return es


def source(es, doc_id: str) -> dict:
    return es.get(index="piped", id=doc_id)["_source"]


def test_the_update_api_runs_the_pipeline_on_the_document_the_update_resolves_to(piped):
    es = piped
    assert source(es, "1") == {"title": "ONE", "n": 1, "piped": True}
    # the script runs on the stored document, the pipeline on what it made of it
    resp = es.update(index="piped", id="1", script={"source": "ctx._source.title = 'two'; ctx._source.n++"})
    assert (resp.meta.status, resp["result"], resp["_version"]) == (200, "updated", 2)
    assert source(es, "1") == {"title": "TWO", "n": 2, "piped": True}
    es.update(index="piped", id="1", doc={"title": "three"})
    assert source(es, "1") == {"title": "THREE", "n": 2, "piped": True}
    # a scripted upsert: the script runs on the upsert, the pipeline on its result
    created = es.update(
        index="piped",
        id="2",
        script={"source": "ctx._source.title = 'scripted'"},
        upsert={"title": "new"},
        scripted_upsert=True,
    )
    assert (created.meta.status, created["result"]) == (201, "created")
    assert source(es, "2") == {"title": "SCRIPTED", "piped": True}
    # an update that changes nothing writes nothing
    noop = es.update(index="piped", id="1", doc={"title": "THREE"})
    assert (noop["result"], noop["_version"]) == ("noop", 3)


def test_a_bulk_update_runs_the_pipeline_on_its_upsert_only(piped):
    es = piped
    resp = es.bulk(
        operations=[
            {"update": {"_index": "piped", "_id": "1"}},
            {"doc": {"title": "merged"}},
            {"update": {"_index": "piped", "_id": "3"}},
            {
                "script": {"source": "ctx._source.title = 'scripted'"},
                "upsert": {"title": "new"},
                "scripted_upsert": True,
            },
        ]
    )
    assert [i["update"]["status"] for i in resp["items"]] == [200, 201]
    assert source(es, "1") == {"title": "merged", "n": 1, "piped": True}  # the doc was merged on the shard
    assert source(es, "3") == {"title": "scripted", "piped": True}  # the pipeline ran before the script


def test_an_update_api_conditional_on_an_old_version_is_refused(piped):
    es = piped
    exc = api_error(
        lambda: strict(es).update(index="piped", id="1", doc={"n": 5}, if_seq_no=7, if_primary_term=1)
    )
    assert_error(
        exc,
        409,
        "version_conflict_engine_exception",
        "[1]: version conflict, required seqNo [7], primary term [1]. current document has seqNo [0] and primary "
        "term [1]",
    )
    deleted = es.update(index="piped", id="1", script={"source": "ctx.op = 'delete'"})
    assert deleted["result"] == "deleted"
    assert not es.exists(index="piped", id="1")


# --- semantic_text ------------------------------------------------------------------------------------------


def inferences(es) -> int:
    """Inferences the default ELSER endpoint's deployment has run (one per chunk)."""
    stats = es.ml.get_trained_models_stats(model_id=".elser-2-elasticsearch")["trained_model_stats"]
    return sum(n.get("inference_count", 0) for s in stats for n in s["deployment_stats"]["nodes"])


@pytest.fixture
def two_fields(es):
    es.indices.create(
        index="two",
        mappings={
            "properties": {
                "a": {"type": "semantic_text"},
                "b": {"type": "semantic_text"},
                "n": {"type": "long"},
            }
        },
    )
    es.index(index="two", id="1", document={"a": "first text", "b": "second text", "n": 1})
    return es


def test_a_bulk_update_keeps_the_embeddings_of_the_fields_it_leaves_out(two_fields):
    es = two_fields
    before, count = stored(es, "two", "1")["_inference_fields"], inferences(es)
    resp = es.bulk(operations=[{"update": {"_index": "two", "_id": "1"}}, {"doc": {"a": "changed text"}}])
    assert resp["errors"] is False
    after = stored(es, "two", "1")["_inference_fields"]
    assert inferences(es) == count + 1  # `a` embedded again, `b` not
    assert after["b"] == before["b"]
    assert after["a"]["inference"]["chunks"]["a"] == [
        {
            "start_offset": 0,
            "end_offset": 12,
            "embeddings": after["a"]["inference"]["chunks"]["a"][0]["embeddings"],
        }
    ]


def test_the_update_api_embeds_every_semantic_text_field_again(two_fields):
    es = two_fields
    count = inferences(es)
    es.update(index="two", id="1", doc={"n": 2})
    assert inferences(es) == count + 2  # the whole document was indexed again
    es.update(index="two", id="1", script={"source": "ctx._source.a = 'scripted change'"})
    inference = stored(es, "two", "1")["_inference_fields"]["a"]["inference"]
    assert [(c["start_offset"], c["end_offset"]) for c in inference["chunks"]["a"]] == [(0, 15)]
    assert "scripted" in inference["chunks"]["a"][0]["embeddings"]


def test_a_scripted_update_inside_a_bulk_is_refused_on_a_semantic_text_index(two_fields):
    es = two_fields
    resp = es.bulk(
        operations=[{"update": {"_index": "two", "_id": "1"}}, {"script": {"source": "ctx._source.a = 'no'"}}]
    )
    assert resp["items"][0]["update"]["status"] == 400
    assert resp["items"][0]["update"]["error"] == {
        "type": "status_exception",
        "reason": "Cannot apply update with a script on indices that contain [semantic_text] field(s)",
    }
    assert es.get(index="two", id="1")["_source"]["a"] == "first text"


def test_a_bulk_update_setting_a_field_to_null_clears_its_chunks(two_fields):
    es = two_fields
    before = stored(es, "two", "1")["_inference_fields"]
    es.bulk(operations=[{"update": {"_index": "two", "_id": "1"}}, {"doc": {"a": None}}], refresh=True)
    after = stored(es, "two", "1")
    assert after["a"] is None
    # the doc's empty chunk list replaced the stored one; the other field and the model settings stay
    assert after["_inference_fields"]["a"]["inference"]["chunks"] == {"a": []}
    assert (
        after["_inference_fields"]["a"]["inference"]["model_settings"]
        == before["a"]["inference"]["model_settings"]
    )
    assert after["_inference_fields"]["b"] == before["b"]
    assert es.count(index="two", query={"exists": {"field": "a"}})["count"] == 0
