"""The `_cat` tables about shards, nodes and templates (es_sandbox/cat/cluster_tables.py, ml_tables.py),
through elasticsearch-py's cat methods: ES 9.5's columns and defaults, values from the state the JSON
APIs read, and ES's empty tables (and 404s) for what the sandbox has none of."""

from __future__ import annotations

import pytest
from elasticsearch import NotFoundError

from es_sandbox.indices.shards import murmur3_x86_32 as _murmur3_x86_32


@pytest.fixture
def sharded(es):
    es.indices.create(index="docs", settings={"number_of_shards": 3, "number_of_replicas": 1})
    for i in range(20):
        es.index(index="docs", id=str(i), document={"n": i})
    es.indices.create(index="single", settings={"number_of_replicas": 0})
    es.index(index="single", id="a", document={"title": "one"}, refresh=True)
    return es


def test_murmur3_is_lucenes():
    # published test vectors of MurmurHash3_x86_32 with seed 0
    assert _murmur3_x86_32(b"") == 0
    assert _murmur3_x86_32(b"hello") == 613153351
    assert _murmur3_x86_32(b"foo") == -156908512


def test_cat_shards_lists_each_copy_where_it_lives(sharded):
    rows = sharded.cat.shards(format="json", s="index,shard,prirep").body
    node = next(iter(sharded.nodes.info()["nodes"].values()))
    primaries = [r for r in rows if r["prirep"] == "p"]
    assert [(r["index"], r["shard"], r["state"]) for r in primaries] == [
        ("docs", "0", "STARTED"),
        ("docs", "1", "STARTED"),
        ("docs", "2", "STARTED"),
        ("single", "0", "STARTED"),
    ]
    assert set(primaries[0]) == {
        "index",
        "shard",
        "prirep",
        "state",
        "docs",
        "store",
        "dataset",
        "ip",
        "node",
    }
    assert {r["node"] for r in primaries} == {node["name"]}
    assert sum(int(r["docs"]) for r in primaries if r["index"] == "docs") == 20
    assert len({r["docs"] for r in primaries if r["index"] == "docs"}) > 1  # spread by the routing hash
    replicas = [r for r in rows if r["prirep"] == "r"]
    assert [(r["shard"], r["state"], r["node"], r["docs"]) for r in replicas] == [
        ("0", "UNASSIGNED", None, None),
        ("1", "UNASSIGNED", None, None),
        ("2", "UNASSIGNED", None, None),
    ]
    why = sharded.cat.shards(index="docs", format="json", h="prirep,unassigned.reason,rs").body
    assert why[1] == {"prirep": "r", "unassigned.reason": "INDEX_CREATED", "rs": "peer"}
    # the primaries' stores add up to what cat indices says of the index
    stores = sharded.cat.shards(index="single", format="json", bytes="b", h="store").body
    index_row = sharded.cat.indices(index="single", format="json", bytes="b", h="store.size").body
    assert stores[0]["store"] == index_row[0]["store.size"]
    with pytest.raises(NotFoundError):
        sharded.cat.shards(index="missing")


def test_cat_allocation_counts_shards_per_node_and_the_unassigned(sharded):
    rows = sharded.cat.allocation(format="json").body
    node = next(iter(sharded.nodes.info()["nodes"].values()))
    assert len(rows) == 2
    mine, unassigned = rows
    assert (mine["shards"], mine["shards.undesired"], mine["node"], mine["ip"]) == (
        "4",
        "0",
        node["name"],
        node["ip"],
    )
    assert 0 <= int(mine["disk.percent"]) <= 100
    assert mine["node.role"] == "dhilmst"
    assert unassigned == {
        **{k: None for k in mine},
        "shards": "3",
        "node": "UNASSIGNED",
    }
    assert sharded.cat.allocation(node_id="no-such-node", format="json").body == [
        {**{k: None for k in mine}, "shards": "3", "node": "UNASSIGNED"}
    ]


def test_cat_recovery_shows_each_primary_recovered_from_an_empty_store(sharded):
    text = sharded.cat.recovery(index="docs", v=True).body
    header, *lines = text.splitlines()
    assert header.split()[:9] == [
        "index",
        "shard",
        "time",
        "type",
        "stage",
        "source_host",
        "source_node",
        "target_host",
        "target_node",
    ]
    assert [line.split()[:5] for line in lines] == [
        ["docs", str(shard), "0s", "empty_store", "done"] for shard in range(3)
    ]
    assert sharded.cat.recovery(format="json", active_only=True).body == []


def test_cat_master_and_nodeattrs_match_the_nodes_api(es):
    info = es.nodes.info()["nodes"]
    master_id = es.cluster.state(metric="master_node")["master_node"]
    assert es.cat.master(format="json").body == [
        {
            "id": master_id,
            "host": info[master_id]["ip"],
            "ip": info[master_id]["ip"],
            "node": info[master_id]["name"],
        }
    ]
    rows = es.cat.nodeattrs(format="json", h="node,attr,value").body
    expected = [
        {"node": node["name"], "attr": attr, "value": value}
        for node in info.values()
        for attr, value in node["attributes"].items()
    ]
    assert sorted(rows, key=str) == sorted(expected, key=str) and rows


