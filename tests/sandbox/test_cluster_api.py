"""Cluster-level APIs: root info, health, license, nodes info and stats, _cat tables."""

from __future__ import annotations

import httpx
import pytest
from elasticsearch import ApiError, Elasticsearch, NotFoundError, helpers


def test_root_answers_like_a_node(es):
    info = es.info()
    assert set(info) == {"name", "cluster_name", "cluster_uuid", "version", "tagline"}
    assert info["tagline"] == "You Know, for Search"
    assert info["cluster_name"] == "es-sandbox"
    version = info["version"]
    # The Docker stack's release, with what Elasticsearch 9.5.3's build reports.
    assert version["number"] == "9.5.3"
    assert version["lucene_version"] == "10.5.1"
    assert version["build_flavor"] == "default"
    assert version["build_type"] == "tar"
    assert version["build_snapshot"] is False
    assert version["minimum_wire_compatibility_version"] == "8.19.0"
    assert version["minimum_index_compatibility_version"] == "8.0.0"
    assert len(version["build_hash"]) == 40
    assert set(version) == {
        "number",
        "build_flavor",
        "build_type",
        "build_hash",
        "build_date",
        "build_snapshot",
        "lucene_version",
        "minimum_wire_compatibility_version",
        "minimum_index_compatibility_version",
    }
    assert info.meta.headers["x-elastic-product"] == "Elasticsearch"
    assert es.info()["cluster_uuid"] == info["cluster_uuid"]


@pytest.mark.parametrize(
    ("number", "lucene", "wire", "index"),
    [
        ("9.5.0", "10.5.0", "8.19.0", "8.0.0"),
        ("9.0.2", "10.1.0", "8.18.0", "8.0.0"),
        ("8.19.3", "9.12.2", "7.17.0", "7.0.0"),
    ],
)
def test_other_versions_report_their_own_build(start_sandbox, number, lucene, wire, index):
    proc = start_sandbox(version=number)
    compat = "application/vnd.elasticsearch+json; compatible-with=8"
    version = httpx.get(proc.url + "/", headers={"accept": compat}, timeout=10).json()["version"]
    assert (version["number"], version["lucene_version"]) == (number, lucene)
    assert version["minimum_wire_compatibility_version"] == wire
    assert version["minimum_index_compatibility_version"] == index


def test_health_turns_yellow_with_unassignable_replicas(es):
    health = es.cluster.health()
    assert health["status"] == "green"
    assert health["number_of_nodes"] == 1 and health["number_of_data_nodes"] == 1
    assert health["active_shards_percent_as_number"] == 100.0
    es.indices.create(index="solo", settings={"number_of_replicas": 0})
    assert es.cluster.health()["status"] == "green"
    es.indices.create(index="replicated", settings={"number_of_shards": 2})  # one replica by default
    health = es.cluster.health()
    assert health["status"] == "yellow"
    assert health["active_primary_shards"] == 3
    assert health["active_shards"] == 3
    assert health["unassigned_shards"] == 2
    assert health["active_shards_percent_as_number"] == 60.0
    assert health["timed_out"] is False
    assert es.cluster.health(wait_for_status="yellow", timeout="1s")["status"] == "yellow"


def test_health_wait_for_green_times_out_with_408(es):
    es.indices.create(index="replicated")
    with pytest.raises(ApiError) as info:
        es.cluster.health(wait_for_status="green", timeout="200ms")
    assert info.value.meta.status == 408
    assert info.value.body["timed_out"] is True
    assert info.value.body["status"] == "yellow"
    es.indices.put_settings(index="replicated", settings={"number_of_replicas": 0})
    assert es.cluster.health(wait_for_status="green", timeout="1s")["status"] == "green"


def test_health_by_index_and_level(es):
    es.indices.create(index="a1", settings={"number_of_replicas": 0})
    es.indices.create(index="b1")
    assert es.cluster.health(index="a1")["status"] == "green"
    by_index = es.cluster.health(level="indices")["indices"]
    assert by_index["a1"]["status"] == "green" and by_index["b1"]["status"] == "yellow"
    assert by_index["b1"]["unassigned_shards"] == 1


def test_license_trial(es):
    lic = es.license.get()["license"]
    assert lic["status"] == "active"
    assert lic["type"] == "trial"
    assert lic["expiry_date_in_millis"] - lic["issue_date_in_millis"] == 30 * 24 * 3600 * 1000
    assert lic["issuer"] == "elasticsearch"
    assert isinstance(lic["uid"], str) and len(lic["uid"]) == 36


def test_license_basic_has_no_expiry(start_sandbox):
    es = Elasticsearch(start_sandbox(license="basic").url)
    lic = es.license.get()["license"]
    assert lic["type"] == "basic"
    assert lic["status"] == "active"
    assert "expiry_date" not in lic and "expiry_date_in_millis" not in lic


