"""Highlighting: the `highlight` section of a search (unified highlighter on text and keyword fields)."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError

LONG = (
    "Elasticsearch stores documents. It is built on Lucene and answers quickly. "
    "Semantic search needs embeddings, and embeddings need a model. The end."
)


@pytest.fixture
def docs(es):
    es.indices.create(
        index="docs",
        mappings={
            "properties": {
                "title": {"type": "text"},
                "body": {"type": "text"},
                "tag": {"type": "keyword"},
                "n": {"type": "long"},
            }
        },
    )
    es.index(index="docs", id="1", document={"title": "Quick brown fox", "body": LONG, "tag": "fox", "n": 1})
    es.index(index="docs", id="2", document={"title": "Slow turtle", "body": "nothing here", "tag": "turtle"})
    es.indices.refresh(index="docs")
    return es


def test_matching_fields_are_highlighted_with_em_tags(docs):
    resp = docs.search(
        index="docs", query={"match": {"title": "quick fox"}}, highlight={"fields": {"title": {}}}
    )
    hit = resp["hits"]["hits"][0]
    assert hit["highlight"] == {"title": ["<em>Quick</em> brown <em>fox</em>"]}
    assert len(resp["hits"]["hits"]) == 1


def test_fragments_are_sentences_in_document_order_or_by_score(docs):
    query = {"match": {"body": "embeddings lucene"}}
    resp = docs.search(index="docs", query=query, highlight={"fields": {"body": {}}})
    assert resp["hits"]["hits"][0]["highlight"]["body"] == [
        "It is built on <em>Lucene</em> and answers quickly.",
        "Semantic search needs <em>embeddings</em>, and <em>embeddings</em> need a model.",
    ]
    resp = docs.search(
        index="docs",
        query=query,
        highlight={"fields": {"body": {"number_of_fragments": 1, "order": "score"}}},
    )
    assert resp["hits"]["hits"][0]["highlight"]["body"] == [
        "Semantic search needs <em>embeddings</em>, and <em>embeddings</em> need a model."
    ]


def test_whole_value_tags_and_field_match(docs):
    resp = docs.search(
        index="docs",
        query={"match": {"body": "lucene"}},
        highlight={
            "pre_tags": ["<b>"],
            "post_tags": ["</b>"],
            "fields": [{"body": {"number_of_fragments": 0}}, {"title": {}}],
        },
    )
    highlight = resp["hits"]["hits"][0]["highlight"]
    assert highlight == {"body": [LONG.replace("Lucene", "<b>Lucene</b>")]}  # title: no query term there
    resp = docs.search(
        index="docs",
        query={"match": {"body": "fox"}},
        highlight={"require_field_match": False, "fields": {"t*": {}}},
    )
    assert resp["hits"]["hits"] == []
    resp = docs.search(
        index="docs",
        query={"term": {"tag": "fox"}},
        highlight={"require_field_match": False, "fields": {"t*": {}}},
    )
    assert resp["hits"]["hits"][0]["highlight"] == {
        "title": ["Quick brown <em>fox</em>"],
        "tag": ["<em>fox</em>"],
    }


def test_highlight_query_and_no_match_size(docs):
    resp = docs.search(
        index="docs",
        query={"match_all": {}},
        highlight={
            "fields": {"title": {"highlight_query": {"match": {"title": "turtle"}}, "no_match_size": 5}}
        },
        sort=["_doc"],
    )
    assert [h.get("highlight") for h in resp["hits"]["hits"]] == [
        {"title": ["Quick"]},
        {"title": ["Slow <em>turtle</em>"]},
    ]


def test_unknown_highlighter_types_and_fvh_without_term_vectors_fail_the_fetch_phase(docs):
    with pytest.raises(BadRequestError) as err:
        docs.search(
            index="docs", query={"match": {"title": "fox"}}, highlight={"fields": {"title": {"type": "nope"}}}
        )
    error = err.value.info["error"]
    assert error["type"] == "search_phase_execution_exception"
    assert error["phase"] == "fetch"
    assert error["root_cause"][0] == {
        "type": "illegal_argument_exception",
        "reason": "unknown highlighter type [nope] for the field [title]",
    }
    with pytest.raises(BadRequestError) as err:
        docs.search(
            index="docs", query={"match": {"title": "fox"}}, highlight={"fields": {"title": {"type": "fvh"}}}
        )
    assert err.value.info["error"]["root_cause"][0]["reason"] == (
        "the field [title] should be indexed with term vector with position offsets to be used with fast vector "
        "highlighter"
    )
