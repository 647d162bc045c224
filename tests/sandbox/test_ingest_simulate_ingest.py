"""`POST _ingest/_simulate` with the real elasticsearch-py client: each document through the pipelines
indexing it would run (the index default, nested pipeline processors, the final pipeline, or the
`pipeline` parameter), listed in executed_pipelines, checked against the index's mapping, never stored."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError


@pytest.fixture
def piped(es):
    es.ingest.put_pipeline(id="inner", processors=[{"set": {"field": "inner", "value": 1}}])
    es.ingest.put_pipeline(
        id="outer", processors=[{"pipeline": {"name": "inner"}}, {"uppercase": {"field": "foo"}}]
    )
    es.ingest.put_pipeline(id="fin", processors=[{"set": {"field": "fin", "value": True}}])
    es.indices.create(
        index="idx",
        settings={"index.default_pipeline": "outer", "index.final_pipeline": "fin"},
        mappings={"properties": {"n": {"type": "long"}}},
    )
    return es


def test_documents_go_through_the_pipelines_indexing_would_run(piped):
    docs = piped.simulate.ingest(
        docs=[
            {"_index": "idx", "_id": "1", "_source": {"foo": "bar"}},
            {"_index": "plain", "_source": {"foo": "x"}},
        ]
    )["docs"]
    assert docs[0] == {
        "doc": {
            "_id": "1",
            "_index": "idx",
            "_version": -3,
            "_source": {"foo": "BAR", "inner": 1, "fin": True},
            "executed_pipelines": ["outer", "inner", "fin"],
        }
    }
    assert docs[1]["doc"]["executed_pipelines"] == [] and docs[1]["doc"]["_source"] == {"foo": "x"}
    only = piped.simulate.ingest(index="idx", pipeline="inner", docs=[{"_source": {"foo": "bar"}}])["docs"][
        0
    ]["doc"]
    assert only["executed_pipelines"] == ["inner", "fin"]
    assert not piped.indices.exists(index="plain") and piped.count(index="idx")["count"] == 0


def test_mapping_errors_and_bad_requests(piped):
    doc = piped.simulate.ingest(docs=[{"_index": "idx", "_source": {"foo": "a", "n": "many"}}])["docs"][0][
        "doc"
    ]
    assert doc["error"]["type"] == "document_parsing_exception"
    assert doc["_source"] == {"foo": "A", "n": "many", "inner": 1, "fin": True}
    failed = piped.simulate.ingest(docs=[{"_index": "idx", "_source": {"n": 1}}])["docs"][0]["doc"]
    assert failed["error"]["reason"] == "field [foo] not present as part of path [foo]"
    assert failed["_source"] == {"n": 1} and failed["executed_pipelines"] == ["outer", "inner"]
    with pytest.raises(BadRequestError) as refused:
        piped.simulate.ingest(docs=[{"_source": {"foo": "bar"}}])
    assert refused.value.body["error"]["reason"] == "Validation Failed: 1: index is missing;"