def test_nodes_info_carries_ml_attributes(es):
    resp = es.nodes.info()
    assert resp["_nodes"] == {"total": 1, "successful": 1, "failed": 0}
    assert resp["cluster_name"] == "es-sandbox"
    ((node_id, node),) = resp["nodes"].items()
    assert len(node_id) == 22
    assert node["name"] == "es-sandbox-node-0"
    assert node["transport_address"] == "127.0.0.1:9300"
    assert node["host"] == node["ip"] == "127.0.0.1"
    assert node["version"] == es.info()["version"]["number"]
    assert "ml" in node["roles"] and "ingest" in node["roles"] and "data" in node["roles"]
    assert node["os"]["allocated_processors"] == 8
    attributes = node["attributes"]
    assert attributes["ml.allocated_processors"] == "8"
    assert attributes["ml.allocated_processors_double"] == "8.0"
    assert all(isinstance(v, str) for v in attributes.values())


def test_nodes_follow_ml_nodes_and_processors(start_sandbox):
    es = Elasticsearch(start_sandbox(ml_nodes=2, ml_processors=4).url)
    nodes = es.nodes.info()["nodes"]
    assert len(nodes) == 2
    assert sorted(n["attributes"]["ml.allocated_processors"] for n in nodes.values()) == ["4", "4"]
    assert all("ml" in n["roles"] for n in nodes.values())
    data_nodes = [n for n in nodes.values() if "data" in n["roles"]]
    assert len(data_nodes) == 1
    only_ml = es.nodes.info(node_id="ml:true")["nodes"]
    assert set(only_ml) == set(nodes)
    assert es.cluster.health()["number_of_nodes"] == 2


def test_nodes_stats_ingest_counts_pipeline_runs(es):
    es.ingest.put_pipeline(id="lower", processors=[{"lowercase": {"field": "name"}}])
    es.index(index="people", id="1", document={"name": "ADA"}, pipeline="lower")
    es.index(index="people", id="2", document={"name": "BOB"}, pipeline="lower")
    stats = es.nodes.stats(metric="ingest")
    (node,) = stats["nodes"].values()
    assert set(node) >= {
        "timestamp",
        "name",
        "transport_address",
        "host",
        "ip",
        "roles",
        "attributes",
        "ingest",
    }
    assert "indices" not in node
    pipeline = node["ingest"]["pipelines"]["lower"]
    assert pipeline["count"] == 2
    assert pipeline["failed"] == 0
    assert node["ingest"]["total"]["count"] == 2
    assert es.get(index="people", id="1")["_source"] == {"name": "ada"}
    everything = es.nodes.stats()
    (node,) = everything["nodes"].values()
    assert node["indices"]["docs"]["count"] == 2


def test_nodes_stats_indices_section_is_the_index_stats(es):
    es.index(index="people", id="1", document={"name": "ada"}, refresh=True)
    (node,) = es.nodes.stats(metric="indices")["nodes"].values()
    assert {"docs", "store", "indexing", "search", "get", "refresh", "segments"} <= set(node["indices"])
    assert node["indices"]["indexing"]["index_total"] == 1
    (node,) = es.nodes.stats(metric="indices", index_metric="docs,store")["nodes"].values()
    assert sorted(node["indices"]) == ["docs", "store"]
    with pytest.raises(ApiError) as info:
        es.nodes.stats(metric="indices", index_metric="doc")
    assert info.value.body["error"]["reason"] == (
        "request [/_nodes/stats/indices/doc] contains unrecognized index metric: [doc] -> did you mean [docs]?"
    )


def test_nodes_stats_refuses_unknown_metric(es):
    with pytest.raises(ApiError) as info:
        es.nodes.stats(metric="bogus")
    assert info.value.meta.status == 400
    assert (
        info.value.body["error"]["reason"]
        == "request [/_nodes/stats/bogus] contains unrecognized metric: [bogus]"
    )


def test_get_data_stream_answers_as_a_cluster_without_data_streams(es):
    with pytest.raises(NotFoundError) as info:
        es.indices.get_data_stream(name="logs-missing")
    assert info.value.error == "index_not_found_exception"
    assert info.value.body["error"]["reason"] == "no such index [logs-missing]"
    assert info.value.body["error"]["resource.id"] == "logs-missing"
    es.indices.create(index="plain")
    # An index is not a data stream: filtered out, not an error; unmatched wildcards are fine.
    assert es.indices.get_data_stream(name="plain").body == {"data_streams": []}
    assert es.indices.get_data_stream(name="logs-*").body == {"data_streams": []}
    assert es.indices.get_data_stream().body == {"data_streams": []}


