"""Shard-level index statistics (`GET {index}/_stats?level=shards`) with the real elasticsearch-py
client: each started primary's ShardStats as Elasticsearch renders it (routing, CommonStats, commit,
seq_no, retention_leases, shard_path, search idle), sequence numbers moving on every operation the
engine executes (index, overwrite, delete, a delete of a missing document; not a noop update),
documents placed on shards by ES's routing, commits on flush, and what a node restart keeps (the
sequence numbers) and moves (the primary term)."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch, NotFoundError

from es_sandbox.indices.shards import murmur3_x86_32
from tests.sandbox.ml_support import arm_faults

SHARD_KEYS = [
    "routing",
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
    "commit",
    "seq_no",
    "retention_leases",
    "shard_path",
    "search_idle",
    "search_idle_time",
]


def shard(es: Elasticsearch, index: str, number: int = 0, **params) -> dict:
    [copy] = es.indices.stats(index=index, level="shards", **params)["indices"][index]["shards"][str(number)]
    return copy


def seq_no(es: Elasticsearch, index: str, number: int = 0) -> dict:
    return shard(es, index, number, metric="docs")["seq_no"]


def test_a_new_shard_as_elasticsearch_renders_it(es):
    es.indices.create(index="fresh", settings={"number_of_replicas": 0})
    stats = es.indices.stats(index="fresh", level="shards")
    entry = stats["indices"]["fresh"]
    assert list(entry) == ["uuid", "health", "status", "primaries", "total", "shards"]
    assert list(entry["shards"]) == ["0"]
    [copy] = entry["shards"]["0"]
    assert list(copy) == SHARD_KEYS
    node = es.nodes.info()["nodes"]
    [node_id] = node
    assert copy["routing"] == {"state": "STARTED", "primary": True, "node": node_id, "relocating_node": None}
    assert copy["docs"]["count"] == 0 and copy["shard_stats"] == {"total_count": 1}
    assert copy["seq_no"] == {"max_seq_no": -1, "local_checkpoint": -1, "global_checkpoint": -1}
    commit = copy["commit"]
    assert commit["generation"] == 3 and commit["num_docs"] == 0 and len(commit["id"]) == 24
    user_data = commit["user_data"]
    assert {k: user_data[k] for k in ("local_checkpoint", "max_seq_no", "min_retained_seq_no")} == {
        "local_checkpoint": "-1",
        "max_seq_no": "-1",
        "min_retained_seq_no": "0",
    }
    assert len(user_data["history_uuid"]) == 22 and len(user_data["translog_uuid"]) == 22
    assert (
        user_data["es_version"]
        == es.indices.get_settings(index="fresh")["fresh"]["settings"]["index"]["version"]["created"]
    )
    leases = copy["retention_leases"]
    assert (leases["primary_term"], leases["version"]) == (1, 1)
    [lease] = leases["leases"]
    assert (lease["id"], lease["retaining_seq_no"], lease["source"]) == (
        f"peer_recovery/{node_id}",
        0,
        "peer recovery",
    )
    assert copy["shard_path"]["state_path"] == copy["shard_path"]["data_path"]
    assert copy["shard_path"]["is_custom_data_path"] is False
    assert copy["search_idle"] is False and copy["search_idle_time"] >= 0
    # The other levels leave the shards out; a metric narrows CommonStats, not the shard's own parts.
    assert "shards" not in es.indices.stats(index="fresh")["indices"]["fresh"]
    assert list(shard(es, "fresh", metric="docs")) == ["routing", "docs", *SHARD_KEYS[-6:]]


def test_every_operation_the_engine_executes_takes_a_sequence_number(es):
    es.indices.create(index="ops", settings={"number_of_replicas": 0})
    written = [es.index(index="ops", id=str(i), document={"n": i}) for i in range(3)]
    assert [w["_seq_no"] for w in written] == [0, 1, 2]
    assert seq_no(es, "ops") == {"max_seq_no": 2, "local_checkpoint": 2, "global_checkpoint": 2}
    es.update(index="ops", id="0", doc={"n": 10})  # an overwrite
    assert seq_no(es, "ops")["max_seq_no"] == 3
    noop = es.update(index="ops", id="0", doc={"n": 10})
    assert noop["result"] == "noop" and seq_no(es, "ops")["max_seq_no"] == 3, "a noop update takes none"
    es.delete(index="ops", id="1")
    with pytest.raises(NotFoundError) as missing:
        es.delete(index="ops", id="never")
    assert missing.value.body["_seq_no"] == 5, "a delete of a missing document reaches the engine too"
    assert seq_no(es, "ops")["max_seq_no"] == 5
    docs = shard(es, "ops", metric="docs")["docs"]
    assert (docs["count"], docs["deleted"]) == (2, 2)
    es.delete_by_query(index="ops", query={"match_all": {}}, refresh=True)
    assert seq_no(es, "ops")["max_seq_no"] == 7


def test_documents_live_on_the_shard_es_routes_them_to_each_with_its_own_sequence(es):
    es.indices.create(index="spread", settings={"number_of_shards": 3, "number_of_replicas": 0})
    ids = [f"doc-{i}" for i in range(30)]
    written = {i: es.index(index="spread", id=i, document={"i": i}) for i in ids}
    index = es.indices.stats(index="spread", level="shards")["indices"]["spread"]
    assert list(index["shards"]) == ["0", "1", "2"]
    metadata = es.cluster.state(metric="metadata", index="spread")["metadata"]["indices"]["spread"]
    routing_shards = metadata["routing_num_shards"]  # 768: 3 * 2^8
    factor = routing_shards // 3
    where = {i: (murmur3_x86_32(i.encode("utf-16-le")) % routing_shards) // factor for i in ids}
    for number in range(3):
        [copy] = index["shards"][str(number)]
        mine = [i for i in ids if where[i] == number]
        assert copy["docs"]["count"] == len(mine)
        assert copy["indexing"]["index_total"] == len(mine)
        assert copy["seq_no"]["max_seq_no"] == len(mine) - 1
        assert sorted(written[i]["_seq_no"] for i in mine) == list(range(len(mine)))
    assert sum(c[0]["docs"]["count"] for c in index["shards"].values()) == index["primaries"]["docs"]["count"]
    cat = es.cat.shards(index="spread", format="json", h="shard,docs")
    assert {int(row["shard"]): int(row["docs"]) for row in cat} == {
        n: index["shards"][str(n)][0]["docs"]["count"] for n in range(3)
    }


def test_a_flush_commits_what_was_executed_since_the_last_commit(es):
    es.indices.create(index="flushed", settings={"number_of_replicas": 0})
    es.bulk(
        operations=[x for i in range(4) for x in ({"index": {"_index": "flushed", "_id": str(i)}}, {"i": i})]
    )
    before = shard(es, "flushed")["commit"]
    assert before["user_data"]["max_seq_no"] == "-1", "nothing committed before a flush"
    es.indices.flush(index="flushed")
    after = shard(es, "flushed")["commit"]
    assert after["generation"] == before["generation"] + 1 and after["id"] != before["id"]
    assert after["num_docs"] == 4
    assert (after["user_data"]["max_seq_no"], after["user_data"]["local_checkpoint"]) == ("3", "3")
    assert after["user_data"]["history_uuid"] == before["user_data"]["history_uuid"]
    es.indices.flush(index="flushed")
    assert shard(es, "flushed")["commit"] == after, "nothing new: no new commit"


def test_a_node_restart_keeps_the_sequence_numbers_under_a_new_primary_term(es):
    es.indices.create(index="kept", settings={"number_of_replicas": 0})
    es.index(index="kept", id="a", document={"v": 1})
    es.index(index="kept", id="a", document={"v": 2})
    before = shard(es, "kept")
    arm_faults(es, node_restart=True)
    after = shard(es, "kept")
    assert (
        after["seq_no"]
        == before["seq_no"]
        == {"max_seq_no": 1, "local_checkpoint": 1, "global_checkpoint": 1}
    )
    assert after["commit"]["user_data"]["max_seq_no"] == "1", "recovery from the translog commits it"
    assert after["indexing"]["index_total"] == 0, "counters live in node memory"
    terms = es.cluster.state(metric="metadata", index="kept")["metadata"]["indices"]["kept"]["primary_terms"]
    assert terms == {"0": 2}
    written = es.index(index="kept", id="b", document={"v": 1})
    assert (written["_seq_no"], written["_primary_term"]) == (2, 2)
    assert es.get(index="kept", id="a")["_primary_term"] == 1, (
        "a document keeps the term it was written under"
    )
    es.indices.close(index="kept")
    es.indices.open(index="kept")
    terms = es.cluster.state(metric="metadata", index="kept")["metadata"]["indices"]["kept"]["primary_terms"]
    assert terms == {"0": 4}, "closing and opening allocate the primary anew, each time"


def test_sequence_numbers_and_terms_survive_a_restart_from_the_data_directory(start_sandbox, tmp_path):
    proc = start_sandbox(data_dir=tmp_path)
    es = Elasticsearch(proc.url)
    es.indices.create(index="disk", settings={"number_of_shards": 2, "number_of_replicas": 0})
    for i in range(10):
        es.index(index="disk", id=str(i), document={"i": i})
    es.delete(index="disk", id="3")
    before = es.indices.stats(index="disk", level="shards", metric="docs")["indices"]["disk"]["shards"]
    uuid = es.indices.get(index="disk")["disk"]["settings"]["index"]["uuid"]
    proc.stop()

    es = Elasticsearch(start_sandbox(data_dir=tmp_path).url)
    after = es.indices.stats(index="disk", level="shards", metric="docs")["indices"]["disk"]
    assert after["uuid"] == uuid
    for number in ("0", "1"):
        assert after["shards"][number][0]["seq_no"] == before[number][0]["seq_no"]
        assert after["shards"][number][0]["docs"] == before[number][0]["docs"]
    terms = es.cluster.state(metric="metadata", index="disk")["metadata"]["indices"]["disk"]["primary_terms"]
    assert terms == {"0": 2, "1": 2}
