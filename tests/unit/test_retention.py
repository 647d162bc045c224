"""Retention's choice of indices (es_embedding.lifecycle.retention_plan) and the fan-out's choice of
sources (es_embedding.fanout.pick_sources): pure functions over `GET <indices>` entries."""

from __future__ import annotations

from es_embedding.fanout import pick_sources
from es_embedding.lifecycle import retention_plan

ALIAS = "articles-embedded"


def entry(created: int, alias: str | None = ALIAS, aliases=(), managed: bool = True) -> dict:
    meta = {"managed_by": "es_embedding", **({"alias": alias} if alias else {})} if managed else {}
    return {
        "aliases": {name: {} for name in aliases},
        "mappings": {"_meta": meta} if meta else {},
        "settings": {"index": {"creation_date": str(created)}},
    }


def test_keeps_the_n_newest_counting_the_alias_index_and_deletes_older_ones():
    indices = {
        "v1": entry(1),
        "v2": entry(2),
        "v3": entry(3),
        "v4": entry(4, aliases=[ALIAS]),
    }
    plan = retention_plan(indices, ALIAS, keep=2)
    assert plan.delete == ["v2", "v1"]
    assert plan.keep == ["v4", "v3"]


def test_never_deletes_the_alias_index_foreign_indices_other_aliases_or_newer_indices():
    indices = {
        "old-ours": entry(1),
        "old-unmanaged": entry(1, managed=False),
        "old-no-alias-meta": entry(1, alias=None),
        "old-other-alias": entry(1, alias="other-embedded"),
        "old-held-by-a-user-alias": entry(1, aliases=["rollback"]),
        "current": entry(5, aliases=[ALIAS]),
        "newer-in-progress": entry(9),
    }
    plan = retention_plan(indices, ALIAS, keep=1)
    assert plan.delete == ["old-ours"]
    assert "current" in plan.keep
    assert plan.reasons["newer-in-progress"].startswith("kept: newer")
    assert plan.reasons["old-held-by-a-user-alias"].startswith("kept: it carries aliases")


def test_keep_null_keeps_all_and_a_missing_alias_deletes_nothing():
    indices = {"v1": entry(1), "v2": entry(2, aliases=[ALIAS])}
    assert retention_plan(indices, ALIAS, keep=None).delete == []
    assert retention_plan({"v1": entry(1)}, ALIAS, keep=1).delete == []


def test_fanout_sources_skip_hidden_and_managed_indices():
    found = {"logs-a": entry(1, managed=False), ".kibana": {}, "logs-a-elser-1": entry(2), "logs-b": {}}
    sources, skipped = pick_sources(found, ["logs-*"])
    assert sources == ["logs-a", "logs-b"]
    assert set(skipped) == {".kibana", "logs-a-elser-1"}


def test_pipelines_naming_the_deployment_at_any_depth_and_whose_they_are():
    from es_embedding.lifecycle import inference_users

    ours = {"_meta": {"managed_by": "es_embedding"}, "processors": [{"inference": {"model_id": "dep"}}]}
    theirs = {"processors": [{"foreach": {"processor": {"inference": {"model_id": "dep"}}}}]}
    other = {"processors": [{"inference": {"model_id": "another"}}], "on_failure": [{"set": {}}]}
    assert inference_users({"a": ours, "b": theirs, "c": other}, "dep") == {"a": True, "b": False}
