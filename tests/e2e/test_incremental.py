"""Mode incremental of embedding_reindex, end to end: dag.test() on the real metadata DB against the
sandbox over HTTP. The sample corpus's `published` date is the timestamp field.

dag.test(logical_date=X) makes a manual run whose data interval is what the DAG's
CronDataIntervalTimetable infers for it: the schedule's last complete interval before X (with the
default nightly "0 2 * * *", [day-1 02:00, day 02:00) for X on that day after 02:00)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch, helpers

from tests.e2e.harness import (
    ALIAS,
    ROOT,
    SOURCE_INDEX,
    RunResult,
    connect,
    load_corpus,
    node_restart_when,
    prepare_run,
    xcom,
)

VARIABLES = json.loads((ROOT / "include" / "variables.json").read_text())
OUTPUT_FIELD = VARIABLES["embedding_pipeline"]["output_field"]
# A manual run on 2026-03-05 at noon covers [03-04 02:00, 03-05 02:00): doc-0057 (03-04 08:00) only.
LOGICAL_DATE = datetime(2026, 3, 5, 12, tzinfo=UTC)
INTERVAL = ["2026-03-04 02:00:00+00:00", "2026-03-05 02:00:00+00:00"]
INSIDE, OUTSIDE = "doc-0057", "doc-0112"  # published 03-04 08:00 and 03-05 08:00 (next interval)


@pytest.fixture
def run_at(embedding_dag):
    """Run embedding_reindex with an explicit logical date (None: a run without one) and conf."""
    from airflow.utils.session import create_session

    def run(logical_date, **conf) -> RunResult:
        dr = embedding_dag.test(logical_date=logical_date, run_conf=conf)
        with create_session() as session:
            states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances(session=session)}
        return RunResult(state=str(dr.state), task_states=states, run_id=dr.run_id)

    return run


@pytest.fixture
def cluster(es, sandbox, monkeypatch):
    connect(monkeypatch, sandbox.url)
    load_corpus(es)
    return es


def docs(es, index: str) -> dict[str, dict]:
    es.indices.refresh(index=index)
    # Elasticsearch 9.2+ leaves vectors out of _source unless asked.
    query = {"query": {"match_all": {}}, "_source": {"exclude_vectors": False}}
    return {h["_id"]: h["_source"] for h in helpers.scan(es, index=index, query=query)}


def alias_target(es, alias: str = ALIAS) -> str:
    (target,) = es.indices.get_alias(name=alias)
    return target


def test_incremental_run_embeds_only_the_interval_documents_into_the_alias_index(cluster, run_at):
    conf = {"source_index": SOURCE_INDEX, "alias": ALIAS, "timestamp_field": "published"}
    first = run_at(LOGICAL_DATE, **conf)  # mode auto on a manual run: full
    assert first.state == "success", first.task_states
    assert xcom(first.run_id, "validate_settings", "mode") == "full"
    index = alias_target(cluster)
    before = docs(cluster, index)
    assert len(before) == 125

    # New text for a document inside the interval and for one outside it; a new document inside it.
    for doc_id in (INSIDE, OUTSIDE):
        cluster.update(index=SOURCE_INDEX, id=doc_id, doc={"content": f"rewritten {doc_id}: volcano magma"})
    new = {"title": "new", "topic": "geology", "published": "2026-03-04T09:30:00Z", "content": "lava flows"}
    cluster.index(index=SOURCE_INDEX, id="doc-new", document=new, refresh=True)

    second = run_at(LOGICAL_DATE, **conf, mode="incremental")

    assert second.state == "success", second.task_states
    assert xcom(second.run_id, "validate_settings", "mode") == "incremental"
    assert xcom(second.run_id, "validate_settings", "interval") == INTERVAL
    assert alias_target(cluster) == index  # written into the alias's index, no new index
    after = docs(cluster, index)
    assert set(after) == set(before) | {"doc-new"}
    assert after[INSIDE]["content"].startswith("rewritten") and after[INSIDE][OUTPUT_FIELD]
    assert after["doc-new"][OUTPUT_FIELD]
    assert after[OUTSIDE] == before[OUTSIDE]  # the next interval's update waits for its run
    changed = {d for d in before if after[d] != before[d]}
    assert changed == {INSIDE}  # nothing else in the index changed
    verification = xcom(second.run_id, "verify_embeddings", "verification")
    assert verification["expected"] == verification["indexed"] == 2  # INSIDE and doc-new


def test_incremental_without_the_alias_falls_back_to_full(cluster, run_at):
    result = run_at(LOGICAL_DATE, source_index=SOURCE_INDEX, alias="articles-fresh", mode="incremental")

    assert result.state == "success", result.task_states
    assert xcom(result.run_id, "validate_settings", "mode") == "full"
    assert cluster.count(index="articles-fresh")["count"] == 125


def test_incremental_on_a_run_without_logical_date_is_refused_before_any_write(cluster, run_at):
    result = run_at(None, source_index=SOURCE_INDEX, alias=ALIAS, mode="incremental")

    assert result.state == "failed"
    assert result.task_states["validate_settings"] == "failed"
    assert not cluster.indices.exists_alias(name=ALIAS)
    assert set(cluster.indices.get(index="*")) == {SOURCE_INDEX}


BATCH = [f"night-{n:02d}" for n in range(40)]  # documents of the interval, embedded by a full run first


def night_doc(doc_id: str, text: str) -> dict:
    return {"title": doc_id, "topic": "night", "published": "2026-03-04T10:00:00Z", "content": text}


def body(doc: dict) -> dict:
    """A destination document's body without what the chain adds."""
    return {k: v for k, v in doc.items() if k not in (OUTPUT_FIELD, "embedding_failure", "model_id")}


