"""Search: the query DSL, paging limits, sorting, `_source` filtering, totals, sparse vector queries
scored by dot product, and paging over a snapshot (point in time + search_after, scroll)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import ApiError, BadRequestError, NotFoundError

BOOKS = [
    {
        "title": "The Quick Brown Fox",
        "genre": "fable",
        "pages": 120,
        "rating": 4.5,
        "published": "2024-01-10",
        "tags": ["animals", "classic"],
    },
    {
        "title": "Quick recipes for busy people",
        "genre": "cooking",
        "pages": 300,
        "rating": 3.9,
        "published": "2023-06-01",
        "tags": ["food"],
    },
    {
        "title": "Slow food",
        "genre": "cooking",
        "pages": 80,
        "published": "2022-03-15",
        "tags": ["food", "slow"],
    },
    {
        "title": "A brown dog and a quick fox",
        "genre": "fable",
        "pages": 45,
        "rating": 4.9,
        "published": "2024-02-20",
    },
    {"title": "Untitled", "genre": "misc"},
]


@pytest.fixture
def books(es):
    es.indices.create(
        index="books",
        mappings={
            "properties": {
                "title": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                "genre": {"type": "keyword"},
                "pages": {"type": "integer"},
                "rating": {"type": "float"},
                "published": {"type": "date"},
                "tags": {"type": "keyword"},
            }
        },
    )
    ops = []
    for i, book in enumerate(BOOKS, start=1):
        ops += [{"index": {"_index": "books", "_id": str(i)}}, book]
    es.bulk(operations=ops, refresh=True)
    return es


def ids(resp) -> list[str]:
    return [h["_id"] for h in resp["hits"]["hits"]]


def test_hits_shape_and_match_all(books):
    resp = books.search(index="books")
    assert set(resp) == {"took", "timed_out", "_shards", "hits"}
    assert resp["timed_out"] is False
    assert resp["_shards"] == {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
    assert resp["hits"]["total"] == {"value": 5, "relation": "eq"}
    assert resp["hits"]["max_score"] == 1.0
    first = resp["hits"]["hits"][0]
    assert first == {"_index": "books", "_id": "1", "_score": 1.0, "_source": BOOKS[0]}
    assert ids(resp) == ["1", "2", "3", "4", "5"]


def test_match_scores_more_matching_terms_higher(books):
    resp = books.search(index="books", query={"match": {"title": "quick fox"}})
    assert ids(resp)[:2] == ["1", "4"] or ids(resp)[:2] == ["4", "1"]
    assert set(ids(resp)) == {"1", "2", "4"}
    scores = [h["_score"] for h in resp["hits"]["hits"]]
    assert scores == sorted(scores, reverse=True)
    assert resp["hits"]["max_score"] == scores[0]
    both = books.search(index="books", query={"match": {"title": {"query": "quick fox", "operator": "and"}}})
    assert set(ids(both)) == {"1", "4"}
    assert ids(books.search(index="books", query={"match": {"genre": "fable"}})) == ["1", "4"]
    assert ids(books.search(index="books", query={"match": {"genre": "Fable"}})) == []  # keyword: exact
    assert ids(books.search(index="books", query={"match_phrase": {"title": "brown fox"}})) == ["1"]


def test_term_terms_ids_exists(books):
    assert ids(books.search(index="books", query={"term": {"genre": "cooking"}})) == ["2", "3"]
    assert ids(books.search(index="books", query={"term": {"title": "quick"}})) == ["1", "2", "4"]
    assert (
        ids(books.search(index="books", query={"term": {"title": "Quick"}})) == []
    )  # terms are not analyzed
    assert ids(books.search(index="books", query={"term": {"title.keyword": "Slow food"}})) == ["3"]
    assert ids(books.search(index="books", query={"terms": {"tags": ["slow", "classic"]}})) == ["1", "3"]
    assert ids(books.search(index="books", query={"ids": {"values": ["5", "2", "99"]}})) == ["2", "5"]
    assert ids(books.search(index="books", query={"exists": {"field": "rating"}})) == ["1", "2", "4"]
    assert ids(books.search(index="books", query={"term": {"pages": "80"}})) == ["3"]


def test_range_numbers_and_dates(books):
    assert ids(books.search(index="books", query={"range": {"pages": {"gte": 80, "lt": 300}}})) == ["1", "3"]
    assert ids(books.search(index="books", query={"range": {"rating": {"gt": 4.5}}})) == ["4"]
    assert ids(books.search(index="books", query={"range": {"published": {"gte": "2024-01-01"}}})) == [
        "1",
        "4",
    ]
    assert ids(books.search(index="books", query={"range": {"published": {"lt": "2023-06-01"}}})) == ["3"]
    # An upper bound with missing fields rounds up: lte 2024-02 covers the whole of February.
    assert ids(
        books.search(index="books", query={"range": {"published": {"gt": "2023", "lte": "2024-02"}}})
    ) == [
        "1",
        "4",
    ]
    books.index(
        index="books", id="6", document={"title": "Fresh", "published": datetime.now(UTC).isoformat()}
    )
    old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    books.index(index="books", id="7", document={"title": "Three days old", "published": old}, refresh=True)
    assert ids(books.search(index="books", query={"range": {"published": {"gte": "now-1d"}}})) == ["6"]
    assert ids(
        books.search(index="books", query={"range": {"published": {"gte": "now-7d/d", "lt": "now-1d"}}})
    ) == ["7"]


def test_bool_query(books):
    query = {
        "bool": {
            "must": [{"match": {"title": "quick"}}],
            "filter": [{"range": {"pages": {"gte": 50}}}],
            "must_not": [{"term": {"genre": "cooking"}}],
        }
    }
    assert ids(books.search(index="books", query=query)) == ["1"]
    should = {
        "bool": {
            "should": [
                {"term": {"genre": "misc"}},
                {"term": {"tags": "food"}},
                {"term": {"genre": "cooking"}},
            ],
            "minimum_should_match": 2,
        }
    }
    assert ids(books.search(index="books", query=should)) == ["2", "3"]
    filter_only = books.search(index="books", query={"bool": {"filter": [{"term": {"genre": "fable"}}]}})
    assert [h["_score"] for h in filter_only["hits"]["hits"]] == [0.0, 0.0]
    plain_should = {"bool": {"should": [{"term": {"genre": "misc"}}, {"term": {"genre": "fable"}}]}}
    assert ids(books.search(index="books", query=plain_should)) == ["1", "4", "5"]


def test_unknown_query_is_a_parsing_exception(books):
    with pytest.raises(BadRequestError) as info:
        books.search(index="books", query={"nope_nope": {}})
    assert info.value.body["error"]["type"] == "parsing_exception"
    assert info.value.body["error"]["reason"] == "unknown query [nope_nope]"
    with pytest.raises(BadRequestError) as info:
        books.search(index="books", query={"matc": {"title": "x"}})
    assert info.value.body["error"]["reason"] == "unknown query [matc] did you mean [match]?"


def test_size_from_and_the_result_window(books):
    page = books.search(index="books", size=2, from_=1)
    assert ids(page) == ["2", "3"]
    assert page["hits"]["total"]["value"] == 5
    with pytest.raises(BadRequestError) as info:
        books.search(index="books", size=10, from_=9991)
    error = info.value.body["error"]
    reason = (
        "Result window is too large, from + size must be less than or equal to: [10000] but was [10001]. See the "
        "scroll api for a more efficient way to request large data sets. This limit can be set by changing the "
        "[index.max_result_window] index level setting."
    )
    assert error["type"] == "search_phase_execution_exception"
    assert error["reason"] == "all shards failed"
    assert error["root_cause"] == [{"type": "illegal_argument_exception", "reason": reason}]
    assert error["caused_by"] == {"type": "illegal_argument_exception", "reason": reason}
    assert error["failed_shards"][0]["index"] == "books"


def test_sorting(books):
    by_pages = books.search(index="books", sort=[{"pages": "desc"}])
    assert ids(by_pages) == ["2", "1", "3", "4", "5"]  # missing values last
    hits = by_pages["hits"]["hits"]
    assert [h["sort"] for h in hits] == [[300], [120], [80], [45], [-9223372036854775808]]
    assert by_pages["hits"]["max_score"] is None and hits[0]["_score"] is None
    asc = books.search(index="books", sort=[{"pages": {"order": "asc", "missing": "_first"}}])
    assert ids(asc) == ["5", "4", "3", "1", "2"]
    by_genre = books.search(index="books", sort=["genre", {"published": "desc"}])
    assert ids(by_genre) == ["2", "3", "4", "1", "5"]
    assert by_genre["hits"]["hits"][0]["sort"] == ["cooking", 1685577600000]
    scored = books.search(index="books", query={"match": {"title": "quick fox"}}, sort=["_score", "_doc"])
    assert scored["hits"]["hits"][0]["sort"][0] == scored["hits"]["hits"][0]["_score"]
    assert ids(books.search(index="books", sort="_doc")) == ["1", "2", "3", "4", "5"]
    with pytest.raises(BadRequestError) as info:
        books.search(index="books", sort=["title"])
    assert info.value.body["error"]["caused_by"]["reason"].startswith(
        "Fielddata is disabled on [title] in [books]. Text fields are not optimised"
    )
    with pytest.raises(BadRequestError) as info:
        books.search(index="books", sort=["nosuchfield"])
    assert (
        info.value.body["error"]["root_cause"][0]["reason"]
        == "No mapping found for [nosuchfield] in order to sort on"
    )
    assert ids(books.search(index="books", sort=[{"nosuchfield": {"unmapped_type": "long"}}])) == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]


def test_source_filtering(books):
    def first_source(**kwargs):
        return books.search(index="books", query={"ids": {"values": ["1"]}}, **kwargs)["hits"]["hits"][0]

    assert "_source" not in first_source(source=False)
    assert first_source(source=["title", "pag*"])["_source"] == {"title": "The Quick Brown Fox", "pages": 120}
    assert first_source(source={"excludes": ["tags", "published"]})["_source"] == {
        "title": "The Quick Brown Fox",
        "genre": "fable",
        "pages": 120,
        "rating": 4.5,
    }
    assert first_source(source_includes=["genre"])["_source"] == {"genre": "fable"}


def test_track_total_hits(es):
    es.bulk(operations=[x for i in range(30) for x in ({"index": {"_index": "many"}}, {"i": i})])
    assert es.search(index="many", track_total_hits=False)["hits"].get("total") is None
    assert es.search(index="many", track_total_hits=10)["hits"]["total"] == {"value": 10, "relation": "gte"}
    assert es.search(index="many", track_total_hits=True)["hits"]["total"] == {"value": 30, "relation": "eq"}
    assert es.search(index="many")["hits"]["total"] == {"value": 30, "relation": "eq"}


def test_search_without_index_and_missing_index(books):
    books.index(index="other", id="x", document={"title": "quick"}, refresh=True)
    resp = books.search(query={"match": {"title": "quick"}})
    assert {(h["_index"], h["_id"]) for h in resp["hits"]["hits"]} == {
        ("books", "1"),
        ("books", "2"),
        ("books", "4"),
        ("other", "x"),
    }
    assert resp["_shards"]["total"] == 2
    with pytest.raises(NotFoundError) as info:
        books.search(index="nope")
    assert info.value.body["error"]["type"] == "index_not_found_exception"
    assert books.search(index="nope", ignore_unavailable=True)["hits"]["total"]["value"] == 0


# --- sparse vectors -------------------------------------------------------------------------------------


@pytest.fixture
def sparse(es):
    es.indices.create(
        index="sparse", mappings={"properties": {"ml": {"properties": {"tokens": {"type": "sparse_vector"}}}}}
    )
    docs = {"a": {"cat": 1.0, "dog": 0.5}, "b": {"dog": 2.0}, "c": {"fish": 1.0}}
    for doc_id, tokens in docs.items():
        es.index(index="sparse", id=doc_id, document={"ml": {"tokens": tokens}})
    return es


def test_sparse_vector_and_weighted_tokens_score_by_dot_product(sparse):
    resp = sparse.search(
        index="sparse",
        query={"sparse_vector": {"field": "ml.tokens", "query_vector": {"dog": 1.5, "cat": 2.0}}},
    )
    assert [(h["_id"], h["_score"]) for h in resp["hits"]["hits"]] == [("b", 3.0), ("a", 2.75)]
    weighted = sparse.search(
        index="sparse", query={"weighted_tokens": {"ml.tokens": {"tokens": {"fish": 3.0}}}}
    )
    assert [(h["_id"], h["_score"]) for h in weighted["hits"]["hits"]] == [("c", 3.0)]
    boosted = sparse.search(
        index="sparse",
        query={
            "bool": {
                "should": [{"sparse_vector": {"field": "ml.tokens", "query_vector": {"dog": 1.0}}}],
                "filter": [{"exists": {"field": "ml.tokens"}}],
            }
        },
    )
    # With a filter, should clauses are optional (minimum_should_match 0): "c" matches with score 0.
    assert [(h["_id"], h["_score"]) for h in boosted["hits"]["hits"]] == [("b", 2.0), ("a", 0.5), ("c", 0.0)]


def _deploy_elser(es) -> None:
    es.ml.put_trained_model(model_id=".elser_model_2", input={"field_names": ["text_field"]})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        config = es.ml.get_trained_models(model_id=".elser_model_2", include="definition_status")
        if config["trained_model_configs"][0].get("fully_defined"):
            break
        time.sleep(0.1)
    es.options(request_timeout=30).ml.start_trained_model_deployment(
        model_id=".elser_model_2", wait_for="started", timeout="20s"
    )


def test_text_expansion_and_sparse_vector_run_the_model_once(es):
    _deploy_elser(es)
    es.indices.create(index="sem", mappings={"properties": {"tokens": {"type": "sparse_vector"}}})
    texts = {"1": "the cat sat on the mat", "2": "dogs chase cats", "3": "stock markets fell today"}
    for doc_id, text in texts.items():
        tokens = es.ml.infer_trained_model(model_id=".elser_model_2", docs=[{"text_field": text}])
        es.index(
            index="sem",
            id=doc_id,
            document={"text": text, "tokens": tokens["inference_results"][0]["predicted_value"]},
        )
    expansion = es.search(
        index="sem", query={"text_expansion": {"tokens": {"model_id": ".elser_model_2", "model_text": "cat"}}}
    )
    assert ids(expansion)[0] == "1"
    assert "3" not in ids(expansion)
    by_inference = es.search(
        index="sem",
        query={"sparse_vector": {"field": "tokens", "inference_id": ".elser_model_2", "query": "cat"}},
    )
    assert [(h["_id"], h["_score"]) for h in by_inference["hits"]["hits"]] == [
        (h["_id"], h["_score"]) for h in expansion["hits"]["hits"]
    ]
    query_tokens = es.ml.infer_trained_model(model_id=".elser_model_2", docs=[{"text_field": "cat"}])
    vector = query_tokens["inference_results"][0]["predicted_value"]
    direct = es.search(index="sem", query={"sparse_vector": {"field": "tokens", "query_vector": vector}})
    assert [h["_score"] for h in direct["hits"]["hits"]] == pytest.approx(
        [h["_score"] for h in expansion["hits"]["hits"]]
    )
    stats = es.ml.get_trained_models_stats(model_id=".elser_model_2")["trained_model_stats"][0]
    assert stats["deployment_stats"]["inference_count"] == len(texts) + 3  # one per search, not per document
    assert es.count(
        index="sem", query={"text_expansion": {"tokens": {"model_id": ".elser_model_2", "model_text": "cat"}}}
    )["count"] == len(ids(expansion))


def test_text_expansion_with_an_unknown_model(sparse):
    with pytest.raises(ApiError) as info:
        sparse.search(
            index="sparse", query={"text_expansion": {"ml.tokens": {"model_id": "nope", "model_text": "x"}}}
        )
    assert info.value.meta.status == 404


# --- paging over a snapshot: point in time and scroll ----------------------------------------------------


def _fill(es, index: str, n: int) -> None:
    ops = []
    for i in range(n):
        ops += [{"index": {"_index": index, "_id": f"{i:05d}"}}, {"n": i % 7, "i": i}]
    es.bulk(operations=ops, refresh=True)


def test_point_in_time_with_search_after(es):
    _fill(es, "pit", 25)
    pit = es.open_point_in_time(index="pit", keep_alive="1m")
    assert pit["_shards"] == {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
    es.index(index="pit", id="late", document={"n": 0, "i": 99}, refresh=True)  # after the PIT opened
    es.delete(index="pit", id="00000")
    seen: list[str] = []
    after = None
    while True:
        kwargs = {"search_after": after} if after else {}
        page = es.search(pit={"id": pit["id"], "keep_alive": "1m"}, size=10, sort=[{"n": "asc"}], **kwargs)
        assert page["pit_id"] == pit["id"]
        assert page["hits"]["total"]["value"] == 25
        hits = page["hits"]["hits"]
        if not hits:
            break
        assert all(len(h["sort"]) == 2 for h in hits)  # the implicit _shard_doc tiebreaker
        seen += [h["_id"] for h in hits]
        after = hits[-1]["sort"]
    assert len(seen) == 25 and len(set(seen)) == 25
    assert "late" not in seen and "00000" in seen
    ns = [int(s) % 7 for s in seen]
    assert ns == sorted(ns)
    closed = es.close_point_in_time(id=pit["id"])
    assert closed.body == {"succeeded": True, "num_freed": 1}
    with pytest.raises(NotFoundError) as info:
        es.search(pit={"id": pit["id"]}, size=10)
    assert info.value.body["error"]["caused_by"]["type"] == "search_context_missing_exception"
    with pytest.raises(NotFoundError) as info:
        es.close_point_in_time(id=pit["id"])
    assert info.value.body == {"succeeded": True, "num_freed": 0}


def test_point_in_time_rules(es):
    _fill(es, "pit2", 3)
    pit = es.open_point_in_time(index="pit2", keep_alive="30s")
    with pytest.raises(BadRequestError) as info:
        es.search(index="pit2", pit={"id": pit["id"]})
    assert info.value.body["error"]["reason"] == (
        "Validation Failed: 1: [indices] cannot be used with point in time. Do not specify any index with point in "
        "time.;"
    )
    page = es.search(pit={"id": pit["id"]}, sort=["_shard_doc"], size=2)
    assert [h["sort"] for h in page["hits"]["hits"]] == [[0], [1]]


def test_scroll_pages_over_a_snapshot(es):
    _fill(es, "scroll", 25)
    first = es.search(index="scroll", scroll="1m", size=10, sort=["_doc"])
    scroll_id = first["_scroll_id"]
    es.index(index="scroll", id="late", document={"n": 1}, refresh=True)
    pages = [ids(first)]
    while True:
        page = es.scroll(scroll_id=scroll_id, scroll="1m")
        assert page["hits"]["total"]["value"] == 25
        if not page["hits"]["hits"]:
            break
        pages.append(ids(page))
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [i for p in pages for i in p] == [f"{i:05d}" for i in range(25)]
    assert es.clear_scroll(scroll_id=scroll_id).body == {"succeeded": True, "num_freed": 1}
    with pytest.raises(NotFoundError) as info:
        es.scroll(scroll_id=scroll_id, scroll="1m")
    assert info.value.body["error"]["caused_by"]["reason"] == f"No search context found for id [{scroll_id}]"


def test_paging_twenty_thousand_docs_with_a_pit(es):
    ops = []
    for i in range(20_000):
        ops += [{"index": {"_index": "big", "_id": str(i)}}, {"i": i}]
    es.bulk(operations=ops)
    pit = es.open_point_in_time(index="big", keep_alive="1m")
    total, after = 0, None
    while True:
        kwargs = {"search_after": after} if after else {}
        page = es.search(pit={"id": pit["id"]}, size=1000, sort=[{"i": "asc"}], source=False, **kwargs)
        hits = page["hits"]["hits"]
        if not hits:
            break
        total += len(hits)
        after = hits[-1]["sort"]
    assert total == 20_000
