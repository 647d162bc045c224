"""The two currency proofs end to end (es_embedding.index.stamp, es_embedding.index.currency): a full
run into a fresh destination on a source nobody writes to proves its documents current from the
source's write position, without reading them; a source written while the reindex runs moves that
position, and the run falls back to comparing contents, which finds the document the copy read
before the write and embeds it again. The real DAG through dag.test(), the real client over HTTP."""

from __future__ import annotations

import threading
import time

from elasticsearch import Elasticsearch

from tests.e2e.harness import ALIAS, SOURCE_INDEX, prepare_run, xcom
from tests.e2e.test_faults import (
    DOCS,
    alias_targets,
    assert_complete,
    body,
    cluster,  # noqa: F401 (a fixture)
    published,
    snapshot,
)


def test_a_fresh_destination_of_an_unchanged_source_is_proven_current_without_reading_it(cluster, run_dag):  # noqa: F811
    es = cluster
    before = snapshot(es)
    dest = f"{SOURCE_INDEX}-fresh"

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=dest)

    assert result.state == "success", result.task_states
    recorded = xcom(result.run_id, "start_reindex", "source_stamp")
    [shard] = recorded["source"][SOURCE_INDEX]["shards"].values()
    assert shard["max_seq_no"] == DOCS - 1 and shard["primary_term"] == 1
    assert [s["max_seq_no"] for s in recorded["dest"][dest]["shards"].values()] == [-1]
    currency = xcom(result.run_id, "complete_index", "resume")["currency"]
    assert currency["proof"] == "unchanged_source", currency
    assert currency["compared"] == 0 and currency["source_count"] == DOCS and currency["stale"] == 0
    assert "unchanged since before the copy" in currency["reason"]
    verification = xcom(result.run_id, "verify_embeddings", "verification")
    assert verification["currency_checked_by"] == "complete_index" and verification["stale"] == 0
    assert alias_targets(es) == [dest]
    assert_complete(es, dest)
    assert {doc_id: body(doc) for doc_id, doc in published(es, dest).items()} == before, (
        "every document current"
    )
    assert snapshot(es) == before


def test_a_source_written_during_the_reindex_falls_back_to_comparing_and_re_embeds_the_change(
    start_sandbox, monkeypatch, run_dag
):
    slow = start_sandbox(inference_ms=25)  # a reindex of 40 documents long enough to write during it
    es = Elasticsearch(slow.url)
    prepare_run(monkeypatch, es, slow.url, DOCS)
    dest = f"{SOURCE_INDEX}-moving"
    written: dict[str, str] = {}

    def rewrite_a_copied_document() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if es.indices.exists(index=dest):
                es.indices.refresh(index=dest)
                copied = es.search(index=dest, size=1, source=False)["hits"]["hits"]
                if copied:
                    doc_id = copied[0]["_id"]
                    es.update(index=SOURCE_INDEX, id=doc_id, doc={"content": "rewritten while it was copied"})
                    es.indices.refresh(index=SOURCE_INDEX)
                    written["id"] = doc_id
                    es.indices.refresh(index=dest)
                    written["copied"] = es.count(index=dest)["count"]
                    return
            time.sleep(0.01)

    writer = threading.Thread(target=rewrite_a_copied_document, daemon=True)
    writer.start()
    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS, dest_index=dest)
    writer.join(timeout=5)

    assert written, "the reindex finished before the source was written"
    assert written["copied"] < DOCS, "the write came while the reindex ran"
    assert result.state == "success", result.task_states
    resume = xcom(result.run_id, "complete_index", "resume")
    currency = resume["currency"]
    assert currency["proof"] == "comparison", currency
    assert f"[{SOURCE_INDEX}][0] was written since" in currency["why_compared"], currency
    assert resume["re_embedded"] == 1, resume
    assert alias_targets(es) == [dest]
    assert_complete(es, dest)
    source = snapshot(es)
    assert source[written["id"]]["content"] == "rewritten while it was copied"
    assert {doc_id: body(doc) for doc_id, doc in published(es, dest).items()} == source, (
        "every document current"
    )
