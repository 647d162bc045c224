"""Retention, `apply_retention`: after a swap, deletes the alias's older versioned indices beyond
Variable `embedding_reindex.keep_indices`.

It deletes only what it may: indices this package created for that alias (mapping
`_meta.managed_by` and `_meta.alias`), older than the index the alias points at, carrying no alias
at all, beyond the `keep_indices` newest (the alias's own index counts as one). Newer indices of
that alias are left alone: they belong to a run in progress, or to a failed one worth a look.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from elasticsearch import NotFoundError

from es_embedding import bodies
from es_embedding.base import EsStage
from es_embedding.settings import ReindexSettings


class RetentionPlan(NamedTuple):
    delete: list[str]
    keep: list[str]
    reasons: dict[str, str]


def retention_plan(indices: dict[str, dict], alias: str, keep: int | None) -> RetentionPlan:
    """Which indices to delete, from `GET <indices>` entries ({name: {aliases, mappings, settings}})."""
    current = sorted(name for name, entry in indices.items() if alias in (entry.get("aliases") or {}))
    reasons: dict[str, str] = {}
    if not current:
        return RetentionPlan([], [], {"*": f"alias [{alias}] points at no index: nothing is deleted"})

    def created(name: str) -> int:
        return int(((indices[name].get("settings") or {}).get("index") or {}).get("creation_date") or 0)

    newest_current = max(created(name) for name in current)
    older = []
    for name, entry in indices.items():
        meta = bodies.managed_meta(entry.get("mappings") or {})
        if name in current or not meta or meta.get("alias") != alias:
            continue
        if entry.get("aliases"):
            reasons[name] = f"kept: it carries aliases {sorted(entry['aliases'])}"
        elif created(name) >= newest_current:
            reasons[name] = f"kept: newer than [{current[0]}] (a run in progress, or a failed one)"
        else:
            older.append(name)
    older.sort(key=lambda name: (created(name), name), reverse=True)
    room = len(older) if keep is None else max(keep - len(current), 0)
    kept, deleted = older[:room], older[room:]
    for name in kept:
        reasons[name] = (
            f"kept: among the {keep} newest of alias [{alias}]" if keep else "kept: keep_indices is null"
        )
    for name in deleted:
        reasons[name] = f"deleted: older than the {keep} newest of alias [{alias}]"
    return RetentionPlan(deleted, current + kept, reasons)


class ApplyRetentionOperator(EsStage):
    """After the swap: deletes the alias's versioned indices beyond Variable
    `embedding_reindex.keep_indices` (see the module's rules). Pushes deleted, kept."""

    template_fields: Sequence[str] = (*EsStage.template_fields, "alias")

    def __init__(self, *, alias: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alias = alias

    def execute(self, context: Any) -> dict[str, Any]:
        settings = self.run_settings[ReindexSettings]
        with self.calling("reading indices for retention"):
            indices = dict(self.es.indices.get(index="*", expand_wildcards="open"))
        plan = retention_plan(indices, self.alias, settings.keep_indices)
        for name, reason in sorted(plan.reasons.items()):
            self.log.info("Retention of alias [%s]: [%s] %s", self.alias, name, reason)
        for name in plan.delete:
            with self.calling(f"deleting index [{name}] (retention of alias [{self.alias}])"):
                try:
                    self.es.indices.delete(index=name)
                except NotFoundError:
                    self.log.info("[%s] was deleted meanwhile", name)
        return self.publish(context, deleted=plan.delete, kept=plan.keep)
