"""The `_cat` APIs as Elasticsearch's RestTable and cat actions answer them: columns, aliases, defaults,
alignment, `v`, `h`, `s`, `bytes`, `help`, text and `format=json`."""

from __future__ import annotations

import asyncio
import re

import pytest
from elasticsearch import ApiError, AsyncElasticsearch, Elasticsearch, NotFoundError

from tests.sandbox.ml_support import put_elser


def _fill(es: Elasticsearch) -> None:
    es.indices.create(index="cats", settings={"number_of_replicas": 0})
    es.indices.create(index="dogs")
    es.bulk(
        operations=[op for i in range(3) for op in ({"index": {"_index": "cats", "_id": str(i)}}, {"n": i})]
    )
    es.delete(index="cats", id="0")


def test_listing_names_the_served_tables(es):
    text = es.perform_request("GET", "/_cat", headers={"accept": "text/plain"}).body
    lines = text.splitlines()
    assert lines[0] == "=^.^="
    assert {"/_cat/indices", "/_cat/indices/{index}", "/_cat/health", "/_cat/ml/trained_models"} <= set(lines)


def test_cat_indices_text_aligns_as_elasticsearch_does(es):
    _fill(es)
    text = es.cat.indices(v=True, s="index").body
    header, cats, dogs = text.splitlines()
    assert header.split() == [
        "health",
        "status",
        "index",
        "uuid",
        "pri",
        "rep",
        "docs.count",
        "docs.deleted",
        "store.size",
        "pri.store.size",
        "dataset.size",
    ]
    assert cats.split()[:8] == ["green", "open", "cats", cats.split()[3], "1", "0", "2", "1"]
    # Right-aligned numbers end under their header; left-aligned text starts under it.
    assert header.index("docs.count") + len("docs.count") == cats.index(" 2 ") + 2
    assert dogs.index("dogs") == header.index("index")
    assert not text.endswith(" \n")  # the last column is not padded
    assert re.fullmatch(r"\d+b", dogs.split()[-1])


def test_cat_indices_json_keys_follow_the_requested_names(es):
    _fill(es)
    rows = es.cat.indices(format="json", h="i,dc,docs.deleted,ss", s="i", bytes="b").body
    assert [r["i"] for r in rows] == ["cats", "dogs"]
    assert rows[0]["dc"] == "2" and rows[0]["docs.deleted"] == "1"
    assert rows[0]["ss"].isdigit()
    assert set(rows[0]) == {"i", "dc", "docs.deleted", "ss"}
    # Unknown columns are skipped, as RestTable skips them; wildcards expand over names and aliases.
    assert es.cat.indices(format="json", h="index,no.such.column", index="cats").body == [{"index": "cats"}]
    creation = es.cat.indices(format="json", h="creation.*", index="cats").body[0]
    assert set(creation) == {"creation.date", "creation.date.string"}
    assert creation["creation.date.string"].endswith("Z")


def test_cat_indices_sorts_filters_and_shows_primaries(es):
    _fill(es)
    assert [r["index"] for r in es.cat.indices(format="json", h="index", s="docs.count:desc").body] == [
        "cats",
        "dogs",
    ]
    assert es.cat.indices(format="json", h="index", health="yellow").body == [{"index": "dogs"}]
    with_pri = es.cat.indices(format="json", h="index,store.size", pri=True, index="cats").body
    assert list(with_pri[0]) == ["index", "store.size", "pri.store.size"]
    with pytest.raises(NotFoundError) as info:
        es.cat.indices(index="nope")
    assert info.value.error == "index_not_found_exception"


def test_cat_indices_unknown_sort_key_is_elasticsearchs_500(es):
    # RestTable throws UnsupportedOperationException, which Elasticsearch itself answers with a 500.
    with pytest.raises(ApiError) as info:
        es.cat.indices(s="no_such_column")
    assert info.value.meta.status == 500
    assert info.value.body["error"]["type"] == "unsupported_operation_exception"
    assert info.value.body["error"]["reason"] == "Unable to sort by unknown sort key `no_such_column`"


def test_help_lists_name_aliases_and_description(es):
    lines = es.cat.health(help=True).body.splitlines()
    names = [line.split("|")[0].strip() for line in lines]
    assert names[:4] == ["epoch", "timestamp", "cluster", "status"]
    assert "unassign.pri" in names
    epoch = lines[0].split(" | ")
    assert [p.strip() for p in epoch] == ["epoch", "t,time", "seconds since 1970-01-01 00:00:00"]


