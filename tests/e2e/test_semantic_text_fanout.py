"""The semantic_text backend under the real scheduler and triggerer (issue 11): embedding_backfill
fans out over two indices on an inference endpoint, the pooled reindexes defer to the real
triggerer, and each alias ends on an index whose documents all carry their chunks, long ones in
several. Shares the session's standalone (tests/e2e/conftest.py `scheduler`, PostgreSQL); the
Variable that chooses the backend is set in its metadata DB for this test only."""

from __future__ import annotations

import json

import pytest
from elasticsearch import Elasticsearch, helpers

from bin.sample_corpus import CORPUS, PROPERTIES

pytestmark = [pytest.mark.standalone, pytest.mark.slow, pytest.mark.timeout(600)]
DAG_ID = "embedding_backfill"
SOURCES = {"sem-a": ["doc-0121", "doc-0122"], "sem-b": ["doc-0123"]}
SHORT_PER_INDEX = 6
OUTPUT = "content_embedding"


@pytest.fixture
def semantic_text(scheduler):
    scheduler.cli("variables", "set", "embedding_inference", json.dumps({"backend": "semantic_text"}))
    yield scheduler
    scheduler.cli("variables", "delete", "embedding_inference")


def test_fanout_on_semantic_text_with_triggers_in_the_real_triggerer(semantic_text):
    scheduler = semantic_text
    es = Elasticsearch(scheduler.sandbox.url)
    docs = {d.pop("_id"): d for d in map(json.loads, CORPUS.read_text().splitlines())}
    short = iter(i for i, d in docs.items() if len(d["content"].split()) < 100)
    expected = {}
    for source, long_reads in SOURCES.items():
        ids = [next(short) for _ in range(SHORT_PER_INDEX)] + long_reads
        es.indices.create(index=source, mappings={"properties": PROPERTIES})
        helpers.bulk(es, ({"_index": source, "_id": i, **docs[i]} for i in ids), refresh=True)
        expected[source] = ids
    scheduler.wait_for_dag(DAG_ID)

    run_id = scheduler.trigger(DAG_ID, source_indices=["sem-*"])
    state = scheduler.wait_for_run(DAG_ID, run_id, timeout=400)
    tis = scheduler.task_instances(DAG_ID, run_id)
    assert state == "success", {(t["task_id"], t["map_index"]): t["state"] for t in tis}
    states = {t["task_id"]: t["state"] for t in tis if t["map_index"] < 1}
    assert states["ensure_endpoint"] == states["wait_endpoint"] == "success"
    assert states["start_deployment"] == states["put_pipeline"] == "skipped"

    endpoint = es.inference.get(inference_id="es-embedding-elser-model-2")["endpoints"][0]
    assert endpoint["task_type"] == "sparse_embedding"
    for source, ids in expected.items():
        (dest,) = es.indices.get_alias(name=f"{source}-embedded")
        field = es.indices.get_mapping(index=dest)[dest]["mappings"]["properties"][OUTPUT]
        assert (field["type"], field["inference_id"]) == ("semantic_text", "es-embedding-elser-model-2")
        es.indices.refresh(index=dest)
        assert es.count(index=dest, query={"exists": {"field": OUTPUT}})["count"] == len(ids)
        for long_read in SOURCES[source]:
            stored = es.get(index=dest, id=long_read, source_exclude_vectors=False)["_source"]
            assert len(stored["_inference_fields"][OUTPUT]["inference"]["chunks"]["content"]) >= 3

    # The pooled reindexes deferred, and their triggers ran in the triggerer (which writes these logs).
    deferred = {
        part.removeprefix("task_id=")
        for path in (scheduler.home / "logs").rglob("*.log.trigger.*")
        if f"run_id={run_id}" in str(path)
        for part in path.parts
        if part.startswith("task_id=")
    }
    assert "embed_index.reindex" in deferred, deferred
