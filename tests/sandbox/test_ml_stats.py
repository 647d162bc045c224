"""GET _ml/trained_models/_stats and _ml/info: exact shapes, omitted counters, nodes keyed by id."""

from __future__ import annotations

import platform

from elasticsearch import Elasticsearch

from tests.sandbox.ml_support import ELSER, api_error, assert_error, deploy, deployment_stats, put_elser


def test_stats_of_a_model_that_is_not_deployed(es):
    put_elser(es, wait=True)
    stats = es.ml.get_trained_models_stats(model_id=ELSER).body
    assert stats["count"] == 1
    entry = stats["trained_model_stats"][0]
    assert list(entry) == ["model_id", "model_size_stats", "pipeline_count", "inference_stats"]
    assert entry["model_size_stats"] == {
        "model_size_bytes": 438123914,
        "required_native_memory_bytes": 2101346304,
    }
    assert entry["pipeline_count"] == 0
    inference = entry["inference_stats"]
    assert {k: v for k, v in inference.items() if k != "timestamp"} == {
        "failure_count": 0,
        "inference_count": 0,
        "cache_miss_count": 0,
        "missing_all_fields_count": 0,
    }
    assert isinstance(inference["timestamp"], int)


def test_all_stats_include_lang_ident(es):
    stats = es.ml.get_trained_models_stats().body
    assert stats["count"] == 1
    entry = stats["trained_model_stats"][0]
    assert entry["model_id"] == "lang_ident_model_1"
    assert entry["model_size_stats"] == {"model_size_bytes": 1053992, "required_native_memory_bytes": 0}

    exc = api_error(lambda: es.ml.get_trained_models_stats(model_id="none*", allow_no_match=False))
    assert_error(exc, 404, "resource_not_found_exception", "No known trained model with model_id [none*]")
    assert es.ml.get_trained_models_stats(model_id="none*").body == {"count": 0, "trained_model_stats": []}


def test_deployment_stats_before_any_inference(es):
    put_elser(es, wait=True)
    deploy(es, number_of_allocations=2, threads_per_allocation=2, queue_capacity=100)
    stats = deployment_stats(es, ELSER)
    assert list(stats) == [
        "deployment_id", "model_id", "threads_per_allocation", "number_of_allocations", "queue_capacity", "state",
        "allocation_status", "cache_size", "priority", "start_time", "peak_throughput_per_minute", "nodes",
    ]  # fmt: skip
    assert stats["deployment_id"] == stats["model_id"] == ELSER
    assert (stats["threads_per_allocation"], stats["number_of_allocations"], stats["queue_capacity"]) == (
        2,
        2,
        100,
    )
    assert stats["state"] == "started"
    assert stats["allocation_status"] == {
        "allocation_count": 2,
        "target_allocation_count": 2,
        "state": "fully_allocated",
    }
    assert (stats["cache_size"], stats["priority"], stats["peak_throughput_per_minute"]) == (
        "417.8mb",
        "normal",
        0,
    )

    (node,) = stats["nodes"]
    ((node_id, description),) = node["node"].items()
    assert description["name"] == "es-sandbox-node-0"
    assert description["attributes"]["ml.allocated_processors"] == "8"
    assert description["attributes"]["ml.allocated_processors_double"] == "8.0"
    assert "ml" in description["roles"]
    assert {
        "ephemeral_id",
        "transport_address",
        "external_id",
        "version",
        "minIndexVersion",
        "maxIndexVersion",
    } <= set(description)
    assert node["routing_state"] == {"routing_state": "started"}
    assert list(node) == [
        "node", "routing_state", "inference_count", "inference_cache_hit_count", "number_of_pending_requests",
        "start_time", "threads_per_allocation", "number_of_allocations", "peak_throughput_per_minute",
        "throughput_last_minute", "average_inference_time_ms_last_minute", "inference_cache_hit_count_last_minute",
    ]  # fmt: skip
    assert (node["inference_count"], node["number_of_pending_requests"], node["number_of_allocations"]) == (
        0,
        0,
        2,
    )
    assert len(node_id) == 22


def test_deployment_stats_after_inference(es):
    put_elser(es, wait=True)
    deploy(es)
    es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": f"doc {i}"} for i in range(3)])
    stats = deployment_stats(es, ELSER)
    assert stats["inference_count"] == 3
    assert stats["peak_throughput_per_minute"] == 3
    assert not {"error_count", "rejected_execution_count", "timeout_count"} & set(stats)
    node = stats["nodes"][0]
    assert node["inference_count"] == 3
    assert node["average_inference_time_ms"] > 0
    assert node["average_inference_time_ms_excluding_cache_hits"] == node["average_inference_time_ms"]
    assert isinstance(node["last_access"], int)
    assert (node["throughput_last_minute"], node["peak_throughput_per_minute"]) == (3, 3)

    entry = es.ml.get_trained_models_stats(model_id=ELSER)["trained_model_stats"][0]
    assert entry["inference_stats"]["inference_count"] == 3