def test_cat_thread_pool_and_circuit_breaker_per_node(es):
    pools = es.cat.thread_pool(format="json", h="name,type,size,core,max,queue_size").body
    info = next(iter(es.nodes.info(metric="thread_pool")["nodes"].values()))["thread_pool"]
    assert [p["name"] for p in pools] == sorted(info)
    write = next(p for p in pools if p["name"] == "write")
    assert write == {
        "name": "write",
        "type": "fixed",
        "size": str(info["write"]["size"]),
        "core": None,
        "max": None,
        "queue_size": "10000",
    }
    assert [p["name"] for p in es.cat.thread_pool(thread_pool_patterns="search*", format="json").body] == [
        "search",
        "search_coordination",
    ]
    breakers = es.cat.circuit_breaker(format="json", h="breaker,limit_bytes,estimated_bytes,tripped").body
    stats = next(iter(es.nodes.stats(metric="breaker")["nodes"].values()))["breakers"]
    assert [b["breaker"] for b in breakers] == list(stats)
    assert breakers[0] == {
        "breaker": "request",
        "limit_bytes": str(stats["request"]["limit_size_in_bytes"]),
        "estimated_bytes": "0",
        "tripped": "0",
    }
    assert [
        b["breaker"] for b in es.cat.circuit_breaker(circuit_breaker_patterns="parent", format="json").body
    ] == ["parent"]


def test_cat_templates_and_component_templates(es):
    es.cluster.put_component_template(
        name="base",
        template={
            "settings": {"number_of_shards": 1},
            "mappings": {"properties": {"a": {"type": "keyword"}}},
        },
        version=3,
        meta={"owner": "team"},
    )
    es.indices.put_index_template(
        name="logs-x", index_patterns=["logs-x-*"], composed_of=["base"], priority=7
    )
    es.indices.put_template(name="old", index_patterns=["old-*", "older-*"], order=2)
    assert es.cat.templates(format="json").body == [
        {
            "name": "old",
            "index_patterns": "[old-*, older-*]",
            "order": "2",
            "version": None,
            "composed_of": "",
        },
        {
            "name": "logs-x",
            "index_patterns": "[logs-x-*]",
            "order": "7",
            "version": None,
            "composed_of": "[base]",
        },
    ]
    assert [t["name"] for t in es.cat.templates(name="log*", format="json").body] == ["logs-x"]
    assert es.cat.component_templates(format="json").body == [
        {
            "name": "base",
            "version": "3",
            "alias_count": "0",
            "mapping_count": "1",
            "settings_count": "1",
            "metadata_count": "1",
            "included_in": "[logs-x]",
        }
    ]
    assert es.cat.component_templates(name="nothing*", format="json").body == []


def test_tables_of_what_the_sandbox_has_none_of_are_empty(sharded):
    for call in (
        sharded.cat.pending_tasks,
        sharded.cat.plugins,
        sharded.cat.fielddata,
        sharded.cat.segments,
        sharded.cat.repositories,
        sharded.cat.snapshots,
        sharded.cat.ml_jobs,
        sharded.cat.ml_datafeeds,
        sharded.cat.ml_data_frame_analytics,
        sharded.cat.transforms,
    ):
        assert call(format="json").body == []
    assert sharded.cat.pending_tasks(v=True).body == "insertOrder timeInQueue priority source\n"
    with pytest.raises(NotFoundError) as missing:
        sharded.cat.snapshots(repository="backups")
    assert (missing.value.error, missing.value.info["error"]["reason"]) == (
        "repository_missing_exception",
        "[backups] missing",
    )


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda es: es.cat.ml_jobs(job_id="j1"), "No known job with id 'j1'"),
        (lambda es: es.cat.ml_datafeeds(datafeed_id="d1"), "No datafeed with id [d1] exists"),
        (lambda es: es.cat.ml_data_frame_analytics(id="a1"), "No known data frame analytics with id [a1]"),
        (lambda es: es.cat.transforms(transform_id="t1"), "Transform with id [t1] could not be found"),
        (lambda es: es.cat.ml_jobs(job_id="j*", allow_no_match=False), "No known job with id 'j*'"),
    ],
)
def test_an_ml_id_that_matches_nothing_is_not_found(es, call, reason):
    with pytest.raises(NotFoundError) as missing:
        call(es)
    assert (missing.value.error, missing.value.info["error"]["reason"]) == (
        "resource_not_found_exception",
        reason,
    )


def test_the_cat_listing_names_every_table(es):
    text = es.perform_request("GET", "/_cat", headers={"accept": "text/plain"}).body
    lines = text.splitlines()
    assert lines[:4] == ["=^.^=", "/_cat/allocation", "/_cat/shards", "/_cat/shards/{index}"]
    # ES's component templates documentation ends without a newline
    assert "/_cat/component_templates/_cat/circuit_breaker" in lines
    assert lines[-1] == "/_cat/transforms/{transform_id}"
