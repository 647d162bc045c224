"""--data-dir: indices, pipelines and models survive a restart (clean or kill -9); running tasks do not."""

from __future__ import annotations

import json
import time

import pytest
from elasticsearch import Elasticsearch, NotFoundError


def _wait_fully_defined(es: Elasticsearch, model_id: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        config = es.ml.get_trained_models(model_id=model_id, include="definition_status")[
            "trained_model_configs"
        ][0]
        if config.get("fully_defined"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{model_id} never became fully defined")


def test_state_survives_a_clean_restart(start_sandbox, tmp_path):
    proc = start_sandbox(data_dir=tmp_path)
    es = Elasticsearch(proc.url)
    es.indices.create(
        index="kept",
        settings={"number_of_replicas": 0, "index.default_pipeline": "tag"},
        mappings={"properties": {"tokens": {"type": "sparse_vector"}}},
        aliases={"kept-alias": {}},
    )
    es.ingest.put_pipeline(id="tag", processors=[{"set": {"field": "tagged", "value": True}}], version=3)
    ops = []
    for i in range(2000):
        ops += [{"index": {"_index": "kept", "_id": str(i)}}, {"i": i, "tokens": {"t": 1.0}}]
    es.bulk(operations=ops)
    es.index(index="kept", id="0", document={"i": 0, "again": True})
    es.ml.put_trained_model(model_id=".elser_model_2", input={"field_names": ["text_field"]})
    _wait_fully_defined(es, ".elser_model_2")
    before = es.indices.get(index="kept")["kept"]
    proc.stop()

    docs_file = tmp_path / "docs" / f"{before['settings']['index']['uuid']}.jsonl"  # streamed as JSON lines
    lines = docs_file.read_text().splitlines()
    assert len(lines) == 2000 and all(json.loads(line)[0] for line in lines[:3])

    es = Elasticsearch(start_sandbox(data_dir=tmp_path).url)
    after = es.indices.get(index="kept")["kept"]
    assert after == before
    assert es.count(index="kept")["count"] == 2000
    doc = es.get(index="kept", id="0")
    assert doc["_source"] == {"i": 0, "again": True, "tagged": True}
    assert doc["_version"] == 2 and doc["_seq_no"] == 2000
    kept = es.get(index="kept-alias", id="5", source_exclude_vectors=False)[
        "_source"
    ]  # vectors hidden by default
    assert kept == {"i": 5, "tokens": {"t": 1.0}, "tagged": True}
    written = es.index(index="kept", id="new", document={"i": -1})
    assert written["_seq_no"] == 2001  # sequence numbers continue
    assert es.ingest.get_pipeline(id="tag")["tag"]["version"] == 3
    config = es.ml.get_trained_models(model_id=".elser_model_2", include="definition_status")
    assert config["trained_model_configs"][0]["fully_defined"] is True


def test_a_kill_loses_little_and_running_tasks_are_lost(start_sandbox, tmp_path):
    proc = start_sandbox(data_dir=tmp_path)
    es = Elasticsearch(proc.url)
    es.bulk(
        operations=[x for i in range(500) for x in ({"index": {"_index": "src", "_id": str(i)}}, {"i": i})]
    )
    task = es.reindex(
        source={"index": "src", "size": 10},
        dest={"index": "dst"},
        wait_for_completion=False,
        requests_per_second=5,
    )["task"]
    assert es.tasks.get(task_id=task)["completed"] is False
    time.sleep(1.6)  # longer than the flush interval
    proc.proc.kill()
    proc.proc.wait()

    es = Elasticsearch(start_sandbox(data_dir=tmp_path).url)
    assert es.count(index="src")["count"] == 500
    with pytest.raises(NotFoundError):
        es.tasks.get(task_id=task)


def test_deleted_indices_stay_deleted(start_sandbox, tmp_path):
    proc = start_sandbox(data_dir=tmp_path)
    es = Elasticsearch(proc.url)
    es.index(index="gone", id="1", document={"a": 1})
    es.index(index="stays", id="1", document={"a": 1})
    time.sleep(1.3)
    es.indices.delete(index="gone")
    proc.stop()
    es = Elasticsearch(start_sandbox(data_dir=tmp_path).url)
    assert not es.indices.exists(index="gone")
    assert es.get(index="stays", id="1")["found"] is True
    assert len(list((tmp_path / "docs").glob("*.jsonl"))) == 1
