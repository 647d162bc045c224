"""Index statistics (`GET _stats`, `{index}/_stats[/{metric}]`) with the real elasticsearch-py client:
the response shape of IndicesStatsResponse, metric and level validation with Elasticsearch's texts,
and the counters moving where Elasticsearch moves them (indexing, get, search, bulk, refresh, flush)."""

from __future__ import annotations

import asyncio

import pytest
from elasticsearch import AsyncElasticsearch, BadRequestError, ConflictError, NotFoundError

SECTIONS = [
    "docs",
    "shard_stats",
    "store",
    "indexing",
    "get",
    "search",
    "merges",
    "refresh",
    "flush",
    "warmer",
    "query_cache",
    "fielddata",
    "completion",
    "segments",
    "translog",
    "request_cache",
    "recovery",
    "bulk",
    "dense_vector",
    "sparse_vector",
]


@pytest.fixture
def two_indices(es):
    es.indices.create(index="test1", settings={"number_of_shards": 5, "number_of_replicas": 1})
    es.indices.create(index="test2", settings={"number_of_shards": 4, "number_of_replicas": 1})
    es.index(index="test1", id="1", document={"foo": "bar"})
    es.index(index="test2", id="1", document={"foo": "baz"})
    return es


def test_which_indices_and_the_shards_header(two_indices):
    es = two_indices
    everything = es.indices.stats()
    assert everything["_shards"] == {"total": 18, "successful": 9, "failed": 0}
    assert list(everything["indices"]) == ["test1", "test2"]
    one = everything["indices"]["test1"]
    assert (one["health"], one["status"]) == ("yellow", "open")
    assert one["uuid"] == es.indices.get(index="test1")["test1"]["settings"]["index"]["uuid"]
    assert list(one["primaries"]) == SECTIONS
    assert one["primaries"]["shard_stats"] == {"total_count": 5}
    assert everything["_all"]["total"]["docs"]["count"] == 2
    assert es.indices.stats(index="*2")["_shards"]["total"] == 8
    assert es.indices.stats(index=["test1", "test2"])["_shards"]["total"] == 18
    none = es.indices.stats(index="bla*")
    assert none.body == {
        "_shards": {"total": 0, "successful": 0, "failed": 0},
        "_all": {"primaries": {}, "total": {}},
        "indices": {},
    }
    with pytest.raises(NotFoundError) as missing:
        es.indices.stats(index="nope")
    assert missing.value.error == "index_not_found_exception"
    assert missing.value.body["error"]["reason"] == "no such index [nope]"
    assert "indices" not in es.indices.stats(level="cluster")
    assert es.indices.stats(level="indices")["indices"]["test2"]["total"]["docs"]["count"] == 1


def test_metrics_select_sections_and_unknown_ones_are_refused(two_indices):
    es = two_indices
    assert list(es.indices.stats(metric="docs")["_all"]["total"]) == ["docs"]
    multi = es.indices.stats(metric=["store", "get", "merge"])["_all"]["primaries"]
    assert list(multi) == ["store", "get", "merges"]
    with pytest.raises(BadRequestError) as typo:
        es.indices.stats(metric="fieldata")
    assert typo.value.error == "illegal_argument_exception"
    assert typo.value.body["error"]["reason"] == (
        "request [/_stats/fieldata] contains unrecognized metric: [fieldata] -> did you mean [fielddata]?"
    )
    with pytest.raises(BadRequestError) as several:
        es.indices.stats(index="test1", metric=["docs", "zzz", "indexin"])
    assert several.value.body["error"]["reason"] == (
        "request [/test1/_stats/docs,zzz,indexin] contains unrecognized metrics: [indexin] -> did you mean "
        "[indexing]?, [zzz]"
    )
    with pytest.raises(BadRequestError) as mixed:
        es.indices.stats(metric=["_all", "docs"])
    assert (
        mixed.value.body["error"]["reason"]
        == "request [/_stats/_all,docs] contains _all and individual metrics [_all,docs]"
    )
    with pytest.raises(BadRequestError) as level:
        es.indices.stats(level="node")
    assert level.value.body["error"]["reason"] == (
        "level parameter must be one of [cluster] or [indices] or [shards] but was [node]"
    )


def test_indexing_counters_move_as_the_engine_records_them(es):
    es.index(index="w", id="1", document={"n": 1})
    es.index(index="w", id="1", document={"n": 2})  # an overwrite is an index operation too
    with pytest.raises(ConflictError):
        es.create(index="w", id="1", document={"n": 3})  # a version conflict in the engine
    with pytest.raises(BadRequestError):
        es.index(index="w", id="2", document={"n": "not a number"})  # fails before the engine
    es.update(index="w", id="1", doc={"n": 2})  # nothing changes: a noop update
    es.update(index="w", id="1", doc={"n": 4})
    es.delete(index="w", id="1")
    with pytest.raises(NotFoundError):
        es.delete(index="w", id="404")  # a delete of a missing document still reaches the engine
    indexing = es.indices.stats(index="w", metric="indexing")["indices"]["w"]["primaries"]["indexing"]
    assert {
        k: indexing[k] for k in ("index_total", "index_failed", "index_failed_due_to_version_conflict")
    } == {
        "index_total": 3,
        "index_failed": 1,
        "index_failed_due_to_version_conflict": 1,
    }
    assert (indexing["delete_total"], indexing["noop_update_total"]) == (2, 1)
    assert (indexing["index_current"], indexing["delete_current"], indexing["is_throttled"]) == (0, 0, False)
    assert 0 < indexing["write_load"] < 1 and 0 < indexing["recent_write_load"] <= indexing["peak_write_load"]
    docs = es.indices.stats(index="w", metric="docs")["_all"]["primaries"]["docs"]
    assert (docs["count"], docs["deleted"]) == (0, 3)


