"""apply_retention (es_embedding.publish.retention): its choice of indices (retention_plan, a pure
function over `GET <indices>` entries), and the deletes it makes of that choice."""

from __future__ import annotations

from es_embedding.publish import ApplyRetentionOperator
from es_embedding.publish.retention import retention_plan
from tests.unit.fakes import FakeEs, FakeHook, context, not_found, settings, with_hook

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


def test_it_deletes_what_the_plan_says_and_an_index_deleted_meanwhile_is_no_error():
    indices = {"v1": entry(1), "v2": entry(2), "v3": entry(3, aliases=[ALIAS])}
    client = FakeEs(
        **{
            "indices.get": [indices],
            "indices.delete": [not_found("no such index [v1]"), {"acknowledged": True}],
        }
    )
    operator = ApplyRetentionOperator(
        task_id="apply_retention", alias=ALIAS, settings=settings(embedding_reindex={"keep_indices": 1})
    )
    result = with_hook(operator, FakeHook(client)).execute(context())
    assert result == {"deleted": ["v2", "v1"], "kept": ["v3"]}
    assert client.calls["indices.delete"] == [{"index": "v2"}, {"index": "v1"}]
    assert client.calls["indices.get"] == [{"index": "*", "expand_wildcards": "open"}]