def test_cat_count_and_health(es):
    _fill(es)
    (count,) = es.cat.count(index="cats", format="json").body
    assert (
        count["count"] == "2"
        and count["epoch"].isdigit()
        and re.fullmatch(r"\d\d:\d\d:\d\d", count["timestamp"])
    )
    assert es.cat.count(h="count").body.strip() == "2"
    (health,) = es.cat.health(format="json", ts=False).body
    assert "epoch" not in health and "timestamp" not in health
    assert health["status"] == "yellow"
    assert health["shards"] == "2" and health["unassign"] == "1" and health["unassign.pri"] == "0"
    assert health["active_shards_percent"] == "66.7%"
    assert health["max_task_wait_time"] == "-"


def test_cat_nodes(es):
    text = es.cat.nodes(v=True).body
    header, row = text.splitlines()
    assert header.split() == [
        "ip",
        "heap.percent",
        "ram.percent",
        "cpu",
        "load_1m",
        "load_5m",
        "load_15m",
        "node.role",
        "master",
        "name",
    ]
    assert row.split()[-3:] == ["dhilmst", "*", "es-sandbox-node-0"]
    (node,) = es.cat.nodes(format="json", h="id,version,jdk,heap.max,available_processors", full_id=True).body
    assert node["id"] == next(iter(es.nodes.info()["nodes"]))
    assert node["version"] == es.info()["version"]["number"]
    assert node["available_processors"] == "8"
    assert len(es.cat.nodes(format="json", h="id").body[0]["id"]) == 4


def test_cat_tasks_shows_its_own_listing(es):
    rows = es.cat.tasks(format="json", detailed=True).body
    listing = next(r for r in rows if r["action"] == "cluster:monitor/tasks/lists")
    assert listing["parent_task_id"] == "-"
    assert listing["type"] == "transport"
    assert "description" in listing
    child = next(r for r in rows if r["action"] == "cluster:monitor/tasks/lists[n]")
    assert child["parent_task_id"] == listing["task_id"]
    assert "description" not in es.cat.tasks(format="json").body[0]


def test_cat_aliases(es):
    es.indices.create(
        index="logs-1", aliases={"logs": {"is_write_index": True}, "errors": {"filter": {"match_all": {}}}}
    )
    rows = es.cat.aliases(format="json", s="alias").body
    assert rows == [
        {
            "alias": "errors",
            "index": "logs-1",
            "filter": "*",
            "routing.index": "-",
            "routing.search": "-",
            "is_write_index": "-",
        },
        {
            "alias": "logs",
            "index": "logs-1",
            "filter": "-",
            "routing.index": "-",
            "routing.search": "-",
            "is_write_index": "true",
        },
    ]
    assert es.cat.aliases(name="err*", h="alias").body.strip() == "errors"


def test_cat_trained_models(es):
    put_elser(es)
    text = es.cat.ml_trained_models(v=True, s="id").body
    lines = text.splitlines()
    assert lines[0].split() == [
        "id",
        "heap_size",
        "operations",
        "create_time",
        "ingest.pipelines",
        "data_frame.id",
    ]
    assert [line.split()[0] for line in lines[1:]] == [".elser_model_2", "lang_ident_model_1"]
    rows = es.cat.ml_trained_models(
        format="json", h="id,license,type,version", model_id=".elser_model_2"
    ).body
    assert rows == [{"id": ".elser_model_2", "license": "PLATINUM", "type": "pytorch", "version": "12.0.0"}]


def test_the_async_client_reads_cat_and_nodes(es, sandbox):
    _fill(es)

    async def read():
        async with AsyncElasticsearch(sandbox.url, node_class="httpxasync") as client:
            rows = (await client.cat.indices(format="json", h="index", s="index")).body
            text = (await client.cat.health(h="status")).body
            info = await client.nodes.info(metric="os")
            usage = await client.nodes.usage(metric="rest_actions")
            return rows, text, info, usage

    rows, text, info, usage = asyncio.run(read())
    assert rows == [{"index": "cats"}, {"index": "dogs"}]
    assert text.strip() == "yellow"
    (node,) = info["nodes"].values()
    assert set(node["os"]) >= {"name", "arch", "available_processors", "allocated_processors"}
    (counts,) = usage["nodes"].values()
    assert counts["rest_actions"]["cat_indices_action"] >= 1
