"""embedding_reindex end to end: dag.test() on a real metadata DB against the sandbox over HTTP."""

from __future__ import annotations

import json

import pytest

from tests.e2e.harness import ALIAS, ROOT, SOURCE_INDEX, connect, load_corpus, set_variables

VARIABLES = json.loads((ROOT / "include" / "variables.json").read_text())
OUTPUT_FIELD = VARIABLES["embedding_pipeline"]["output_field"]
DEPLOYMENT_ID = VARIABLES["embedding_deployment"]["deployment_id"]


def source_snapshot(es) -> dict[str, dict]:
    from elasticsearch import helpers

    return {
        h["_id"]: h["_source"]
        for h in helpers.scan(es, index=SOURCE_INDEX, query={"query": {"match_all": {}}})
    }


def alias_target(es) -> str:
    targets = list(es.indices.get_alias(name=ALIAS))
    assert len(targets) == 1, targets
    return targets[0]


def missing_embeddings(es, index: str) -> int:
    return es.count(index=index, query={"bool": {"must_not": {"exists": {"field": OUTPUT_FIELD}}}})["count"]


def top_topics(es, text: str, n: int = 3) -> list[str]:
    resp = es.search(
        index=ALIAS,
        size=n,
        query={"sparse_vector": {"field": OUTPUT_FIELD, "inference_id": DEPLOYMENT_ID, "query": text}},
    )
    return [h["_source"]["topic"] for h in resp["hits"]["hits"]]


@pytest.fixture
def cluster(es, sandbox, monkeypatch):
    """A fresh sandbox (no model downloaded) holding the sample corpus, and the connection to it."""
    connect(monkeypatch, sandbox.url)
    load_corpus(es)
    return es


def test_fresh_cluster_embeds_every_document_and_swaps_the_alias(cluster, run_dag):
    before = source_snapshot(cluster)

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "success", result.task_states
    dest = alias_target(cluster)
    assert dest != SOURCE_INDEX
    cluster.indices.refresh(index=dest)
    assert cluster.count(index=dest)["count"] == len(before) == 125
    assert missing_embeddings(cluster, dest) == 0
    assert cluster.indices.get_mapping(index=dest)[dest]["mappings"]["properties"][OUTPUT_FIELD]["type"] == (
        "sparse_vector"
    )
    assert top_topics(cluster, "how do plants grow in the garden soil") == ["gardening"] * 3
    assert top_topics(cluster, "galaxies, stars and black holes") == ["astronomy"] * 3
    assert source_snapshot(cluster) == before, "the source index must never be modified"


def test_second_run_reuses_model_deployment_and_pipeline(cluster, run_dag):
    first = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)
    assert first.state == "success", first.task_states
    model = cluster.ml.get_trained_models(model_id=".elser_model_2*")["trained_model_configs"][0]
    deployment = cluster.ml.get_trained_models_stats(model_id=DEPLOYMENT_ID)["trained_model_stats"][0]
    pipeline = cluster.ingest.get_pipeline(id=VARIABLES["embedding_pipeline"]["pipeline_id"])
    first_dest = alias_target(cluster)

    second = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert second.state == "success", second.task_states
    model_again = cluster.ml.get_trained_models(model_id=".elser_model_2*")["trained_model_configs"]
    assert [m["create_time"] for m in model_again] == [model["create_time"]], "the model was put twice"
    deployment_again = cluster.ml.get_trained_models_stats(model_id=DEPLOYMENT_ID)["trained_model_stats"][0]
    assert deployment_again["deployment_stats"]["start_time"] == deployment["deployment_stats"]["start_time"]
    assert cluster.ingest.get_pipeline(id=VARIABLES["embedding_pipeline"]["pipeline_id"]) == pipeline
    second_dest = alias_target(cluster)
    assert second_dest != first_dest
    assert missing_embeddings(cluster, second_dest) == 0


def test_not_enough_ml_processors_fails_before_reindexing(start_sandbox, monkeypatch, run_dag):
    from elasticsearch import Elasticsearch

    small = start_sandbox(ml_nodes=1, ml_processors=2)
    es = Elasticsearch(small.url)
    connect(monkeypatch, small.url)
    load_corpus(es)
    set_variables(monkeypatch, embedding_deployment={"number_of_allocations": 4, "threads_per_allocation": 1})

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "failed"
    assert result.failed_tasks == ["start_deployment"]
    assert result.task_states["start_reindex"] == "upstream_failed"
    assert not es.indices.exists_alias(name=ALIAS)
    assert es.tasks.list(actions="*reindex")["nodes"] == {}
    assert [i["index"] for i in es.cat.indices(format="json")] == [SOURCE_INDEX]


def test_invalid_variable_fails_before_the_first_cluster_write(cluster, monkeypatch, run_dag):
    set_variables(monkeypatch, embedding_deployment={"threads_per_allocation": 3})

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "failed"
    assert result.failed_tasks == ["validate_settings"]
    models = cluster.ml.get_trained_models()["trained_model_configs"]
    assert [m["model_id"] for m in models] == ["lang_ident_model_1"]
    assert cluster.options(ignore_status=404).ingest.get_pipeline().body == {}
    assert [i["index"] for i in cluster.cat.indices(format="json")] == [SOURCE_INDEX]