def test_an_incremental_run_whose_reindex_is_lost_resumes_its_interval_and_only_it(
    start_sandbox, monkeypatch, run_at
):
    """Issue 15, defect 1: a node restart lost the incremental reindex; complete_index compared the
    interval's source count with the whole destination and saw nothing missing, and its copy pass
    (op_type create) could not refresh the documents rewritten since the last run. Here the
    interval's 40 documents, embedded by an earlier run, are rewritten and 4 are added; the restart
    comes after the reindex wrote some of them. The deployment takes 2 s to load again after the
    restart (inference answers 409 "not allocated" meanwhile): the passes that infer wait for it."""
    slow = start_sandbox(inference_ms=40, download_seconds=4.0)
    es = Elasticsearch(slow.url)
    prepare_run(monkeypatch, es, slow.url, None)
    helpers.bulk(
        es,
        ({"_index": SOURCE_INDEX, "_id": i, **night_doc(i, f"{i}: first text")} for i in BATCH),
        refresh=True,
    )
    conf = {"source_index": SOURCE_INDEX, "alias": ALIAS, "timestamp_field": "published"}
    first = run_at(LOGICAL_DATE, **conf)
    assert first.state == "success", first.task_states
    index = alias_target(es)
    before = docs(es, index)

    added = [f"late-{n}" for n in range(4)]
    changes = [
        *({"_index": SOURCE_INDEX, "_id": i, **night_doc(i, f"{i}: zeolite rewritten")} for i in BATCH),
        *({"_index": SOURCE_INDEX, "_id": i, **night_doc(i, f"{i}: zeolite added")} for i in added),
    ]
    helpers.bulk(es, changes, refresh=True)
    es.update(index=SOURCE_INDEX, id=OUTSIDE, doc={"content": "rewritten outside the interval"}, refresh=True)
    source = docs(es, SOURCE_INDEX)
    seen: dict[str, int] = {}

    def rewritten() -> int:
        return es.count(index=index, query={"match": {"content": "zeolite"}})["count"]

    def refreshed_rewritten() -> int:
        es.indices.refresh(index=index)
        return rewritten()

    with node_restart_when(es, refreshed_rewritten, lambda: seen.update(written=rewritten())):
        second = run_at(LOGICAL_DATE, **conf, mode="incremental")

    assert seen and seen["written"] < len(BATCH) + len(added), f"the restart came too late: {seen}"
    assert second.state == "success", second.task_states
    assert xcom(second.run_id, "wait_reindex", "reindex_result")["lost"] is True
    assert alias_target(es) == index
    after = docs(es, index)
    covered = {*BATCH, *added, INSIDE}
    for doc_id in covered:
        assert body(after[doc_id]) == source[doc_id], doc_id
        assert after[doc_id][OUTPUT_FIELD] and "embedding_failure" not in after[doc_id], doc_id
    # Nothing outside the interval was touched: the next interval's rewrite waits for its run.
    assert {d: after[d] for d in set(before) - covered} == {d: before[d] for d in set(before) - covered}
    assert body(after[OUTSIDE]) != source[OUTSIDE]
    verification = xcom(second.run_id, "verify_embeddings", "verification")
    assert verification["expected"] == verification["indexed"] == len(covered), verification
    assert verification["stale"] == 0 and verification["missing_embeddings"] == 0, verification
