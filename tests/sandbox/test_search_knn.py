"""kNN: the `knn` query and the top-level `knn` search, scored per similarity as Elasticsearch scores
them, `query_vector_builder` through the ML subsystem, and ES's validation errors (cases from
rest-api-spec search.vectors/40_knn_search, 150/160_*_missing_params, 80_knn_similarity_search)."""

from __future__ import annotations

import math

import pytest
from elasticsearch import BadRequestError

from tests.sandbox.ml_support import compat8, deploy, error_fields, put_elser

QUERY = [-0.5, 90.0, -10, 14.8, -156.0]
ANIMALS = {
    "1": ("cow.jpg", [230.0, 300.33, -34.8988, 15.555, -200.0], [130.0, 115.0, -1.02, 15.555, -100.0]),
    "2": ("moose.jpg", [-0.5, 100.0, -13, 14.8, -156.0], [-0.5, 50.0, -1, 1, 120]),
    "3": ("rabbit.jpg", [0.5, 111.3, -13.0, 14.8, -156.0], [-0.5, 11.0, 0, 12, 111.0]),
}


def _l2_score(a: list[float], b: list[float]) -> float:
    return 1 / (1 + sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def _create(es, index: str, similarity: str, **extra) -> None:
    vector = {"type": "dense_vector", "dims": 5, "index": True, "similarity": similarity, **extra}
    es.indices.create(
        index=index,
        mappings={"properties": {"name": {"type": "keyword"}, "vector": vector, "another_vector": vector}},
    )
    for doc_id, (name, vector_value, another) in ANIMALS.items():
        es.index(
            index=index, id=doc_id, document={"name": name, "vector": vector_value, "another_vector": another}
        )
    es.indices.refresh(index=index)


@pytest.fixture
def animals(es):
    _create(es, "test", "l2_norm", index_options={"type": "hnsw", "m": 16, "ef_construction": 200})
    return es


def ids(resp) -> list[str]:
    return [h["_id"] for h in resp["hits"]["hits"]]


def test_top_level_knn_finds_the_k_nearest_scored_by_l2(animals):
    resp = animals.search(
        index="test", knn={"field": "vector", "query_vector": QUERY, "k": 2, "num_candidates": 3}
    )
    assert ids(resp) == ["2", "3"]
    assert resp["hits"]["total"] == {"value": 2, "relation": "eq"}
    for hit in resp["hits"]["hits"]:
        assert hit["_score"] == pytest.approx(_l2_score(QUERY, ANIMALS[hit["_id"]][1]), rel=1e-6)


def test_top_level_knn_with_a_query_is_their_union_with_summed_scores(animals):
    resp = animals.search(
        index="test",
        knn={"field": "vector", "query_vector": QUERY, "k": 2, "num_candidates": 3},
        query={"term": {"name": "cow.jpg"}},
    )
    assert ids(resp) == ["1", "2", "3"]
    resp = animals.search(
        index="test",
        knn=[
            {"field": "vector", "query_vector": QUERY, "k": 2, "num_candidates": 3},
            {
                "field": "another_vector",
                "query_vector": [-0.5, 11.0, 0, 12, 111.0],
                "k": 2,
                "num_candidates": 3,
            },
        ],
        query={"term": {"name": "cow.jpg"}},
    )
    assert ids(resp) == ["3", "1", "2"]


def test_knn_filter_and_similarity_threshold(animals):
    knn = {"field": "vector", "query_vector": QUERY, "k": 2, "num_candidates": 3}
    resp = animals.search(index="test", knn={**knn, "filter": {"term": {"name": "rabbit.jpg"}}})
    assert ids(resp) == ["3"] and resp["hits"]["total"]["value"] == 1
    both = [{"term": {"name": "rabbit.jpg"}}, {"term": {"_id": 2}}]
    assert animals.search(index="test", knn={**knn, "filter": both})["hits"]["total"]["value"] == 0
    # l2_norm: `similarity` is the largest distance (moose is 10.44 away, rabbit 21.5).
    resp = animals.search(index="test", knn={**knn, "k": 3, "similarity": 11})
    assert ids(resp) == ["2"]


def test_an_unmapped_field_finds_nothing_and_search_type_is_refused(animals):
    resp = animals.search(
        index="test", knn={"field": "nonexistent", "query_vector": QUERY, "k": 2, "num_candidates": 3}
    )
    assert ids(resp) == []
    with pytest.raises(BadRequestError) as err:
        animals.search(
            index="test",
            search_type="query_then_fetch",
            knn={"field": "vector", "query_vector": QUERY, "k": 2, "num_candidates": 3},
        )
    assert err.value.info["error"]["root_cause"][0] == {
        "type": "illegal_argument_exception",
        "reason": "cannot set [search_type] when using [knn] search, since the search type is determined automatically",
    }


@pytest.mark.parametrize(
    ("similarity", "expected"),
    [
        (
            "max_inner_product",
            {"1": 58694.902, "3": 34702.79, "2": 33686.29},
        ),  # 40_knn_search "Knn search with mip"
    ],
)
def test_max_inner_product_scores(es, similarity, expected):
    _create(es, "mip", similarity)
    resp = es.search(index="mip", knn={"field": "vector", "query_vector": QUERY, "k": 3, "num_candidates": 3})
    assert ids(resp) == ["1", "3", "2"]
    for hit in resp["hits"]["hits"]:
        assert hit["_score"] == pytest.approx(expected[hit["_id"]], abs=0.01)


def test_cosine_and_dot_product_scores_with_boost(es):
    es.indices.create(
        index="unit",
        mappings={
            "properties": {
                "cos": {"type": "dense_vector", "dims": 2},
                "dot": {"type": "dense_vector", "dims": 2, "similarity": "dot_product"},
            }
        },
    )
    es.index(index="unit", id="a", document={"cos": [3.0, 4.0], "dot": [0.6, 0.8]}, refresh=True)
    query = [1.0, 0.0]
    hit = es.search(index="unit", knn={"field": "cos", "query_vector": query, "k": 1, "boost": 2.0})["hits"][
        "hits"
    ][0]
    assert hit["_score"] == pytest.approx(2.0 * (1 + 0.6) / 2)
    hit = es.search(index="unit", query={"knn": {"field": "dot", "query_vector": query}})["hits"]["hits"][0]
    assert hit["_score"] == pytest.approx((1 + 0.6) / 2)
    # cosine's threshold is on the raw cosine (0.6 here)
    assert (
        es.search(index="unit", knn={"field": "cos", "query_vector": query, "similarity": 0.7})["hits"][
            "hits"
        ]
        == []
    )


def test_knn_query_k_defaults_to_size_and_combines_with_other_queries(animals):
    query = {"knn": {"field": "vector", "query_vector": QUERY}}
    assert animals.search(index="test", query=query)["hits"]["total"]["value"] == 3
    resp = animals.search(index="test", query={"knn": {**query["knn"], "k": 2}}, size=1)
    assert resp["hits"]["total"]["value"] == 2 and len(resp["hits"]["hits"]) == 1
    resp = animals.search(index="test", query={"knn": {**query["knn"], "num_candidates": 1, "k": 1}}, size=10)
    assert resp["hits"]["total"]["value"] == 1
    resp = animals.search(
        index="test",
        query={"bool": {"must": [{"term": {"name": "moose.jpg"}}, {"knn": {**query["knn"], "k": 1}}]}},
    )
    assert ids(resp) == ["2"]
    resp = animals.search(
        index="test",
        query={"dis_max": {"queries": [{"knn": {**query["knn"], "k": 2}}, {"match": {"name": "cow.jpg"}}]}},
        size=1,
    )
    assert resp["hits"]["total"]["value"] == 3


def test_knn_query_validation_fails_its_construction(animals):
    def query(**body):
        return lambda: animals.search(index="test", query={"knn": {"field": "vector", **body}})

    error = error_fields(query(query_vector=QUERY, k=0))
    assert error["status"] == 400
    assert error["type"] == "x_content_parse_exception"
    assert error["reason"] == "Failed to build [knn] after last required field arrived"
    assert error["caused_by"] == {
        "type": "illegal_argument_exception",
        "reason": "[k] must be greater than 0",
    }
    for body, reason in [
        ({"query_vector": QUERY, "num_candidates": 10001}, "[num_candidates] cannot exceed [10000]"),
        ({"query_vector": QUERY, "k": 5, "num_candidates": 3}, "[num_candidates] cannot be less than [k]"),
        ({}, "either [query_vector], [query_vector_base64], or [query_vector_builder] must be provided"),
        (
            {
                "query_vector": QUERY,
                "query_vector_builder": {"text_embedding": {"model_id": "m", "model_text": "x"}},
            },
            "only one of [query_vector], [query_vector_base64], and [query_vector_builder] must be provided",
        ),
    ]:
        assert error_fields(query(**body))["caused_by"]["reason"] == reason


def test_top_level_knn_validation_is_an_illegal_argument(animals):
    def knn(size=None, **body):
        extra = {} if size is None else {"size": size}
        return lambda: animals.search(index="test", knn={"field": "vector", **body}, **extra)

    for call, reason in [
        (knn(query_vector=QUERY, k=0), "[k] must be greater than 0"),
        (
            knn(query_vector=QUERY, num_candidates=2),
            "[num_candidates] cannot be less than [k]",
        ),  # k = size 10
        (knn(query_vector=QUERY, num_candidates=20000, k=10), "[num_candidates] cannot exceed [10000]"),
        (knn(), "either [query_vector_builder] or [query_vector] must be provided"),
    ]:
        error = error_fields(call)
        assert (error["status"], error["type"], error["reason"]) == (
            400,
            "illegal_argument_exception",
            reason,
        )
    assert ids(animals.search(index="test", knn={"field": "vector", "query_vector": QUERY}, size=2)) == [
        "2",
        "3",
    ]


def test_shard_failures_wrap_field_and_vector_problems(animals):
    error = error_fields(lambda: animals.search(index="test", knn={"field": "name", "query_vector": QUERY}))
    assert (error["status"], error["type"], error["reason"]) == (
        400,
        "search_phase_execution_exception",
        "all shards failed",
    )
    cause = error["root_cause"][0]
    assert cause["type"] == "query_shard_exception"
    assert (
        cause["reason"] == "failed to create query: [knn] queries are only supported on [dense_vector] fields"
    )
    assert cause["index"] == "test"
    error = error_fields(
        lambda: animals.search(index="test", query={"knn": {"field": "vector", "query_vector": [1, 2]}})
    )
    assert error["root_cause"][0]["reason"] == (
        "failed to create query: The query vector has a different number of dimensions [2] than the document "
        "vectors [5]."
    )
    animals.indices.create(index="cos", mappings={"properties": {"v": {"type": "dense_vector", "dims": 3}}})
    error = error_fields(
        lambda: animals.search(index="cos", query={"knn": {"field": "v", "query_vector": [0, 0, 0]}})
    )
    assert error["root_cause"][0]["reason"] == (
        "failed to create query: The [cosine] similarity does not support vectors with zero magnitude. "
        "Preview of invalid vector: [0.0, 0.0, 0.0]"
    )


def test_query_vector_builder_embeds_the_text_with_a_model_deployment_or_alias(es):
    put_elser(es, ".multilingual-e5-small")
    deploy(es, ".multilingual-e5-small", deployment_id="e5-search")
    es.ml.put_trained_model_alias(model_id=".multilingual-e5-small", model_alias="e5-small")
    es.indices.create(index="docs", mappings={"properties": {"emb": {"type": "dense_vector", "dims": 384}}})
    texts = {
        "1": "the cat sat on the mat",
        "2": "stock markets fell sharply",
        "3": "a kitten sleeps on a rug",
    }
    for doc_id, text in texts.items():
        vector = es.ml.infer_trained_model(model_id="e5-search", docs=[{"text_field": text}])[
            "inference_results"
        ][0]
        es.index(index="docs", id=doc_id, document={"text": text, "emb": vector["predicted_value"]})
    es.indices.refresh(index="docs")
    for model_id in (".multilingual-e5-small", "e5-search", "e5-small"):
        builder = {"text_embedding": {"model_id": model_id, "model_text": "the cat sat on the mat"}}
        resp = es.search(
            index="docs", knn={"field": "emb", "k": 2, "num_candidates": 3, "query_vector_builder": builder}
        )
        assert ids(resp)[0] == "1"
        assert resp["hits"]["hits"][0]["_score"] == pytest.approx(1.0, abs=1e-6)  # (1 + cos 1) / 2
    resp = es.search(
        index="docs",
        query={
            "knn": {
                "field": "emb",
                "query_vector_builder": {"text_embedding": {"model_id": "e5-small", "model_text": "cat"}},
            }
        },
    )
    assert resp["hits"]["total"]["value"] == 3
    mapping = es.indices.get_mapping(index="docs")["docs"]["mappings"]["properties"]["emb"]
    assert mapping["index_options"] == {
        "type": "bbq_hnsw",
        "m": 16,
        "ef_construction": 100,
        "rescore_vector": {"oversample": 3.0},
    }
    error = error_fields(
        lambda: es.search(
            index="docs",
            knn={"field": "emb", "query_vector_builder": {"text_embedding": {"model_text": "cat"}}},
        )
    )
    assert (error["status"], error["type"], error["reason"]) == (
        400,
        "illegal_argument_exception",
        "[model_id] must not be null.",
    )


def test_query_vector_builder_refuses_a_model_that_is_not_a_text_embedding(es):
    put_elser(es)
    deploy(es)
    es.indices.create(index="docs", mappings={"properties": {"emb": {"type": "dense_vector", "dims": 3}}})
    builder = {"text_embedding": {"model_id": ".elser_model_2", "model_text": "cat"}}
    error = error_fields(
        lambda: es.search(index="docs", knn={"field": "emb", "query_vector_builder": builder})
    )
    assert (error["status"], error["type"]) == (500, "illegal_state_exception")
    assert error["reason"] == (
        "expected a result of type [text_embedding_result] received [text_expansion_result]. "
        "Is [.elser_model_2] a text embedding model?"
    )
    error = error_fields(
        lambda: es.search(index="docs", knn={"field": "emb", "query_vector_builder": {"nope": {}}})
    )
    assert error["type"] == "x_content_parse_exception"
    assert error["caused_by"] == {
        "type": "named_object_not_found_exception",
        "reason": "unknown field [nope]",
    }


def test_term_and_terms_on_sparse_vector_fields(es):
    es.indices.create(index="sv", mappings={"properties": {"tokens": {"type": "sparse_vector"}}})
    es.index(index="sv", id="1", document={"tokens": {"running": 3.0, "good": 17.0}})
    es.index(index="sv", id="2", document={"tokens": {"run": 22.0}}, refresh=True)
    resp = es.search(index="sv", query={"term": {"tokens": {"value": "good", "boost": 2.0}}})
    assert [(h["_id"], h["_score"]) for h in resp["hits"]["hits"]] == [("1", 34.0)]
    resp = es.search(index="sv", query={"terms": {"tokens": ["run", "running"], "boost": 3.0}})
    assert sorted((h["_id"], h["_score"]) for h in resp["hits"]["hits"]) == [("1", 3.0), ("2", 3.0)]


def test_vectors_leave_source_unless_asked_and_come_back_in_fields(animals):
    animals.indices.create(index="sv", mappings={"properties": {"tokens": {"type": "sparse_vector"}}})
    animals.index(index="sv", id="1", document={"tokens": {"a": 1.0}, "n": 1}, refresh=True)
    hit = animals.search(index="test", query={"ids": {"values": ["1"]}})["hits"]["hits"][0]
    assert hit["_source"] == {"name": "cow.jpg"}
    hit = animals.search(index="sv")["hits"]["hits"][0]
    assert hit["_source"] == {"n": 1}
    hit = animals.search(index="test", query={"ids": {"values": ["1"]}}, source={"exclude_vectors": False})[
        "hits"
    ]["hits"][0]
    assert hit["_source"]["vector"] == ANIMALS["1"][1]
    hit = animals.search(index="test", query={"ids": {"values": ["1"]}}, fields=["vector", "name"])["hits"][
        "hits"
    ][0]
    assert hit["fields"] == {"vector": ANIMALS["1"][1], "name": ["cow.jpg"]}
    assert "vector" not in hit["_source"]


def test_8x_keeps_vectors_in_source(start_sandbox):
    from elasticsearch import Elasticsearch

    es = Elasticsearch(start_sandbox(version="8.19.3").url)
    compat8(es, "PUT", "/v", {"mappings": {"properties": {"v": {"type": "dense_vector", "dims": 3}}}})
    compat8(es, "PUT", "/v/_doc/1?refresh=true", {"v": [0.5, 0.5, 0.5]})
    assert compat8(es, "POST", "/v/_search", {})["hits"]["hits"][0]["_source"] == {"v": [0.5, 0.5, 0.5]}
    mapping = compat8(es, "GET", "/v/_mapping")["v"]["mappings"]["properties"]["v"]
    assert mapping["index_options"] == {"type": "int8_hnsw", "m": 16, "ef_construction": 100}
    resp = compat8(es, "POST", "/v/_search", {"knn": {"field": "v", "query_vector": [1, 1, 1]}})
    assert math.isclose(resp["hits"]["max_score"], 1.0)