def test_pipeline_count_and_ingest_stats(es):
    put_elser(es, wait=True)
    deploy(es, deployment_id="ingest-elser")
    processor = {
        "inference": {"model_id": "ingest-elser", "input_output": [{"input_field": "a", "output_field": "b"}]}
    }
    es.ingest.put_pipeline(id="p1", processors=[processor])
    es.ingest.put_pipeline(
        id="p2", processors=[{**processor, "inference": {**processor["inference"], "model_id": ELSER}}]
    )
    entry = es.ml.get_trained_models_stats(model_id=ELSER)["trained_model_stats"][0]
    assert entry["pipeline_count"] == 2
    assert set(entry["ingest"]["pipelines"]) == {"p1", "p2"}
    assert set(entry["ingest"]["total"]) >= {"count", "time_in_millis", "current", "failed"}


def test_paging_over_models(es):
    put_elser(es, wait=True)
    stats = es.ml.get_trained_models_stats(from_=1, size=1).body
    assert stats["count"] == 2
    assert [s["model_id"] for s in stats["trained_model_stats"]] == ["lang_ident_model_1"]


def test_ml_info_limits_follow_the_ml_nodes(es, start_sandbox):
    info = es.ml.info().body
    assert list(info) == ["defaults", "upgrade_mode", "native_code", "limits"]
    assert info["upgrade_mode"] is False
    assert info["defaults"]["datafeeds"] == {"scroll_size": 1000}
    assert info["native_code"]["version"] == es.info()["version"]["number"]
    assert info["limits"] == {
        "max_single_ml_node_processors": 8,
        "total_ml_processors": 8,
        "effective_max_model_memory_limit": "6523mb",
        "total_ml_memory": "6553mb",
    }
    # the ML nodes run on this host: linux-x86_64 only there (the ELSER build to pick)
    on_x86 = platform.system() == "Linux" and platform.machine().lower() in ("x86_64", "amd64")
    assert info["defaults"]["model_platform_variant"] == ("linux-x86_64" if on_x86 else "platform_agnostic")
    two = Elasticsearch(start_sandbox(ml_nodes=2, ml_processors=4, version="9.4.2").url).ml.info().body
    limits = two["limits"]
    assert (
        limits["total_ml_processors"],
        limits["max_single_ml_node_processors"],
        limits["total_ml_memory"],
    ) == (
        8,
        4,
        "13106mb",
    )
    assert "model_platform_variant" not in two["defaults"]  # new in 9.5
    none = Elasticsearch(start_sandbox(ml_nodes=0).url).ml.info().body
    assert none["limits"] == {"total_ml_memory": "0b"}
    assert none["defaults"]["model_platform_variant"] == "platform_agnostic"  # no ML node, not on Cloud


def test_memory_stats_of_each_node(es, start_sandbox):
    (node_id,) = es.nodes.info()["nodes"]
    idle = es.ml.get_memory_stats().body
    assert idle["_nodes"] == {"total": 1, "successful": 1, "failed": 0}
    assert idle["cluster_name"] == "es-sandbox"
    node = idle["nodes"][node_id]
    assert list(node) == ["name", "ephemeral_id", "transport_address", "attributes", "roles", "mem", "jvm"]
    assert node["name"] == "es-sandbox-node-0"
    assert all(name.startswith("ml.") for name in node["attributes"])
    assert node["attributes"]["ml.machine_memory"] == str(node["mem"]["total_in_bytes"])
    assert node["attributes"]["ml.max_jvm_size"] == str(node["jvm"]["heap_max_in_bytes"])
    assert "ml" in node["roles"]
    assert node["mem"]["adjusted_total_in_bytes"] == node["mem"]["total_in_bytes"] > 0
    assert node["mem"]["ml"] == {
        "max_in_bytes": 6553 * 2**20,
        "native_code_overhead_in_bytes": 0,
        "anomaly_detectors_in_bytes": 0,
        "data_frame_analytics_in_bytes": 0,
        "native_inference_in_bytes": 0,
    }
    assert node["jvm"]["java_inference_max_in_bytes"] > 0
    assert node["jvm"]["java_inference_in_bytes"] == 0

    put_elser(es, wait=True)
    deploy(es)
    busy = es.ml.get_memory_stats(node_id="ml:true", human=True)["nodes"][node_id]["mem"]["ml"]
    required = es.ml.get_trained_models_stats(model_id=ELSER)["trained_model_stats"][0]["model_size_stats"]
    assert busy["native_inference_in_bytes"] == required["required_native_memory_bytes"]
    assert (busy["native_code_overhead"], busy["native_code_overhead_in_bytes"]) == ("30mb", 30 * 2**20)
    assert list(busy)[:2] == ["max", "max_in_bytes"]  # ?human puts the readable value first
    assert (
        es.ml.get_memory_stats(node_id=node_id)["nodes"][node_id]["mem"]["ml"]["native_inference_in_bytes"]
        > 0
    )
    assert es.ml.get_memory_stats(node_id="ml:false")["nodes"] == {}

    # a node without the ml role has no ML memory
    data_only = Elasticsearch(start_sandbox(ml_nodes=0).url).ml.get_memory_stats()["nodes"]
    ((_, plain),) = data_only.items()
    assert set(plain["mem"]["ml"].values()) == {0}
    assert "ml" not in plain["roles"]
