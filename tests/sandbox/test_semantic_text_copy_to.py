"""semantic_text fed by `copy_to` (the pattern Elastic documents for keeping a lexical text field
beside its embeddings): the values of every field that copies to it are chunked per source field,
stored under that field's name in `_inference_fields`, searched, and highlighted from that field's
text; the copy_to target itself stays out of `_source`."""

from __future__ import annotations

import pytest

from tests.sandbox.ml_support import api_error, error_of
from tests.sandbox.test_semantic_text import ES_SENTENCE, WORDS_10_1, inference_of, stored

TITLE = "Galaxies and black holes"
BODY = (
    "Elasticsearch is an open source, distributed, RESTful, search engine which is built on top of Lucene "
    "internally and enjoys all the features it provides."
)


@pytest.fixture
def copied(es):
    es.indices.create(
        index="docs",
        mappings={
            "properties": {
                "title": {"type": "text", "copy_to": "meaning"},
                "body": {"type": "text", "copy_to": ["meaning"]},
                "meaning": {"type": "semantic_text", "chunking_settings": WORDS_10_1},
            }
        },
    )
    es.index(index="docs", id="1", document={"title": TITLE, "body": BODY}, refresh=True)
    es.index(index="docs", id="2", document={"title": "Unrelated"}, refresh=True)
    return es


def test_each_source_field_is_chunked_and_stored_under_its_own_name(copied):
    inference = inference_of(copied, "docs", "1", field="meaning")
    chunks = inference["chunks"]
    # InferenceFieldMetadata's source fields (the field and those copying to it) are sorted by name
    assert list(chunks) == ["body", "title"]
    assert [(c["start_offset"], c["end_offset"]) for c in chunks["title"]] == [(0, len(TITLE))]
    # word/10/1 over the body, as yaml 25 chunks this sentence; offsets into the body's own text
    assert [BODY[c["start_offset"] : c["end_offset"]] for c in chunks["body"]] == [
        "Elasticsearch is an open source, distributed, RESTful, search engine which",
        " which is built on top of Lucene internally and enjoys",
        " enjoys all the features it provides.",
    ]
    assert stored(copied, "docs", "1").keys() == {"title", "body", "_inference_fields"}
    assert copied.get(index="docs", id="1")["_source"] == {"title": TITLE, "body": BODY}


def test_the_copy_to_target_is_searched_counted_and_highlighted_from_the_source_fields(copied):
    assert copied.count(index="docs", query={"exists": {"field": "meaning"}})["count"] == 2
    resp = copied.search(
        index="docs",
        query={"semantic": {"field": "meaning", "query": "built on Lucene"}},
        highlight={"fields": {"meaning": {"type": "semantic", "number_of_fragments": 1, "order": "score"}}},
    )
    best = resp["hits"]["hits"][0]
    assert best["_id"] == "1"
    assert best["highlight"]["meaning"] == [" which is built on top of Lucene internally and enjoys"]
    # the lexical field keeps answering lexically
    lexical = copied.search(index="docs", query={"match": {"body": "lucene"}})["hits"]["hits"]
    assert [h["_id"] for h in lexical] == ["1"]


def test_a_document_whose_source_fields_are_blank_has_no_chunks(copied):
    copied.index(index="docs", id="3", document={"title": "  ", "body": None}, refresh=True)
    assert "_inference_fields" not in stored(copied, "docs", "3")
    assert copied.count(index="docs", query={"exists": {"field": "meaning"}})["count"] == 2


# --- `fields` with `format: chunks` (9.2+) ---------------------------------------------------------------


def fetched(es, index: str, doc_id: str, fields: list) -> dict:
    hits = es.search(index=index, query={"ids": {"values": [doc_id]}}, fields=fields, source=False)
    return hits["hits"]["hits"][0].get("fields", {})


def test_the_chunks_format_returns_the_texts_of_the_chunks(es):
    es.indices.create(
        index="chunked",
        mappings={"properties": {"body": {"type": "semantic_text", "chunking_settings": WORDS_10_1}}},
    )
    es.index(index="chunked", id="1", document={"body": ES_SENTENCE})
    es.index(index="chunked", id="n", document={"body": 75}, refresh=True)
    assert fetched(es, "chunked", "1", [{"field": "body", "format": "chunks"}]) == {
        "body": [
            "Elasticsearch is an open source, distributed, RESTful, search engine which",
            " which is built on top of Lucene internally and enjoys",
            " enjoys all the features it provides.",
        ]
    }
    # without a format: the original values, as strings
    assert fetched(es, "chunked", "1", ["body"]) == {"body": [ES_SENTENCE]}
    assert fetched(es, "chunked", "n", ["body"]) == {"body": ["75"]}
    assert fetched(es, "chunked", "n", [{"field": "body", "format": "chunks"}]) == {"body": ["75"]}
    exc = api_error(lambda: fetched(es, "chunked", "1", [{"field": "body", "format": "text"}]))
    error = error_of(exc)
    assert exc.meta.status == 400
    assert (error["type"], error["reason"], error["phase"]) == (
        "search_phase_execution_exception",
        "all shards failed",
        "fetch",
    )
    assert error["root_cause"] == [
        {
            "type": "illegal_argument_exception",
            "reason": "Unknown format [text] for field [body], only [chunks] is supported.",
        }
    ]


def test_the_chunks_of_a_copy_to_target_come_from_each_source_field(copied):
    assert fetched(copied, "docs", "1", [{"field": "meaning", "format": "chunks"}]) == {
        "meaning": [
            "Elasticsearch is an open source, distributed, RESTful, search engine which",
            " which is built on top of Lucene internally and enjoys",
            " enjoys all the features it provides.",
            TITLE,
        ]
    }
    # the copy_to target has no value of its own in _source
    assert fetched(copied, "docs", "1", ["meaning"]) == {}
