"""A backfill of embedding_reindex through the real scheduler, created with the README's
`airflow backfill create` (the REST API's POST /api/v2/backfills and the UI's backfill dialog create
the same): one incremental run per data interval, and the alias's index then holds exactly the
documents of those intervals on top of what it held, no more, no fewer.

The scenario: documents of early January arrive late. A full run embeds what the source holds (run
with dag.test() against the same sandbox: it only sets the stage, and a scheduler run costs half a
minute more); then the late documents are indexed into the source and a three-interval backfill brings those of
its intervals in. Intervals are daily at 08:00 (the fixture's schedule), the hour of the corpus's
`published` dates, so each of those documents sits exactly on an interval's start."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from elasticsearch import Elasticsearch, helpers

from bin.sample_corpus import CORPUS
from tests.e2e.harness import ALIAS, SOURCE_INDEX, connect, load_corpus, set_variables
from tests.e2e.standalone import wait_for

# The first scheduler test also pays the shared standalone start (20-60 s, more on a loaded machine).
# Its metadata DB is PostgreSQL: Airflow refuses backfills on SQLite under concurrent access.
pytestmark = [pytest.mark.standalone, pytest.mark.slow, pytest.mark.timeout(600)]
DAG_ID = "embedding_reindex"
LATE_BEFORE = "2026-01-11"  # documents published before this arrive late
CONF = {"source_index": SOURCE_INDEX, "alias": ALIAS, "timestamp_field": "published"}


def corpus() -> dict[str, dict]:
    with CORPUS.open() as lines:
        return {d.pop("_id"): d for d in map(json.loads, lines)}


def ids(es, index: str) -> set[str]:
    es.indices.refresh(index=index)
    return {
        h["_id"] for h in helpers.scan(es, index=index, query={"query": {"match_all": {}}}, _source=False)
    }


def test_three_interval_backfill_embeds_exactly_those_intervals(scheduler, run_dag, monkeypatch):
    es = Elasticsearch(scheduler.sandbox.url)
    docs = corpus()
    late = {i for i, d in docs.items() if d["published"] < LATE_BEFORE}
    assert len(late) == 4  # published 01-02, 01-03, 01-07, 01-08, each at 08:00
    load_corpus(es)
    es.delete_by_query(index=SOURCE_INDEX, query={"ids": {"values": sorted(late)}}, refresh=True)

    # A manual run: mode auto is full.
    connect(monkeypatch, scheduler.sandbox.url)
    set_variables(monkeypatch, embedding_reindex={"poll_interval": "1s"})
    first = run_dag(**CONF)
    assert first.state == "success", first.task_states
    (index,) = es.indices.get_alias(name=ALIAS)
    before = ids(es, index)
    assert before == set(docs) - late

    helpers.bulk(es, ({"_index": SOURCE_INDEX, "_id": i, **docs[i]} for i in late), refresh=True)
    scheduler.wait_for_dag(DAG_ID)
    # The README's command (the REST API's POST /backfills and the UI's dialog create the same).
    scheduler.cli(
        "backfill", "create", "--dag-id", DAG_ID,
        "--from-date", "2026-01-02T08:00:00+00:00", "--to-date", "2026-01-04T08:00:00+00:00",
        "--max-active-runs", "1", "--dag-run-conf", json.dumps(CONF),
    )  # fmt: skip

    def backfill_runs():
        runs = scheduler.api.get(f"/dags/{DAG_ID}/dagRuns", params={"limit": 100}).json()["dag_runs"]
        runs = [r for r in runs if r["run_type"] == "backfill"]
        return runs if len(runs) == 3 and all(r["state"] in ("success", "failed") for r in runs) else None

    runs = wait_for(backfill_runs, 400, "three backfill runs to finish", interval=3)
    assert [r["state"] for r in runs] == ["success"] * 3, runs

    intervals = sorted(
        (datetime.fromisoformat(r["data_interval_start"]), datetime.fromisoformat(r["data_interval_end"]))
        for r in runs
    )
    assert [(s.isoformat(), e.isoformat()) for s, e in intervals] == [
        ("2026-01-02T08:00:00+00:00", "2026-01-03T08:00:00+00:00"),
        ("2026-01-03T08:00:00+00:00", "2026-01-04T08:00:00+00:00"),
        ("2026-01-04T08:00:00+00:00", "2026-01-05T08:00:00+00:00"),
    ]
    in_intervals = {
        i
        for i, d in docs.items()
        if any(s <= datetime.fromisoformat(d["published"].replace("Z", "+00:00")) < e for s, e in intervals)
    }
    assert in_intervals == {i for i in late if docs[i]["published"] < "2026-01-04"}  # 01-02 and 01-03

    (after_index,) = es.indices.get_alias(name=ALIAS)
    assert after_index == index  # incremental: into the alias's index
    assert ids(es, index) == before | in_intervals  # exactly those intervals' documents were added
    embedded = es.count(index=index, query={"exists": {"field": "content_embedding"}})["count"]
    assert embedded == len(before | in_intervals)

    # Each backfill run announced the alias's Asset, with its interval.
    events = scheduler.api.get("/assets/events", params={"limit": 100}).json()["asset_events"]
    uri = f"elasticsearch://elasticsearch_default/{ALIAS}"
    ours = [e for e in events if e["uri"] == uri]
    assert sorted(e["source_run_id"] for e in ours) == sorted(r["dag_run_id"] for r in runs)
    assert {e["extra"]["mode"] for e in ours} == {"incremental"}
