"""Keeping the cluster tidy, end to end (dag.test() on the real metadata DB, sandbox over HTTP):
retention deletes only the alias's own older indices, the alias's Asset event is recorded, and the
deployment's teardown stops it only when no other run uses it.

The older indices are created here the way CreateDestIndexOperator creates them (its `_meta`);
making each with a full run would cost a minute and show nothing more about retention."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.e2e.harness import ALIAS, SOURCE_INDEX, connect, load_corpus, set_variables, xcom
from tests.e2e.test_incremental import LOGICAL_DATE, run_at  # noqa: F401 (fixture)

DEPLOYMENT_ID = "elser-ingest"
MAPPING = {"properties": {"content": {"type": "text"}, "published": {"type": "date"}}}


def managed(es, name: str, alias_meta: str | None, aliases: tuple[str, ...] = ()) -> None:
    meta = {"managed_by": "es_embedding", "source_index": SOURCE_INDEX}
    if alias_meta:
        meta["alias"] = alias_meta
    es.indices.create(
        index=name, mappings={**MAPPING, "_meta": meta}, aliases={a: {} for a in aliases} or None
    )


@pytest.fixture
def cluster(es, sandbox, monkeypatch):
    connect(monkeypatch, sandbox.url)
    load_corpus(es, limit=20)
    set_variables(
        monkeypatch,
        embedding_reindex={"keep_indices": 2, "poll_interval": "1s"},
        embedding_deployment={"stop_after_run": True, "poll_interval": "1s"},
    )
    # Older indices of the alias (oldest first), the alias on the newest of them, and bystanders.
    for name in ("articles-v1", "articles-v2", "articles-v3"):
        managed(es, name, ALIAS)
    es.indices.update_aliases(actions=[{"add": {"index": "articles-v3", "alias": ALIAS}}])
    es.indices.create(index="articles-unmanaged", mappings=MAPPING)
    managed(es, "articles-other-alias", "other-embedded")
    managed(es, "articles-rollback", ALIAS, aliases=("articles-rollback-alias",))
    return es


def deployment_running(es) -> bool:
    stats = es.ml.get_trained_models_stats()["trained_model_stats"]
    return any((s.get("deployment_stats") or {}).get("deployment_id") == DEPLOYMENT_ID for s in stats)


def asset_events(uri: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.uri == uri)
        ).all()
        return [{"extra": e.extra, "run_id": e.source_run_id, "dag_id": e.source_dag_id} for e in rows]


@pytest.fixture
def other_running_run():
    """Another run of embedding_reindex in state running, as the scheduler would have it."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = DagRun(
            dag_id="embedding_reindex",
            run_id="manual__other_running",
            run_type="manual",
            state="running",
            run_after=datetime.now(UTC),
        )
        session.add(run)
    yield
    with create_session() as session:
        session.query(DagRun).filter_by(run_id="manual__other_running").delete()


def test_retention_assets_and_teardown_after_a_full_run(cluster, run_at):  # noqa: F811
    result = run_at(LOGICAL_DATE, source_index=SOURCE_INDEX, alias=ALIAS, mode="full")

    assert result.state == "success", result.task_states
    (new_index,) = cluster.indices.get_alias(name=ALIAS)
    remaining = set(cluster.indices.get(index="*"))
    # keep_indices 2: the alias's new index and the newest older one; v1 and v2 deleted.
    assert {"articles-v1", "articles-v2"}.isdisjoint(remaining)
    assert {new_index, "articles-v3"} <= remaining
    # Never an index of another alias, one this package did not create, one carrying an alias, the source.
    assert {"articles-unmanaged", "articles-other-alias", "articles-rollback", SOURCE_INDEX} <= remaining
    assert sorted(xcom(result.run_id, "apply_retention", "deleted")) == ["articles-v1", "articles-v2"]

    # The alias's Asset event, naming the ready index.
    events = asset_events(f"elasticsearch://elasticsearch_default/{ALIAS}")
    (event,) = [e for e in events if e["run_id"] == result.run_id]
    assert event["dag_id"] == "embedding_reindex" and event["extra"]["index"] == new_index

    # stop_after_run, and no other run: the deployment was stopped after the run.
    assert xcom(result.run_id, "stop_deployment", "stopped") is True
    assert not deployment_running(cluster)


def test_teardown_leaves_the_deployment_to_another_running_run(cluster, run_at, other_running_run):  # noqa: F811
    result = run_at(LOGICAL_DATE, source_index=SOURCE_INDEX, alias=ALIAS, mode="full")

    assert result.state == "success", result.task_states
    assert xcom(result.run_id, "stop_deployment", "stopped") is False
    assert "1 of embedding_reindex" in xcom(result.run_id, "stop_deployment", "reason")
    assert deployment_running(cluster)
