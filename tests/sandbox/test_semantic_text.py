"""semantic_text with the real client: ingestion on every write path into `_inference_fields`, the
per-item failures, `model_settings` in the mapping, and the queries and highlighting on it."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from tests.sandbox.ml_support import api_error, arm_faults, assert_error, strict

ES_SENTENCE = (
    "Elasticsearch is an open source, distributed, RESTful, search engine which is built on top of Lucene "
    "internally and enjoys all the features it provides."
)
E5 = ".multilingual-e5-small-elasticsearch"
WORDS_10_1 = {"strategy": "word", "max_chunk_size": 10, "overlap": 1}


def stored(es: Elasticsearch, index: str, doc_id: str) -> dict:
    """The stored source, `_inference_fields` included (9.2+: `_source.exclude_vectors: false`)."""
    return es.get(index=index, id=doc_id, source_exclude_vectors=False)["_source"]


def inference_of(es: Elasticsearch, index: str, doc_id: str, field: str = "body") -> dict:
    return stored(es, index, doc_id)["_inference_fields"][field]["inference"]


def field_mapping(es: Elasticsearch, index: str, field: str = "body") -> dict:
    return es.indices.get_mapping(index=index)[index]["mappings"]["properties"][field]


@pytest.fixture
def sparse(es):
    es.indices.create(
        index="docs", mappings={"properties": {"body": {"type": "semantic_text"}, "title": {"type": "text"}}}
    )
    return es


def test_a_document_is_chunked_embedded_and_stored_in_inference_fields(sparse):
    es = sparse
    assert "model_settings" not in field_mapping(es, "docs")
    assert es.index(index="docs", id="1", document={"body": ES_SENTENCE})["result"] == "created"
    inference = inference_of(es, "docs", "1")
    assert inference["inference_id"] == ".elser-2-elasticsearch"
    assert inference["model_settings"] == {"service": "elasticsearch", "task_type": "sparse_embedding"}
    (chunk,) = inference["chunks"]["body"]
    assert (chunk["start_offset"], chunk["end_offset"]) == (0, len(ES_SENTENCE))
    assert {"elasticsearch", "lucene"} <= set(chunk["embeddings"])
    assert field_mapping(es, "docs")["model_settings"] == {
        "service": "elasticsearch",
        "task_type": "sparse_embedding",
    }
    assert es.get(index="docs", id="1")["_source"] == {"body": ES_SENTENCE}  # the chunks are not in _source


def test_arrays_blank_values_and_nulls(sparse):
    es = sparse
    es.index(index="docs", id="a", document={"body": ["some test data", "    ", "now with chunks"]})
    offsets = [(c["start_offset"], c["end_offset"]) for c in inference_of(es, "docs", "a")["chunks"]["body"]]
    assert offsets == [(0, 14), (20, 35)]  # values joined by one character; the blank one has no chunk
    for doc_id, body in (("blank", "   "), ("empty", ""), ("null", None)):
        es.index(index="docs", id=doc_id, document={"body": body})
        assert "_inference_fields" not in stored(es, "docs", doc_id)
    es.index(index="docs", id="n", document={"body": 75})
    assert [
        (c["start_offset"], c["end_offset"]) for c in inference_of(es, "docs", "n")["chunks"]["body"]
    ] == [(0, 2)]


def test_chunking_settings_of_the_mapping_win_over_the_endpoint(es):
    es.indices.create(
        index="e5",
        mappings={
            "properties": {
                "body": {"type": "semantic_text", "inference_id": E5, "chunking_settings": WORDS_10_1}
            }
        },
    )
    es.index(index="e5", id="1", document={"body": ES_SENTENCE})
    inference = inference_of(es, "e5", "1")
    assert inference["chunking_settings"] == WORDS_10_1
    assert inference["model_settings"] == {
        "service": "elasticsearch",
        "task_type": "text_embedding",
        "dimensions": 384,
        "similarity": "cosine",
        "element_type": "float",
    }
    chunks = inference["chunks"]["body"]
    assert [ES_SENTENCE[c["start_offset"] : c["end_offset"]] for c in chunks] == [
        "Elasticsearch is an open source, distributed, RESTful, search engine which",
        " which is built on top of Lucene internally and enjoys",
        " enjoys all the features it provides.",
    ]
    assert all(len(c["embeddings"]) == 384 for c in chunks)


def test_embeddings_brought_along_are_kept(sparse):
    es = sparse
    brought = {
        "inference_id": ".elser-2-elasticsearch",
        "model_settings": {"task_type": "sparse_embedding"},
        "chunks": {"body": [{"start_offset": 0, "end_offset": 5, "embeddings": {"feature_0": 1.0}}]},
    }
    es.index(
        index="docs",
        id="byo",
        document={"body": "hello world", "_inference_fields.body": {"inference": brought}},
    )
    assert inference_of(es, "docs", "byo") == brought


def test_per_item_failures(sparse):
    es = sparse
    es.indices.create(
        index="orphan", mappings={"properties": {"body": {"type": "semantic_text", "inference_id": "nope"}}}
    )
    result = es.bulk(
        operations=[
            {"index": {"_index": "orphan", "_id": "1"}},
            {"body": "no endpoint"},
            {"index": {"_index": "docs", "_id": "2"}},
            {"body": "fine"},
            {"update": {"_index": "docs", "_id": "2"}},
            {"script": {"source": "ctx._source.x = 1"}},
        ]
    ).body
    missing, ok, scripted = (next(iter(i.values())) for i in result["items"])
    assert result["errors"] is True and ok["status"] == 201
    assert missing["status"] == 404
    assert missing["error"] == {
        "type": "resource_not_found_exception",
        "reason": "Inference id [nope] not found for field [body]",
    }
    assert scripted["status"] == 400
    assert scripted["error"] == {
        "type": "status_exception",
        "reason": "Cannot apply update with a script on indices that contain [semantic_text] field(s)",
    }
    exc = api_error(lambda: es.index(index="orphan", id="1", document={"body": "single"}))
    assert_error(exc, 404, "resource_not_found_exception", "Inference id [nope] not found for field [body]")


def test_a_rejected_inference_fails_the_items_of_its_request_with_the_cause(sparse):
    es = sparse
    es.index(index="docs", id="warm", document={"body": "deploys the endpoint"})
    arm_faults(es, inference_rejection={"burst": 1})
    operations = [
        {"index": {"_index": "docs", "_id": "1"}},
        {"body": "rejected"},
        {"index": {"_index": "docs", "_id": "2"}},
        {"body": "with it"},
    ]
    result = strict(es).bulk(operations=operations).body
    expected = {
        "type": "inference_exception",
        "reason": "Exception when running inference id [.elser-2-elasticsearch] on field [body]",
        "caused_by": {
            "type": "es_rejected_execution_exception",
            "reason": "inference process queue is full. Unable to execute command",
        },
    }
    # Both chunks went in one inference request of up to 10: its rejection fails both items.
    assert [(i["index"]["status"], i["index"]["error"]) for i in result["items"]] == [(429, expected)] * 2
    retried = strict(es).bulk(operations=operations).body
    assert retried["errors"] is False


def test_an_update_re_embeds_the_fields_it_changes_and_keeps_the_others(es):
    es.indices.create(
        index="two",
        mappings={
            "properties": {"a": {"type": "semantic_text"}, "b": {"type": "semantic_text", "inference_id": E5}}
        },
    )
    es.index(index="two", id="1", document={"a": "first text", "b": "second text"})
    before = stored(es, "two", "1")["_inference_fields"]
    es.update(index="two", id="1", doc={"a": "changed text"})
    after = stored(es, "two", "1")["_inference_fields"]
    assert after["b"] == before["b"]
    assert "changed" in after["a"]["inference"]["chunks"]["a"][0]["embeddings"]


# --- queries --------------------------------------------------------------------------------------------


def corpus(es: Elasticsearch, index: str = "docs") -> None:
    docs = {
        "es": ES_SENTENCE,
        "cats": "Cats sleep most of the day and hunt small animals at night.",
        "bread": "Bread rises because yeast ferments the sugars in the dough.",
    }
    for doc_id, body in docs.items():
        es.index(index=index, id=doc_id, document={"body": body, "title": doc_id})


@pytest.mark.parametrize(
    "query",
    [
        {"semantic": {"field": "body", "query": "search engine on Lucene"}},
        {"match": {"body": "search engine on Lucene"}},
        {"sparse_vector": {"field": "body", "query": "search engine on Lucene"}},
    ],
)
def test_semantic_match_and_sparse_vector_rank_by_the_best_chunk(sparse, query):
    corpus(sparse)
    hits = sparse.search(index="docs", query=query)["hits"]["hits"]
    assert hits[0]["_id"] == "es"
    assert hits[0]["_source"] == {"body": ES_SENTENCE, "title": "es"}


def test_dense_semantic_query(es):
    es.indices.create(
        index="dense", mappings={"properties": {"body": {"type": "semantic_text", "inference_id": E5}}}
    )
    corpus(es, "dense")
    hits = es.search(index="dense", query={"semantic": {"field": "body", "query": "yeast in the dough"}})[
        "hits"
    ]["hits"]
    assert hits[0]["_id"] == "bread"
    assert all(0.0 <= h["_score"] <= 1.0 for h in hits)  # (1 + cosine) / 2


def test_semantic_query_errors(sparse):
    es = sparse
    corpus(es)
    exc = api_error(lambda: es.search(index="docs", query={"semantic": {"field": "title", "query": "x"}}))
    assert exc.meta.status == 400
    assert exc.body["error"]["type"] == "search_phase_execution_exception"
    assert exc.body["error"]["root_cause"][0] == {
        "type": "illegal_argument_exception",
        "reason": "Field [title] of type [text] does not support semantic queries",
    }
    assert (
        es.search(index="docs", query={"semantic": {"field": "nowhere", "query": "x"}})["hits"]["total"][
            "value"
        ]
        == 0
    )
    es.indices.create(
        index="orphan", mappings={"properties": {"body": {"type": "semantic_text", "inference_id": "gone"}}}
    )
    exc = api_error(lambda: es.search(index="orphan", query={"semantic": {"field": "body", "query": "x"}}))
    assert_error(exc, 404, "resource_not_found_exception", "Inference endpoint not found [gone]")


def test_exists_counts_documents_with_chunks(sparse):
    es = sparse
    corpus(es)
    es.index(index="docs", id="blank", document={"body": "  "})
    es.index(index="docs", id="none", document={"title": "no body"})
    lacking = es.count(index="docs", query={"bool": {"must_not": {"exists": {"field": "body"}}}})["count"]
    assert (es.count(index="docs", query={"exists": {"field": "body"}})["count"], lacking) == (3, 2)


def test_semantic_highlighting_returns_chunk_texts(es):
    es.indices.create(
        index="words",
        mappings={"properties": {"body": {"type": "semantic_text", "chunking_settings": WORDS_10_1}}},
    )
    es.index(index="words", id="1", document={"body": ES_SENTENCE})
    query = {"semantic": {"field": "body", "query": "which enjoys Lucene"}}
    chunks = [
        "Elasticsearch is an open source, distributed, RESTful, search engine which",
        " which is built on top of Lucene internally and enjoys",
        " enjoys all the features it provides.",
    ]
    hit = es.search(
        index="words",
        query=query,
        highlight={"fields": {"body": {"type": "semantic", "number_of_fragments": 3}}},
    )
    assert hit["hits"]["hits"][0]["highlight"] == {"body": chunks}
    best = es.search(
        index="words",
        query=query,
        highlight={"fields": {"body": {"number_of_fragments": 1, "order": "score"}}},
    )
    assert best["hits"]["hits"][0]["highlight"] == {"body": [chunks[1]]}  # it holds all three terms


# --- reindex ----------------------------------------------------------------------------------------------


def test_reindex_embeds_again_unless_the_embeddings_are_copied(es):
    es.indices.create(index="src", mappings={"properties": {"body": {"type": "semantic_text"}}})
    es.index(index="src", id="1", document={"body": "copied or embedded again"})
    es.indices.create(
        index="dense", mappings={"properties": {"body": {"type": "semantic_text", "inference_id": E5}}}
    )
    result = es.reindex(
        source={"index": "src"}, dest={"index": "dense"}, wait_for_completion=True, refresh=True
    )
    assert (result["created"], result["failures"]) == (1, [])
    assert inference_of(es, "dense", "1")["inference_id"] == E5  # embedded by the destination's endpoint
    es.indices.create(index="same", mappings={"properties": {"body": {"type": "semantic_text"}}})
    copied = es.reindex(
        source={"index": "src", "_source": {"exclude_vectors": False}},
        dest={"index": "same"},
        wait_for_completion=True,
    )
    assert copied["created"] == 1
    assert inference_of(es, "same", "1") == inference_of(es, "src", "1")
    exc = api_error(
        lambda: es.reindex(
            source={"index": "src", "_source": {"exclude_vectors": False}},
            dest={"index": "dense"},
            wait_for_completion=True,
        )
    )
    mismatch = exc.body
    (failure,) = mismatch["failures"]
    assert failure["status"] == 400
    assert failure["cause"] == {
        "type": "document_parsing_exception",
        "reason": f"The configured inference_id [{E5}] for field [body] doesn't match the inference_id "
        "[.elser-2-elasticsearch] reported in the document.",
    }


def test_knn_on_semantic_text_takes_the_model_from_the_field(es):
    es.indices.create(
        index="dense", mappings={"properties": {"body": {"type": "semantic_text", "inference_id": E5}}}
    )
    corpus(es, "dense")
    builder = {"text_embedding": {"model_text": "yeast in the dough"}}
    hits = es.search(
        index="dense",
        query={"knn": {"field": "body", "k": 2, "num_candidates": 10, "query_vector_builder": builder}},
    )["hits"]["hits"]
    assert [h["_id"] for h in hits][0] == "bread" and len(hits) == 2
    top_level = es.search(
        index="dense", knn={"field": "body", "k": 1, "num_candidates": 5, "query_vector_builder": builder}
    )
    assert [h["_id"] for h in top_level["hits"]["hits"]] == ["bread"]
    es.indices.create(index="plain", mappings={"properties": {"body": {"type": "dense_vector", "dims": 384}}})
    exc = api_error(
        lambda: es.search(
            index="dense,plain", query={"knn": {"field": "body", "query_vector_builder": builder}}
        )
    )
    assert_error(exc, 400, "illegal_argument_exception", "[model_id] must not be null.")


# --- the mapping --------------------------------------------------------------------------------------------


def test_the_mapping_shows_the_endpoint_then_learns_the_model_settings(es):
    es.indices.create(
        index="m",
        mappings={
            "properties": {
                "body": {"type": "semantic_text"},
                "unset": {"type": "semantic_text", "chunking_settings": None},
                "words": {"type": "semantic_text", "inference_id": E5, "chunking_settings": WORDS_10_1},
            }
        },
    )
    props = es.indices.get_mapping(index="m")["m"]["mappings"]["properties"]
    assert props["body"] == {"type": "semantic_text", "inference_id": ".elser-2-elasticsearch"}
    assert props["unset"] == {"type": "semantic_text", "inference_id": ".elser-2-elasticsearch"}
    assert props["words"] == {"type": "semantic_text", "inference_id": E5, "chunking_settings": WORDS_10_1}
    es.index(index="m", id="1", document={"words": "learns its model"})
    assert field_mapping(es, "m", "words") == {
        "type": "semantic_text",
        "inference_id": E5,
        "model_settings": {
            "service": "elasticsearch",
            "task_type": "text_embedding",
            "dimensions": 384,
            "similarity": "cosine",
            "element_type": "float",
        },
        "chunking_settings": WORDS_10_1,
    }
    es.indices.put_mapping(
        index="m", properties={"body": {"type": "semantic_text", "chunking_settings": WORDS_10_1}}
    )
    assert field_mapping(es, "m")["chunking_settings"] == WORDS_10_1
    es.indices.put_mapping(index="m", properties={"body": {"type": "semantic_text"}})
    assert "chunking_settings" not in field_mapping(es, "m")


@pytest.mark.parametrize(
    ("chunking", "reason"),
    [
        (
            {**WORDS_10_1, "extra": "stuff"},
            "Validation Failed: 1: Word based chunking settings can not have the following settings: [extra];",
        ),
        (
            {"strategy": "word"},
            "Validation Failed: 1: [chunking_settings] does not contain the required setting [max_chunk_size];",
        ),
        ({"strategy": "invalid"}, "Invalid chunkingStrategy invalid"),
    ],
)
def test_invalid_chunking_settings_are_refused(es, chunking, reason):
    mappings = {"properties": {"body": {"type": "semantic_text", "chunking_settings": chunking}}}
    exc = api_error(lambda: es.indices.create(index="bad", mappings=mappings))
    assert_error(exc, 400, "mapper_parsing_exception", f"Failed to parse mapping: {reason}")


def test_before_9_2_inference_fields_are_never_part_of_the_source(start_sandbox):
    """`_source.exclude_vectors` came with 9.2; before it `_inference_fields` is metadata only, kept out of
    every `_source` (get, search), whatever the request asks."""
    es = Elasticsearch(start_sandbox(version="9.1.5").url)
    es.indices.create(index="old", mappings={"properties": {"body": {"type": "semantic_text"}}})
    es.index(index="old", id="1", document={"body": "hello world"}, refresh=True)
    assert es.get(index="old", id="1")["_source"] == {"body": "hello world"}
    assert es.search(index="old")["hits"]["hits"][0]["_source"] == {"body": "hello world"}
