"""Every way a current cluster embeds text (issue 11), end to end with dag.test() against the sandbox
over HTTP: the same index embedded four ways by changing Variables only (ELSER and E5, each through
an ingest pipeline and through an inference endpoint with a semantic_text field), each run ending
with every document embedded, the alias swapped and a report that tells the truth about long
documents: truncated on the pipeline path (counted, with the remedy), chunked on semantic_text. And
an incremental run on semantic_text.

One sandbox for the module (reset once): the runs share the source index, and each model is
downloaded once. The corpus: 25 short notes and the five long reads (550-660 words, over the 510
word pieces the sandbox's models read, as ELSER and E5 read 512 tokens)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch, helpers

from bin.sample_corpus import CORPUS, PROPERTIES
from tests.e2e.harness import ALIAS, SOURCE_INDEX, set_variables, xcom
from tests.sandbox.ml_support import arm_faults, reset_sandbox

OUTPUT = "content_embedding"
LONG_READS = {"doc-0121", "doc-0122", "doc-0123", "doc-0124", "doc-0125"}
E5 = {"model_id": ".multilingual-e5-small"}
SMALL_CHUNKS = {"strategy": "sentence", "max_chunk_size": 60, "sentence_overlap": 0}
# Only the end of the astronomy long read (past the first 510 words) speaks of magnetars.
TAIL_QUERY = "magnetar starquakes"


def corpus() -> dict[str, dict]:
    docs = {d.pop("_id"): d for d in map(json.loads, CORPUS.read_text().splitlines())}
    short = [i for i in docs if i not in LONG_READS][:25]
    return {i: docs[i] for i in [*short, *sorted(LONG_READS)]}


DOCS = corpus()


@pytest.fixture(scope="module")
def cluster(sandbox):
    es = Elasticsearch(sandbox.url, request_timeout=60)
    reset_sandbox(es)
    es.indices.create(index=SOURCE_INDEX, mappings={"properties": PROPERTIES})
    helpers.bulk(es, ({"_index": SOURCE_INDEX, "_id": i, **d} for i, d in DOCS.items()), refresh=True)
    yield es
    es.close()


@pytest.fixture
def connected(cluster, sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", json.dumps({"conn_type": "elasticsearch", "host": sandbox.url})
    )
    return cluster


def alias_target(es) -> str:
    (target,) = es.indices.get_alias(name=ALIAS)
    return target


def embedded(es, index: str) -> int:
    es.indices.refresh(index=index)
    return es.count(index=index, query={"exists": {"field": OUTPUT}})["count"]


CASES = {
    "elser-pipeline": {},
    "e5-pipeline": {"embedding_model": E5, "embedding_deployment": {"deployment_id": "e5-ingest"}},
    "elser-semantic_text": {"embedding_inference": {"backend": "semantic_text"}},
    # Chunks of up to 60 words: set on the field's mapping (the run's chunking_settings).
    "e5-semantic_text": {
        "embedding_model": E5,
        "embedding_inference": {"backend": "semantic_text", "chunking_settings": SMALL_CHUNKS},
    },
}


@pytest.mark.parametrize("case", CASES)
def test_the_same_index_embedded_by_changing_variables_only(connected, run_dag, monkeypatch, case):
    es = connected
    set_variables(monkeypatch, embedding_reindex={"poll_interval": "1s"}, **CASES[case])
    before = es.indices.get_alias(name=ALIAS) if es.indices.exists_alias(name=ALIAS) else {}

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "success", result.task_states
    dest = alias_target(es)
    assert dest not in before, "the alias moved to this run's index"
    assert es.count(index=dest)["count"] == embedded(es, dest) == len(DOCS)
    semantic_text = "semantic_text" in case
    skipped = (
        ("start_deployment", "wait_deployment", "put_pipeline")
        if semantic_text
        else ("ensure_endpoint", "wait_endpoint")
    )
    assert {t: result.task_states[t] for t in skipped} == dict.fromkeys(skipped, "skipped")

    field = es.indices.get_mapping(index=dest)[dest]["mappings"]["properties"][OUTPUT]
    report = xcom(result.run_id, "run_report")
    model = report["backend"]["model_id"]
    assert model.startswith(".multilingual-e5-small" if "e5" in case else ".elser_model_2")
    long_documents = report["long_documents"]
    assert long_documents["model_input_tokens"] == 512
    if semantic_text:
        assert field["type"] == "semantic_text"
        assert (
            field["inference_id"] == report["backend"]["inference_id"] == report["inference"]["inference_id"]
        )
        assert field.get("chunking_settings") == CASES[case]["embedding_inference"].get("chunking_settings")
        assert report["inference"]["inference_count"] > len(DOCS)  # one per chunk, and the queries'
        # Long documents are chunked, every chunk embedded: none truncated, the tail searchable.
        assert "truncated" not in long_documents
        assert long_documents["sampled_documents"] == len(DOCS)
        assert long_documents["documents_over_one_chunk"] == len(LONG_READS)
        assert long_documents["max_chunks_per_document"] >= 3
        best_chunk = {"fields": {OUTPUT: {"type": "semantic", "number_of_fragments": 1, "order": "score"}}}
        top = es.search(
            index=ALIAS,
            size=1,
            query={"semantic": {"field": OUTPUT, "query": TAIL_QUERY}},
            highlight=best_chunk,
        )["hits"]["hits"][0]
        assert top["_id"] == "doc-0121"
        assert "magnetar" in top["highlight"][OUTPUT][0]  # the best chunk is the one that says it
        assert report["ingest"] is None
    else:
        assert field["type"] == ("dense_vector" if "e5" in case else "sparse_vector")
        # Each long read was cut to the model's input, and the report says so with the remedy.
        assert long_documents["truncated"] == len(LONG_READS)
        assert es.count(index=dest, query={"term": {"is_truncated": True}})["count"] == len(LONG_READS)
        assert "semantic_text" in long_documents["note"]
        assert report["ingest"]["count"] >= len(DOCS)
        if field["type"] == "sparse_vector":
            tokens = es.get(index=dest, id="doc-0121", source_exclude_vectors=False)["_source"][OUTPUT]
            assert "hydrogen" in tokens and "magnetar" not in tokens  # its beginning only


def test_an_incremental_run_on_semantic_text_embeds_its_intervals_long_read_in_chunks(
    connected, embedding_dag, monkeypatch
):
    es = connected
    set_variables(
        monkeypatch,
        embedding_reindex={"poll_interval": "1s"},
        embedding_inference={"backend": "semantic_text"},
    )
    es.delete(index=SOURCE_INDEX, id="doc-0121", refresh=True)
    full = embedding_dag.test(run_conf={"source_index": SOURCE_INDEX, "alias": ALIAS, "mode": "full"})
    assert str(full.state) == "success"
    index = alias_target(es)
    assert not es.exists(index=index, id="doc-0121")
    es.index(index=SOURCE_INDEX, id="doc-0121", document=DOCS["doc-0121"], refresh=True)

    # A manual run on 2026-12-02 at noon covers [12-01 02:00, 12-02 02:00): doc-0121 (12-01 08:00).
    run = embedding_dag.test(
        logical_date=datetime(2026, 12, 2, 12, tzinfo=UTC),
        run_conf={
            "source_index": SOURCE_INDEX,
            "alias": ALIAS,
            "mode": "incremental",
            "timestamp_field": "published",
        },
    )

    assert str(run.state) == "success"
    assert alias_target(es) == index  # incremental: into the alias's index
    assert embedded(es, index) == len(DOCS)
    chunks = es.get(index=index, id="doc-0121", source_exclude_vectors=False)["_source"]["_inference_fields"]
    assert len(chunks[OUTPUT]["inference"]["chunks"]["content"]) >= 3


def test_inference_rejected_in_the_bulk_path_is_completed_by_the_same_passes(connected, run_dag, monkeypatch):
    """semantic_text: a document whose inference the deployment rejects (429 queue full) is not
    written; the run still ends complete, the missing documents re-embedded by complete_index."""
    es = connected
    set_variables(
        monkeypatch,
        embedding_reindex={"poll_interval": "1s"},
        embedding_inference={"backend": "semantic_text"},
    )
    arm_faults(es, inference_rejection={"burst": 3})

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "success", result.task_states
    dest = alias_target(es)
    assert es.count(index=dest)["count"] == embedded(es, dest) == len(DOCS)
    report = xcom(result.run_id, "run_report")
    assert report["inference"]["rejected_execution_count"] >= 3


def test_a_model_alias_runs_the_model_behind_it_and_the_report_names_both(connected, run_dag, monkeypatch):
    es = connected
    es.ml.put_trained_model_alias(
        model_id=".elser_model_2_linux-x86_64", model_alias="my-sparse", reassign=True
    )
    set_variables(
        monkeypatch,
        embedding_reindex={"poll_interval": "1s"},
        embedding_model={"model_id": "my-sparse"},
        embedding_inference={"backend": "semantic_text"},
    )

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "success", result.task_states
    backend = xcom(result.run_id, "run_report")["backend"]
    assert (backend["model_alias"], backend["model_id"]) == ("my-sparse", ".elser_model_2_linux-x86_64")
    # The endpoint is named after the model behind the alias: the earlier run's is used as it is.
    assert backend["inference_id"] == "es-embedding-elser-model-2"
    assert xcom(result.run_id, "ensure_endpoint", "created") is False


def test_a_preconfigured_endpoint_is_deployed_then_woken_from_zero_by_the_next_run(
    start_sandbox, run_dag, monkeypatch
):
    """`.elser-2-elasticsearch` (adaptive allocations from 0) has no deployment until its first
    inference: wait_endpoint's request deploys it. Idle, it scales to zero (0 of 0 allocations,
    `fully_allocated`); the next run's wait_endpoint wakes it and waits for the allocation. A
    sandbox of its own, with the scaler's clocks made short (ES: 10 s ticks, 24 h to zero)."""
    sandbox = start_sandbox(
        adaptive_trigger_seconds=0.3, scale_to_zero_seconds=1.0, scale_up_cooldown_seconds=0.3
    )
    es = Elasticsearch(sandbox.url, request_timeout=60)
    es.indices.create(index=SOURCE_INDEX, mappings={"properties": PROPERTIES})
    short = {i: d for i, d in DOCS.items() if i not in LONG_READS}
    helpers.bulk(es, ({"_index": SOURCE_INDEX, "_id": i, **d} for i, d in short.items()), refresh=True)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", json.dumps({"conn_type": "elasticsearch", "host": sandbox.url})
    )
    preconfigured = ".elser-2-elasticsearch"
    set_variables(
        monkeypatch,
        embedding_reindex={"poll_interval": "1s"},
        embedding_deployment={"poll_interval": "1s"},
        embedding_inference={"backend": "semantic_text", "inference_id": preconfigured},
    )

    def allocations() -> int | None:
        for stats in es.ml.get_trained_models_stats()["trained_model_stats"]:
            deployment = stats.get("deployment_stats") or {}
            if deployment.get("deployment_id") == preconfigured:
                return deployment["allocation_status"]["allocation_count"]
        return None

    assert allocations() is None  # listed, never deployed
    first = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)
    assert first.state == "success", first.task_states
    assert xcom(first.run_id, "ensure_endpoint", "created") is False

    deadline = time.monotonic() + 30
    while allocations() != 0:  # idle: scaled to zero
        assert time.monotonic() < deadline, allocations()
        time.sleep(0.3)

    second = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert second.state == "success", second.task_states
    assert xcom(second.run_id, "wait_endpoint")["allocation_count"] >= 1
    dest = alias_target(es)
    assert embedded(es, dest) == len(short)
    es.close()
