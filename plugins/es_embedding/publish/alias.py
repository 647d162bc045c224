"""The alias, `swap_alias`: moved to the verified destination in one atomic `_aliases` call, and only
ever between indices this package created.

The move is idempotent. `_aliases` is atomic, so after any answer the alias points either where it
did or at the destination. When the answer is lost after the cluster applied the move (a proxy's
502, a dropped connection), the client resends it and the resend meets an alias already moved
(`404 aliases_not_found_exception` for the remove of the old index); a task retry finds it moved
too. Both end in success, since the alias points where it should: the alias is read again after a
failed call, and a try that finds it on the destination alone succeeds. So a run never ends failed
with its alias moved, and `announce_ready` and `apply_retention` run after the swap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from es_embedding import bodies
from es_embedding.base import EsStage, TaskMemory
from es_embedding.errors import AliasError, EmbeddingError
from es_embedding.links import KibanaIndexLink
from es_embedding.naming import MANAGED_BY


def foreign_indices(stage: EsStage, indices: Iterable[str], action: str) -> list[str]:
    """Those of `indices` this package did not create (no mapping `_meta.managed_by` of ours)."""
    names = list(indices)
    with stage.calling(action):
        entries = stage.es.indices.get_mapping(index=",".join(names))
    return [
        name for name in names if not bodies.managed_meta((entries.get(name) or {}).get("mappings") or {})
    ]


BEFORE_KEY = "alias_before"  # task_state_store key: where the alias pointed before this task moved it


class SwapAliasOperator(EsStage):
    """`swap_alias`: points the alias at the destination in one atomic `_aliases` call (remove + add).

    Refuses an alias name that is a concrete index, or one that points at indices this package did
    not create. Pushes alias, previous_indices."""

    template_fields: Sequence[str] = (*EsStage.template_fields, "alias", "dest_index")
    operator_extra_links = (KibanaIndexLink(),)

    def __init__(self, *, alias: str, dest_index: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alias = alias
        self.dest_index = dest_index

    def execute(self, context: Any) -> dict[str, Any]:
        memory = TaskMemory(context)
        current = self.targets()
        if not current:
            with self.calling(f"checking [{self.alias}]"):
                if self.es.indices.exists(index=self.alias):
                    raise AliasError(
                        f"[{self.alias}] is a concrete index, not an alias; choose another Param 'alias'"
                    )
        if current == [self.dest_index]:
            # Moved by an earlier try whose answer was lost, or by an earlier run.
            before = memory.get(BEFORE_KEY, current)
            self.log.info("Alias [%s] already points at [%s]", self.alias, self.dest_index)
            return self.publish(context, alias=self.alias, previous_indices=before)
        if foreign := foreign_indices(self, [*current, self.dest_index], "reading index mappings"):
            raise AliasError(
                f"alias [{self.alias}] would move from or to indices not created by {MANAGED_BY}: "
                f"{', '.join(foreign)}; choose another Param 'alias' or move it by hand"
            )
        actions = [
            {"remove": {"index": index, "alias": self.alias}} for index in current if index != self.dest_index
        ]
        actions.append({"add": {"index": self.dest_index, "alias": self.alias}})
        memory.set(BEFORE_KEY, current)  # what a retry reports as the previous indices
        try:
            with self.calling(f"moving alias [{self.alias}] to [{self.dest_index}]"):
                self.es.indices.update_aliases(actions=actions)
        except EmbeddingError as exc:
            if self.targets() != [self.dest_index]:
                raise
            self.log.warning(
                "Moving alias [%s] answered an error, yet it points at [%s]: the cluster applied the move "
                "and its answer was lost (%s)",
                self.alias,
                self.dest_index,
                exc,
            )
        self.log.info("Alias [%s]: %s -> [%s]", self.alias, current or "(new)", self.dest_index)
        return self.publish(context, alias=self.alias, previous_indices=current)

    def targets(self) -> list[str]:
        """The indices the alias points at, sorted (none: it does not exist)."""
        found = self.get_or_none(f"reading alias [{self.alias}]", self.es.indices.get_alias, name=self.alias)
        return sorted(found or {})
