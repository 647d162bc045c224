"""`GET _cluster/state[/{metric}[/{indices}]]` with the real elasticsearch-py client: the sections of
ClusterState in the API context, the metadata of indices (settings, mappings, aliases, versions), the
index graveyard and ingest pipelines, the routing of one data node, and the request's filters."""

from __future__ import annotations

import asyncio

import pytest
from elasticsearch import AsyncElasticsearch, NotFoundError


def test_the_whole_state(es):
    es.indices.create(
        index="logs",
        settings={"number_of_shards": 3},
        mappings={"properties": {"msg": {"type": "text"}}},
        aliases={"current": {}},
    )
    es.ingest.put_pipeline(id="tag", processors=[{"set": {"field": "tagged", "value": True}}])
    state = es.cluster.state()
    master = next(iter(es.nodes.info()["nodes"]))
    assert list(state) == [
        "cluster_name",
        "cluster_uuid",
        "version",
        "state_uuid",
        "master_node",
        "blocks",
        "nodes",
        "nodes_versions",
        "nodes_features",
        "metadata",
        "routing_table",
        "routing_nodes",
    ]
    assert state["master_node"] == master and state["blocks"] == {}
    assert state["cluster_uuid"] == es.info()["cluster_uuid"] == state["metadata"]["cluster_uuid"]
    node = state["nodes"][master]
    assert list(node) == [
        "name",
        "ephemeral_id",
        "transport_address",
        "external_id",
        "attributes",
        "roles",
        "version",
        "min_index_version",
        "max_index_version",
    ]
    assert node["version"] == es.info()["version"]["number"]
    metadata = state["metadata"]
    assert metadata["cluster_coordination"]["last_committed_config"] == [master]
    logs = metadata["indices"]["logs"]
    assert logs["state"] == "open" and logs["routing_num_shards"] == 768  # 3 shards * 2^8, the most <= 1024
    assert logs["mappings"] == {"_doc": {"properties": {"msg": {"type": "text"}}}}
    assert logs["aliases"] == ["current"]
    assert logs["settings"]["index"]["number_of_shards"] == "3"
    assert logs["primary_terms"] == {"0": 1, "1": 1, "2": 1}
    assert list(logs["in_sync_allocations"]) == ["0", "1", "2"]
    assert metadata["ingest"] == {
        "pipeline": [{"id": "tag", "config": {"processors": [{"set": {"field": "tagged", "value": True}}]}}]
    }
    shards = state["routing_table"]["indices"]["logs"]["shards"]
    primary, replica = shards["0"]
    assert primary["state"] == "STARTED" and primary["primary"] and primary["node"] == master
    assert primary["allocation_id"]["id"] == logs["in_sync_allocations"]["0"][0]
    assert replica["state"] == "UNASSIGNED" and replica["node"] is None
    assert replica["unassigned_info"]["reason"] == "INDEX_CREATED"
    assert len(state["routing_nodes"]["unassigned"]) == 3
    assert len(state["routing_nodes"]["nodes"][master]) == 3


def test_versions_and_graveyard_move_with_changes(es):
    es.indices.create(index="v1")
    before = es.cluster.state(metric="metadata,version")
    meta = before["metadata"]["indices"]["v1"]
    assert (meta["version"], meta["mapping_version"], meta["settings_version"], meta["aliases_version"]) == (
        1,
        1,
        1,
        1,
    )
    es.indices.put_mapping(index="v1", properties={"k": {"type": "keyword"}})
    es.indices.put_settings(index="v1", settings={"number_of_replicas": 0})
    es.indices.put_alias(index="v1", name="al")
    es.index(index="v1", id="1", document={"k": "x", "new_field": 1})  # a dynamic mapping update
    after = es.cluster.state(metric="metadata,version")
    meta = after["metadata"]["indices"]["v1"]
    assert (meta["version"], meta["mapping_version"], meta["settings_version"], meta["aliases_version"]) == (
        5,
        3,
        2,
        2,
    )
    assert after["version"] > before["version"] and after["state_uuid"] != before["state_uuid"]
    uuid = es.indices.get(index="v1")["v1"]["settings"]["index"]["uuid"]
    es.indices.delete(index="v1")
    gone = es.cluster.state(metric="metadata,version")
    assert gone["version"] > after["version"]
    (tombstone,) = gone["metadata"]["index-graveyard"]["tombstones"]
    assert tombstone["index"] == {"index_name": "v1", "index_uuid": uuid}
    assert isinstance(tombstone["delete_date_in_millis"], int)


def test_metrics_and_index_filters(es):
    es.indices.create(index="test_open_index", settings={"number_of_replicas": 0})
    es.indices.create(index="other", settings={"index.blocks.write": True})
    only = es.cluster.state(metric="metadata", index="test*")
    assert list(only) == ["cluster_name", "cluster_uuid", "metadata"]
    assert list(only["metadata"]["indices"]) == ["test_open_index"]
    assert (
        es.cluster.state(metric="metadata", index="foobla", ignore_unavailable=True)["metadata"]["indices"]
        == {}
    )
    assert (
        es.cluster.state(metric="metadata", index="foobla")["metadata"]["indices"] == {}
    )  # lenient by default
    with pytest.raises(NotFoundError) as missing:
        es.cluster.state(metric="metadata", index="foobla", ignore_unavailable=False)
    assert missing.value.error == "index_not_found_exception"
    assert es.cluster.state(metric="metadata", index="not_there*")["metadata"]["indices"] == {}
    with pytest.raises(NotFoundError):
        es.cluster.state(metric="metadata", index="not_there*", allow_no_indices=False)
    unknown = es.cluster.state(metric="nothing_like_this")
    assert list(unknown) == ["cluster_name", "cluster_uuid"]  # unknown metrics are ignored
    blocks = es.cluster.state(metric="blocks")["blocks"]
    assert blocks == {
        "indices": {
            "other": {"8": {"description": "index write (api)", "retryable": False, "levels": ["write"]}}
        }
    }
    flat = es.cluster.state(metric="metadata", index="other", flat_settings=True)["metadata"]["indices"][
        "other"
    ]
    assert flat["settings"]["index.blocks.write"] == "true"
    routing = es.cluster.state(metric="routing_table", index="test_open_index")["routing_table"]["indices"]
    assert list(routing) == ["test_open_index"] and len(routing["test_open_index"]["shards"]["0"]) == 1
    assert es.cluster.state(metric="master_node")["master_node"] == es.cluster.state()["master_node"]


def test_wait_for_metadata_version(es):
    version = es.cluster.state(metric="version")["version"]
    ready = es.cluster.state(metric="version", wait_for_metadata_version=version)
    assert ready["wait_for_timed_out"] is False and list(ready)[0] == "wait_for_timed_out"
    waited = es.cluster.state(
        metric="version", wait_for_metadata_version=version + 100, wait_for_timeout="50ms"
    )
    assert waited["wait_for_timed_out"] is True


def test_async_client(sandbox, es):
    es.indices.create(index="a1")

    async def read() -> dict:
        client = AsyncElasticsearch(sandbox.url, node_class="httpxasync")
        try:
            return (await client.cluster.state(metric="metadata", index="a1")).body
        finally:
            await client.close()

    assert list(asyncio.run(read())["metadata"]["indices"]) == ["a1"]
