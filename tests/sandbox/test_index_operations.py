"""Whole-index operations as Elasticsearch 9 answers them, with the real elasticsearch-py client:
close and open (a closed index refuses reads and writes), index blocks (added, removed, enforced on
writes and reads), resize (clone, shrink, split: the source must block writes, shard counts checked,
documents copied), rollover (conditions, dry run, the alias moved), forcemerge and cache clearing, and
`index.version.created` as the node's IndexVersion."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError, AuthorizationException, BadRequestError

from tests.sandbox.ml_support import status_type_reason


@pytest.fixture
def docs(es):
    es.indices.create(index="src", settings={"number_of_shards": 2, "number_of_replicas": 0})
    es.bulk(refresh=True, operations=[{"index": {"_index": "src", "_id": "1"}}, {"t": "a"}])
    return es


def test_close_refuses_reads_and_writes_until_open(docs):
    es = docs
    closed = es.indices.close(index="src")
    assert closed.body == {
        "acknowledged": True,
        "shards_acknowledged": True,
        "indices": {"src": {"closed": True}},
    }
    for call in (
        lambda: es.search(index="src"),
        lambda: es.get(index="src", id="1"),
        lambda: es.index(index="src", id="2", document={"t": "b"}),
    ):
        with pytest.raises(BadRequestError) as refused:
            call()
        assert status_type_reason(refused.value) == (400, "index_closed_exception", "closed")
        assert refused.value.body["error"]["index"] == "src"
    # Wildcards skip a closed index; ignore_unavailable skips it named outright.
    assert es.search(index="sr*")["hits"]["total"]["value"] == 0
    assert es.count(index="src", ignore_unavailable=True)["count"] == 0
    state = es.cluster.state(metric="metadata", index="src")
    assert state["metadata"]["indices"]["src"]["state"] == "close"
    assert es.indices.open(index="src").body == {"acknowledged": True, "shards_acknowledged": True}
    assert es.get(index="src", id="1")["_source"] == {"t": "a"}


def test_blocks_added_enforced_and_removed(docs):
    es = docs
    added = es.indices.add_block(index="src", block="write")
    assert added.body == {
        "acknowledged": True,
        "shards_acknowledged": True,
        "indices": [{"name": "src", "blocked": True}],
    }
    assert es.indices.get_settings(index="src")["src"]["settings"]["index"]["blocks"] == {"write": "true"}
    with pytest.raises(AuthorizationException) as refused:
        es.index(index="src", id="2", document={"t": "b"})
    assert status_type_reason(refused.value) == (
        403,
        "cluster_block_exception",
        "index [src] blocked by: [FORBIDDEN/8/index write (api)];",
    )
    item = es.bulk(operations=[{"index": {"_index": "src", "_id": "3"}}, {"t": "c"}])["items"][0]["index"]
    assert item["status"] == 403 and item["error"]["type"] == "cluster_block_exception"
    assert es.search(index="src")["hits"]["total"]["value"] == 1  # reads still pass a write block
    removed = es.indices.remove_block(index="src", block="write")
    assert removed.body == {"acknowledged": True, "indices": [{"name": "src", "unblocked": True}]}
    assert es.index(index="src", id="2", document={"t": "b"})["result"] == "created"

    es.indices.put_settings(index="src", settings={"index.blocks.read": True})
    with pytest.raises(AuthorizationException) as refused:
        es.search(index="src")
    assert status_type_reason(refused.value)[2] == "index [src] blocked by: [FORBIDDEN/7/index read (api)];"
    with pytest.raises(BadRequestError) as refused:
        es.indices.add_block(index="src", block="nothing")
    assert status_type_reason(refused.value) == (
        400,
        "illegal_argument_exception",
        "No block found with name [nothing]",
    )


def test_resize_needs_a_write_block_and_copies_documents(docs):
    es = docs
    with pytest.raises(ApiError) as refused:
        es.indices.clone(index="src", target="copy")
    assert status_type_reason(refused.value) == (
        500,
        "illegal_state_exception",
        'index src must block write operations to resize index. use "index.blocks.write=true"',
    )
    es.indices.put_settings(index="src", settings={"index.blocks.write": True})
    with pytest.raises(BadRequestError) as refused:
        es.indices.shrink(index="src", target="small", settings={"index.number_of_shards": 3})
    assert (
        status_type_reason(refused.value)[2]
        == "the number of target shards [3] must be less that the number of source shards [2]"
    )
    with pytest.raises(BadRequestError) as refused:
        es.indices.clone(index="src", target="copy", body={"mappings": {}})
    assert "mappings are not allowed when resizing indices" in status_type_reason(refused.value)[2]

    assert es.indices.clone(index="src", target="copy").body == {
        "acknowledged": True,
        "shards_acknowledged": True,
        "index": "copy",
    }
    assert es.indices.shrink(index="src", target="small").body["index"] == "small"
    assert es.get(index="copy", id="1")["_source"] == {"t": "a"}
    settings = es.indices.get_settings(index="small")["small"]["settings"]["index"]
    assert settings["number_of_shards"] == "1" and settings["blocks"] == {"write": "true"}
    assert es.count(index="small")["count"] == 1


def test_rollover_moves_the_alias_when_conditions_hold(es):
    es.indices.create(index="logs-000001", aliases={"logs": {}})
    es.index(index="logs", id="1", document={"m": 1}, refresh=True)
    waiting = es.indices.rollover(alias="logs", conditions={"max_docs": 2})
    assert waiting.body == {
        "acknowledged": False,
        "shards_acknowledged": False,
        "old_index": "logs-000001",
        "new_index": "logs-000002",
        "rolled_over": False,
        "dry_run": False,
        "lazy": False,
        "conditions": {"[max_docs: 2]": False},
    }
    assert not es.indices.exists(index="logs-000002")
    assert es.indices.rollover(alias="logs", dry_run=True)["rolled_over"] is False
    done = es.indices.rollover(alias="logs", conditions={"max_docs": 1})
    assert done["rolled_over"] is True and done["conditions"] == {"[max_docs: 1]": True}
    assert list(es.indices.get_alias(name="logs")) == ["logs-000002"]
    assert es.index(index="logs", document={"m": 2})["_index"] == "logs-000002"
    with pytest.raises(BadRequestError) as refused:
        es.indices.rollover(alias="logs-000002")
    assert (
        status_type_reason(refused.value)[2]
        == "rollover target is a [concrete index] but one of [alias, data_stream] was expected"
    )


def test_forcemerge_and_cache_clear_answer_per_shard(docs):
    es = docs
    header = {"total": 2, "successful": 2, "failed": 0}
    assert es.indices.forcemerge(index="src", max_num_segments=1)["_shards"] == header
    assert es.indices.clear_cache(index="src", fielddata=True)["_shards"] == header


def test_version_created_is_the_index_version_the_node_reports(es):
    es.indices.create(index="v")
    created = es.indices.get_settings(index="v")["v"]["settings"]["index"]["version"]["created"]
    node = next(iter(es.nodes.info()["nodes"].values()))
    assert int(created) == node["index_version"] == 9_108_0_00  # 9.5.3: UPGRADE_TO_LUCENE_10_5_1
