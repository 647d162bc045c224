"""The search APIs around `_search` (issue 13, class 6): script_score, `q=` over every field,
clearing every scroll, `_msearch`, several indices and patterns, `_field_caps`, `_validate/query`,
`_explain`, `_analyze`, `_resolve/index` and `GET _mapping/field` (cases from ES's YAML REST tests)."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError

from tests.sandbox.ml_support import error_fields


@pytest.fixture
def vectors(es):
    es.indices.create(
        index="vec",
        mappings={
            "properties": {
                "v": {"type": "dense_vector", "dims": 3, "similarity": "l2_norm"},
                "n": {"type": "long"},
            }
        },
    )
    es.index(index="vec", id="1", document={"v": [1.0, 0.0, 0.0], "n": 2})
    es.index(index="vec", id="2", document={"v": [0.0, 1.0, 0.0], "n": 5})
    es.index(index="vec", id="3", document={"n": 9}, refresh=True)
    return es


def _scores(resp) -> dict[str, float]:
    return {h["_id"]: h["_score"] for h in resp["hits"]["hits"]}


def test_script_score_with_vector_functions(vectors):
    def run(source, **params):
        query = {
            "script_score": {
                "query": {"exists": {"field": "v"}},
                "script": {"source": source, "params": {"qv": [1.0, 0.0, 0.0], **params}},
            }
        }
        return _scores(vectors.search(index="vec", query=query))

    assert run("cosineSimilarity(params.qv, 'v') + 1.0") == {"1": 2.0, "2": 1.0}
    assert run("dotProduct(params.qv, 'v') * 2 + params.bias", bias=0.5) == {"1": 2.5, "2": 0.5}
    assert run("1 / (1 + l2norm(params.qv, 'v'))") == pytest.approx({"1": 1.0, "2": 1 / (1 + 2**0.5)})
    assert run("return 1 / (1 + l1norm(params.qv, 'v'));") == pytest.approx({"1": 1.0, "2": 1 / 3})
    assert run("Math.max(_score, doc['n'].value)") == {"1": 2.0, "2": 5.0}
    assert run("saturation(doc['n'].value, 5)") == pytest.approx({"1": 2 / 7, "2": 0.5})


def test_script_score_errors(vectors):
    def query(source, inner=None):
        return lambda: vectors.search(
            index="vec",
            query={
                "script_score": {
                    "query": inner or {"match_all": {}},
                    "script": {"source": source, "params": {"qv": [1, 0, 0]}},
                }
            },
        )

    error = error_fields(query("cosineSimilarity(params.qv, 'v') +"))
    assert (error["status"], error["type"]) == (400, "search_phase_execution_exception")
    assert error["root_cause"][0]["type"] == "script_exception"
    assert error["root_cause"][0]["reason"] == "compile error"
    error = error_fields(query("cosineSimilarity(params.qv, 'v')"))  # doc 3 has no vector
    assert error["root_cause"][0]["reason"] == "runtime error"
    assert error["caused_by"]["caused_by"]["reason"] == "A document doesn't have a value for a vector field!"
    error = error_fields(query("-1", {"ids": {"values": ["1"]}}))
    assert error["root_cause"][0] == {
        "type": "illegal_argument_exception",
        "reason": "script score function must not produce negative scores, but got: [-1.0]",
    }
    error = error_fields(
        lambda: vectors.search(index="vec", query={"script_score": {"script": {"source": "1"}}})
    )
    assert (error["status"], error["type"], error["reason"]) == (
        400,
        "illegal_argument_exception",
        "Required [query]",
    )


@pytest.fixture
def books(es):
    es.indices.create(
        index="books",
        mappings={
            "properties": {
                "title": {"type": "text"},
                "genre": {"type": "keyword"},
                "published": {"type": "date"},
                "pages": {"type": "integer"},
            }
        },
    )
    docs = [
        {"title": "The quick brown fox", "genre": "fable", "published": "2024-01-10", "pages": 120},
        {"title": "Quick recipes", "genre": "cooking", "published": "2023-06-01", "pages": 300},
        {"title": "Slow food", "genre": "cooking", "published": "2022-03-15", "pages": 80},
    ]
    for i, doc in enumerate(docs, start=1):
        es.index(index="books", id=str(i), document=doc)
    es.indices.refresh(index="books")
    return es


def _ids(resp) -> list[str]:
    return sorted(h["_id"] for h in resp["hits"]["hits"])


def test_q_searches_every_field_leniently(books):
    assert _ids(books.search(index="books", q="quick")) == ["1", "2"]
    assert _ids(books.search(index="books", q="cooking")) == ["2", "3"]
    assert _ids(books.search(index="books", q="2023-06-01")) == ["2"]
    assert _ids(books.search(index="books", q="published:nonsense")) == []  # lenient: no 500, no error
    assert _ids(books.search(index="books", q="genre:cooking AND title:quick")) == ["2"]
    assert _ids(books.search(index="books", q='title:"brown fox"')) == ["1"]
    assert _ids(books.search(index="books", q="genre:cooking -title:slow")) == ["2"]
    assert _ids(books.search(index="books", q="pages:[100 TO 200]")) == ["1"]
    assert books.count(index="books", q="quick")["count"] == 2
    error = error_fields(lambda: books.search(index="books", q="published:nonsense", df="title"))
    assert (error["status"], error["type"]) == (400, "search_phase_execution_exception")
    assert error["root_cause"][0]["type"] == "query_shard_exception"
    assert error["root_cause"][0]["reason"] == (
        "failed to create query: failed to parse date field [nonsense] with format "
        "[strict_date_optional_time||epoch_millis]: [failed to parse date field [nonsense] with format "
        "[strict_date_optional_time||epoch_millis]]"
    )


def test_clearing_every_scroll_and_the_body_overrides_the_path(books):
    first = books.search(index="books", scroll="1m", size=1)["_scroll_id"]
    second = books.search(index="books", scroll="1m", size=1)["_scroll_id"]
    nodes = len(books.nodes.info()["nodes"])  # every node that answers counts as one freed context
    resp = books.perform_request("DELETE", "/_search/scroll/_all", headers={"accept": "application/json"})
    assert resp.meta.status == 200 and resp.body == {"succeeded": True, "num_freed": nodes}
    for scroll_id in (first, second):
        assert error_fields(lambda s=scroll_id: books.scroll(scroll_id=s, scroll="1m"))["status"] == 404
    assert books.clear_scroll(scroll_id="_all").body == {"succeeded": True, "num_freed": nodes}
    third = books.search(index="books", scroll="1m", size=1)["_scroll_id"]
    resp = books.perform_request(
        "DELETE",
        "/_search/scroll/invalid_scroll_id",
        headers={"accept": "application/json", "content-type": "application/json"},
        body={"scroll_id": [third]},
    )
    assert resp.body == {"succeeded": True, "num_freed": 1}


@pytest.fixture
def numbered(es):
    for index, doc_id, foo in [
        ("index_1", "1", "bar"),
        ("index_1", "2", "baz"),
        ("index_1", "3", "foo"),
        ("index_2", "1", "foo"),
    ]:
        es.index(index=index, id=doc_id, document={"foo": foo})
    es.indices.refresh(index="index_*")
    return es


def test_msearch_answers_each_search_with_its_status(numbered):
    resp = numbered.msearch(
        searches=[
            {"index": "index_*"},
            {"query": {"match": {"foo": "foo"}}},
            {"index": "index_2"},
            {"query": {"match_all": {}}},
            {"index": "index_1"},
            {"query": {"match": {"foo": "foo"}}},
            {"index": "index_3"},
            {"query": {"match_all": {}}},
            {},
            {"query": {"match_all": {}}, "track_total_hits": 1},
        ]
    )
    responses = resp["responses"]
    assert [r["status"] for r in responses] == [200, 200, 200, 404, 200]
    assert [r["hits"]["total"]["value"] for r in responses if r["status"] == 200] == [2, 1, 1, 1]
    assert responses[4]["hits"]["total"]["relation"] == "gte"
    missing = responses[3]["error"]["root_cause"][0]
    assert (missing["type"], missing["reason"], missing["index"]) == (
        "index_not_found_exception",
        "no such index [index_3]",
        "index_3",
    )
    resp = numbered.msearch(
        searches=[{"index": "index_*"}, {"query": {"match_all": {}}}], rest_total_hits_as_int=True
    )
    assert resp["responses"][0]["hits"]["total"] == 4
    error = error_fields(lambda: numbered.msearch(searches=[{"index": "index_1", "size": 3}, {}]))
    assert (error["status"], error["type"], error["reason"]) == (
        400,
        "illegal_argument_exception",
        "key [size] is not supported in the metadata section",
    )


def test_count_and_search_over_several_indices_and_patterns(numbered):
    assert numbered.count(index="index_1,index_2")["count"] == 4
    assert numbered.count(index="index_*", query={"match": {"foo": "foo"}})["count"] == 2
    assert numbered.count(index="index_*,-index_2")["count"] == 3
    assert numbered.count()["count"] == 4
    resp = numbered.search(index="index_1,index_2", query={"match": {"foo": "foo"}})
    assert sorted((h["_index"], h["_id"]) for h in resp["hits"]["hits"]) == [
        ("index_1", "3"),
        ("index_2", "1"),
    ]
    assert resp["_shards"]["total"] == 2
    assert error_fields(lambda: numbered.count(index="index_1,nope"))["status"] == 404
    assert numbered.count(index="index_1,nope", ignore_unavailable=True)["count"] == 3


def test_field_caps_merge_types_and_flags_across_indices(es):
    es.indices.create(
        index="test1",
        mappings={
            "properties": {
                "text": {"type": "text"},
                "number": {"type": "double"},
                "object": {"properties": {"nested1": {"type": "text", "index": False}}},
            }
        },
    )
    es.indices.create(
        index="test2",
        mappings={
            "properties": {
                "text": {"type": "text"},
                "number": {"type": "long"},
                "object": {"properties": {"nested1": {"type": "text", "index": True}}},
            }
        },
    )
    resp = es.field_caps(index="test1,test2", fields=["text", "number", "object*", "no_such_field"])
    assert resp["indices"] == ["test1", "test2"]
    fields = resp["fields"]
    assert fields["text"] == {
        "text": {"type": "text", "metadata_field": False, "searchable": True, "aggregatable": False}
    }
    assert fields["number"]["double"]["indices"] == ["test1"]
    assert fields["number"]["long"] == {
        "type": "long",
        "metadata_field": False,
        "searchable": True,
        "aggregatable": True,
        "indices": ["test2"],
    }
    assert fields["object.nested1"]["text"]["searchable"] is False
    assert fields["object.nested1"]["text"]["non_searchable_indices"] == ["test1"]
    assert fields["object"]["object"]["searchable"] is False
    assert "no_such_field" not in fields
    assert (
        es.field_caps(index="test1", fields="_index")["fields"]["_index"]["_index"]["metadata_field"] is True
    )
    resp = es.field_caps(index="test1,test2", fields="object.nested1", include_unmapped=True)
    assert "unmapped" not in resp["fields"]["object.nested1"]
    error = error_fields(
        lambda: es.perform_request("GET", "/test1/_field_caps", headers={"accept": "application/json"})
    )
    assert (error["status"], error["reason"]) == (
        400,
        "Validation Failed: 1: specified fields can't be null or empty;",
    )


def test_validate_query(books):
    assert books.indices.validate_query(index="books", q="query string")["valid"] is True
    resp = books.indices.validate_query(index="books", query={"invalid_query": {}})
    assert resp.body == {"valid": False}
    resp = books.indices.validate_query(index="books", query={"boool": {}}, explain=True)
    assert resp["valid"] is False
    assert "unknown query [boool] did you mean [bool]?" in resp["error"]
    resp = books.indices.validate_query(index="books", explain=True)
    assert resp["valid"] is True and resp["_shards"]["failed"] == 0
    assert resp["explanations"] == [{"index": "books", "valid": True, "explanation": "*:*"}]
    resp = books.indices.validate_query(
        index="books",
        explain=True,
        query={
            "bool": {"must": [{"match": {"title": "Quick Fox"}}], "filter": [{"term": {"genre": "fable"}}]}
        },
    )
    assert resp["explanations"][0]["explanation"] == "+(title:quick title:fox) #genre:fable"
    resp = books.perform_request(
        "POST",
        "/books/_validate/query",
        params={"explain": "true"},
        headers={"accept": "application/json", "content-type": "application/json"},
        body={"match_all": {}},
    )
    assert resp.body == {
        "valid": False,
        "error": "org.elasticsearch.common.ParsingException: request does not support [match_all]",
    }
    resp = books.indices.validate_query(index="books", query={"term": {"pages": "many"}}, explain=True)
    assert resp["valid"] is False and resp["explanations"][0]["valid"] is False


def test_explain(books):
    books.indices.put_alias(index="books", name="library")
    resp = books.explain(index="library", id="1", query={"match_all": {}})
    assert (resp["_index"], resp["_id"], resp["matched"], resp["explanation"]["value"]) == (
        "books",
        "1",
        True,
        1.0,
    )
    resp = books.explain(index="books", id="3", query={"match": {"title": "quick"}})
    assert resp["matched"] is False and resp["explanation"]["value"] == 0.0
    resp = books.explain(index="books", id="1", query={"match_all": {}}, source_includes=["genre"])
    assert resp["get"]["_source"] == {"genre": "fable"} and resp["get"]["found"] is True
    with pytest.raises(ApiError) as err:
        books.explain(index="books", id="nope", query={"match_all": {}})
    assert err.value.meta.status == 404
    assert err.value.body == {"_index": "books", "_id": "nope", "matched": False}


def test_analyze_with_the_standard_analyzer(es):
    resp = es.indices.analyze(analyzer="standard", text="The 2 QUICK Brown-Foxes don't jump!")
    assert resp["tokens"] == [
        {"token": "the", "start_offset": 0, "end_offset": 3, "type": "<ALPHANUM>", "position": 0},
        {"token": "2", "start_offset": 4, "end_offset": 5, "type": "<NUM>", "position": 1},
        {"token": "quick", "start_offset": 6, "end_offset": 11, "type": "<ALPHANUM>", "position": 2},
        {"token": "brown", "start_offset": 12, "end_offset": 17, "type": "<ALPHANUM>", "position": 3},
        {"token": "foxes", "start_offset": 18, "end_offset": 23, "type": "<ALPHANUM>", "position": 4},
        {"token": "don't", "start_offset": 24, "end_offset": 29, "type": "<ALPHANUM>", "position": 5},
        {"token": "jump", "start_offset": 30, "end_offset": 34, "type": "<ALPHANUM>", "position": 6},
    ]
    resp = es.indices.analyze(text=["a b", "c"])
    assert [(t["token"], t["position"], t["start_offset"]) for t in resp["tokens"]] == [
        ("a", 0, 0),
        ("b", 1, 2),
        ("c", 102, 4),
    ]
    resp = es.indices.analyze(tokenizer="whitespace", filter=["lowercase", "stop"], text="The Fox")
    assert [(t["token"], t["position"], t["type"]) for t in resp["tokens"]] == [("fox", 1, "word")]
    error = error_fields(lambda: es.indices.analyze(analyzer="nope", text="x"))
    assert (error["status"], error["type"], error["reason"]) == (
        400,
        "illegal_argument_exception",
        "failed to find global analyzer [nope]",
    )
    es.indices.create(index="a", mappings={"properties": {"tag": {"type": "keyword"}}})
    assert [t["token"] for t in es.indices.analyze(index="a", field="tag", text="New York")["tokens"]] == [
        "New York"
    ]


def test_resolve_index(es):
    es.indices.create(index="test_index1", aliases={"test_alias": {}, "test_blias": {}, "test_clias": {}})
    es.indices.create(index="test_index3", aliases={"test_blias": {}})
    resp = es.indices.resolve_index(name="*")
    assert resp["indices"] == [
        {
            "name": "test_index1",
            "aliases": ["test_alias", "test_blias", "test_clias"],
            "attributes": ["open"],
            "mode": "standard",
        },
        {"name": "test_index3", "aliases": ["test_blias"], "attributes": ["open"], "mode": "standard"},
    ]
    assert resp["aliases"] == [
        {"name": "test_alias", "indices": ["test_index1"]},
        {"name": "test_blias", "indices": ["test_index1", "test_index3"]},
        {"name": "test_clias", "indices": ["test_index1"]},
    ]
    assert resp["data_streams"] == []
    assert es.indices.resolve_index(name="test_b*")["aliases"] == [
        {"name": "test_blias", "indices": ["test_index1", "test_index3"]}
    ]
    assert error_fields(lambda: es.indices.resolve_index(name="nope"))["type"] == "index_not_found_exception"


def test_get_field_mapping(es):
    props = {
        "t1": {"type": "text"},
        "t2": {"type": "text"},
        "obj": {"properties": {"t1": {"type": "text"}, "i_t1": {"type": "text"}}},
    }
    es.indices.create(index="test_index", mappings={"properties": props})
    es.indices.create(index="test_index_2", mappings={"properties": props})
    resp = es.indices.get_field_mapping(index="test_index", fields="t1")
    assert resp.body == {
        "test_index": {"mappings": {"t1": {"full_name": "t1", "mapping": {"t1": {"type": "text"}}}}}
    }
    resp = es.indices.get_field_mapping(index="test_index", fields="*t1")
    assert sorted(resp["test_index"]["mappings"]) == ["obj.i_t1", "obj.t1", "t1"]
    assert resp["test_index"]["mappings"]["obj.t1"] == {
        "full_name": "obj.t1",
        "mapping": {"t1": {"type": "text"}},
    }
    resp = es.indices.get_field_mapping(fields="t*")
    assert sorted(resp) == ["test_index", "test_index_2"]
    assert es.indices.get_field_mapping(index="test_index", fields="nope").body == {
        "test_index": {"mappings": {}}
    }
    assert error_fields(lambda: es.indices.get_field_mapping(index="missing", fields="t1"))["status"] == 404
