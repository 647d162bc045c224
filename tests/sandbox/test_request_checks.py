"""Requests the YAML REST tests and the route fuzz found answered unlike Elasticsearch, each checked as
ES parses it, with the real elasticsearch-py client: HEAD on `_source`, `_mget` entries that are not
objects, `_count`'s terminate_after, scroll ids and paging values of the wrong type, and date math index
names anchored on an explicit date."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError

from tests.sandbox.ml_support import status_type_reason


@pytest.fixture
def one_doc(es):
    es.index(index="docs", id="1", document={"t": "a"}, refresh=True)
    return es


def test_exists_source(one_doc):
    assert one_doc.exists_source(index="docs", id="1")
    assert not one_doc.exists_source(index="docs", id="2")


def test_mget_entries_must_be_objects(one_doc):
    with pytest.raises(BadRequestError) as refused:
        one_doc.mget(index="docs", body={"docs": [["1"]]})
    assert status_type_reason(refused.value) == (
        400,
        "illegal_argument_exception",
        "docs array element should include an object",
    )


def test_count_terminate_after(one_doc):
    es = one_doc
    with pytest.raises(BadRequestError) as refused:
        es.count(index="missing", terminate_after=-1)  # checked before the index is looked up
    assert status_type_reason(refused.value) == (
        400,
        "illegal_argument_exception",
        "terminateAfter must be > 0",
    )
    es.index(index="docs", id="2", document={"t": "b"}, refresh=True)
    capped = es.count(index="docs", terminate_after=1)
    assert (capped["count"], capped["terminated_early"]) == (1, True)
    assert "terminated_early" not in es.count(index="docs")


def test_scroll_ids_and_paging_of_the_wrong_type(one_doc):
    es = one_doc
    with pytest.raises(BadRequestError) as refused:
        es.scroll(body={"scroll_id": ["abc"]})
    assert status_type_reason(refused.value) == (
        400,
        "illegal_argument_exception",
        "Unknown parameter [scroll_id] in request body or parameter is of the wrong type[START_ARRAY] ",
    )
    with pytest.raises(BadRequestError) as refused:
        es.clear_scroll(body={"scroll_id": [{"a": 1}]})
    assert status_type_reason(refused.value)[2] == "scroll_id array element should only contain scroll_id"
    with pytest.raises(BadRequestError) as refused:
        es.search(index="docs", body={"from": {}})
    assert status_type_reason(refused.value) == (
        400,
        "parsing_exception",
        "Unknown key for a START_OBJECT in [from].",
    )
    assert es.search(index="docs", body={"size": "1"})["hits"]["hits"][0]["_id"] == "1"


def test_date_math_anchored_on_a_date(es):
    es.indices.create(
        index="<logs_http_{2022-12-31||/d{yyyy-MM-dd}}>",
        aliases={"<logs_{2022-12-31||+1d/d{yyyy-MM-dd}}>": {}},
    )
    assert es.indices.exists(index="logs_http_2022-12-31")
    assert es.indices.exists_alias(name="logs_2023-01-01")
    with pytest.raises(BadRequestError) as refused:
        es.indices.create(index="<logs_{yesterday||/d}>")
    assert (
        status_type_reason(refused.value)[2]
        == "could not parse date math expression [yesterday||/d] in [logs_{yesterday||/d}]"
    )