def test_helpers_reindex_runs_against_the_sandbox(es):
    # helpers.reindex asks GET _data_stream/{target} first and relies on its 404 for a new index.
    es.bulk(
        operations=[op for i in range(5) for op in ({"index": {"_index": "src", "_id": str(i)}}, {"n": i})]
    )
    es.indices.refresh(index="src")
    assert helpers.reindex(es, "src", "dst") == (5, 0)  # (successes, errors)
    es.indices.refresh(index="dst")
    assert es.count(index="dst")["count"] == 5


def test_nodes_info_has_every_section_of_a_9_5_node(es, sandbox):
    (node,) = es.nodes.info()["nodes"].values()
    assert list(node) == [
        "name",
        "transport_address",
        "host",
        "ip",
        "version",
        "transport_version",
        "index_version",
        "component_versions",
        "build_flavor",
        "build_type",
        "build_hash",
        "total_indexing_buffer",
        "roles",
        "attributes",
        "settings",
        "os",
        "process",
        "jvm",
        "thread_pool",
        "transport",
        "http",
        "plugins",
        "modules",
        "ingest",
        "aggregations",
    ]
    assert node["index_version"] == 9_108_0_00 and node["transport_version"] == 9_421_0_00
    assert node["component_versions"] == {"ml_config_version": 12000099, "transform_config_version": 10000099}
    assert node["build_hash"] == es.info()["version"]["build_hash"]
    assert node["settings"]["cluster"]["name"] == "es-sandbox"
    assert node["settings"]["node"]["attr"]["ml"]["allocated_processors"] == "8"
    assert node["http"]["publish_address"] == sandbox.url.removeprefix("http://")
    assert node["thread_pool"]["write"] == {"type": "fixed", "size": 8, "queue_size": 10000}
    assert {"type": "inference"} in node["ingest"]["processors"]
    assert node["jvm"]["mem"]["heap_max_in_bytes"] == int(node["attributes"]["ml.max_jvm_size"])
    assert any(m["name"] == "x-pack-ml" and m["has_native_controller"] for m in node["modules"])


def test_nodes_info_metrics_and_flat_settings(es):
    (node,) = es.nodes.info(metric="os,process", flat_settings=True)["nodes"].values()
    assert "os" in node and "process" in node and "settings" not in node and "jvm" not in node
    assert "total_indexing_buffer" not in node  # only with the indices metric
    # After a node id unknown metrics are disregarded; alone, a list that is not all metrics is node ids.
    (node,) = es.nodes.info(node_id="_all", metric="settings,no_such_metric", flat_settings=True)[
        "nodes"
    ].values()
    assert node["settings"]["cluster.name"] == "es-sandbox"
    assert es.nodes.info(metric="settings,no_such_metric")["nodes"] == {}
    assert node["settings"]["node.attr.xpack.installed"] == "true"
    assert list(es.nodes.info(node_id="_master", metric="os")["nodes"]) == list(es.nodes.info()["nodes"])


def test_nodes_usage_counts_each_handler_on_the_receiving_node(es):
    def rest_actions() -> dict[str, int]:
        (node,) = es.nodes.usage()["nodes"].values()
        return node["rest_actions"]

    before = rest_actions()
    es.indices.create(index="counted")
    es.search(index="counted")
    es.search(index="counted")
    after = rest_actions()
    assert after["create_index_action"] == before.get("create_index_action", 0) + 1
    assert after["search_action"] == before.get("search_action", 0) + 2
    assert after["nodes_usage_action"] == before["nodes_usage_action"] + 1
    (node,) = es.nodes.usage(metric="aggregations")["nodes"].values()
    assert set(node) == {"timestamp", "since", "aggregations"}
    with pytest.raises(ApiError) as info:
        es.nodes.usage(metric="_all,rest_actions")
    assert info.value.body["error"]["reason"] == (
        "request [/_nodes/usage/_all,rest_actions] contains _all and individual metrics [_all,rest_actions]"
    )


def test_capabilities_claims_only_what_the_sandbox_implements(es):
    def supported(**params):
        return es.perform_request(
            "GET", "/_capabilities", params=params, headers={"accept": "application/json"}
        ).body

    answer = supported(path="/_cluster/health", capabilities="unassigned_pri_shard_count")
    assert answer == {
        "_nodes": {"total": 1, "successful": 1, "failed": 0},
        "cluster_name": "es-sandbox",
        "supported": True,
    }
    assert supported(method="PUT", path="/{index}", capabilities="lookup_index_mode")["supported"] is False
    assert supported(method="PUT", path="/_cluster/health")["supported"] is False  # no such handler
    assert supported(path="/{index}/_search")["supported"] is True