def test_get_bulk_refresh_and_flush_counters(es):
    es.bulk(
        operations=[{"index": {"_index": "g", "_id": str(i)}} if i % 2 == 0 else {"n": i} for i in range(8)],
        refresh=True,
    )
    es.get(index="g", id="0")
    with pytest.raises(NotFoundError):
        es.get(index="g", id="missing")
    assert es.exists(index="g", id="2")
    es.get_source(index="g", id="4")
    es.mget(index="g", ids=["0", "nope"])
    es.update(index="g", id="6", doc={"n": 1})  # an update reads the document first
    stats = es.indices.stats(index="g", metric=["get", "bulk", "refresh", "flush", "translog"])
    primaries = stats["indices"]["g"]["primaries"]
    assert {k: primaries["get"][k] for k in ("total", "exists_total", "missing_total", "current")} == {
        "total": 7,
        "exists_total": 5,
        "missing_total": 2,
        "current": 0,
    }
    assert primaries["bulk"]["total_operations"] == 2  # the _bulk and the update, one shard bulk each
    assert primaries["bulk"]["total_size_in_bytes"] > 0
    assert (primaries["refresh"]["total"], primaries["refresh"]["external_total"]) == (1, 1)
    es.indices.refresh(index="g")
    assert primaries["translog"]["operations"] == 5
    assert es.indices.stats(index="g", metric="refresh")["_all"]["total"]["refresh"]["total"] == 2
    flushed = es.indices.flush(index="g")
    assert flushed.body == {"_shards": {"total": 2, "successful": 1, "failed": 0}}
    after = es.indices.stats(index="g", metric=["flush", "translog"])["_all"]["primaries"]
    assert after["flush"]["total"] == 1 and after["translog"]["operations"] == 0


def test_search_counters_count_query_and_fetch_phases(es):
    es.index(index="s1", id="1", document={"t": "a"}, refresh=True)
    es.index(index="s2", id="1", document={"t": "b"}, refresh=True)
    es.search(index="s1,s2", query={"term": {"t": "a"}})  # both queried, only s1 fetched
    es.search(index="s1", size=0)  # a query with nothing to fetch
    es.count(index="s2")
    stats = es.indices.stats(index="s*", metric="search")["indices"]
    s1, s2 = stats["s1"]["primaries"]["search"], stats["s2"]["primaries"]["search"]
    assert (s1["query_total"], s1["fetch_total"]) == (2, 1)
    assert (s2["query_total"], s2["fetch_total"]) == (2, 0)
    scroll = es.search(index="s1", scroll="1m", size=1)
    assert es.indices.stats(index="s1", metric="search")["_all"]["total"]["search"]["open_contexts"] == 1
    es.clear_scroll(scroll_id=scroll["_scroll_id"])
    assert es.indices.stats(index="s1", metric="search")["_all"]["total"]["search"]["open_contexts"] == 0


def test_human_readable_values(es):
    es.index(index="h", id="1", document={"a": 1})
    primaries = es.indices.stats(index="h", metric=["store", "get", "indexing"], human=True)["_all"][
        "primaries"
    ]
    assert primaries["store"]["size"].endswith("b") and isinstance(primaries["store"]["size_in_bytes"], int)
    assert primaries["get"]["getTime"] == "0s"  # Elasticsearch's own spelling for this one field
    assert primaries["indexing"]["index_time"].endswith(("s", "ms", "micros", "nanos"))


def test_vector_value_counts(es):
    es.indices.create(
        index="v",
        mappings={
            "properties": {
                "dense": {"type": "dense_vector", "dims": 2},
                "sparse": {"type": "sparse_vector"},
            }
        },
    )
    es.index(index="v", id="1", document={"dense": [1.0, 0.0], "sparse": {"a": 1.0}})
    es.index(index="v", id="2", document={"sparse": {"b": 2.0}})
    primaries = es.indices.stats(index="v", metric=["dense_vector", "sparse_vector"])["_all"]["primaries"]
    assert primaries["dense_vector"]["value_count"] == 1
    assert primaries["sparse_vector"] == {"value_count": 2}


def test_async_client(sandbox, es):
    es.index(index="a", id="1", document={"x": 1})

    async def read() -> dict:
        client = AsyncElasticsearch(sandbox.url, node_class="httpxasync")
        try:
            return (await client.indices.stats(index="a", metric="docs")).body
        finally:
            await client.close()

    body = asyncio.run(read())
    assert body["indices"]["a"]["primaries"]["docs"]["count"] == 1
