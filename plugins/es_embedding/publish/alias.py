"""The alias, `swap_alias`: moved to the verified destination in one atomic `_aliases` call, and only
ever between indices this package created."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from es_embedding import bodies
from es_embedding.base import EsStage
from es_embedding.errors import AliasError
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
        found = self.get_or_none(f"reading alias [{self.alias}]", self.es.indices.get_alias, name=self.alias)
        current = sorted(found or {})
        if not current:
            with self.calling(f"checking [{self.alias}]"):
                if self.es.indices.exists(index=self.alias):
                    raise AliasError(
                        f"[{self.alias}] is a concrete index, not an alias; choose another Param 'alias'"
                    )
        if current == [self.dest_index]:
            self.log.info("Alias [%s] already points at [%s]", self.alias, self.dest_index)
            return self.publish(context, alias=self.alias, previous_indices=current)
        if foreign := foreign_indices(self, [*current, self.dest_index], "reading index mappings"):
            raise AliasError(
                f"alias [{self.alias}] would move from or to indices not created by {MANAGED_BY}: "
                f"{', '.join(foreign)}; choose another Param 'alias' or move it by hand"
            )
        actions = [
            {"remove": {"index": index, "alias": self.alias}} for index in current if index != self.dest_index
        ]
        actions.append({"add": {"index": self.dest_index, "alias": self.alias}})
        with self.calling(f"moving alias [{self.alias}] to [{self.dest_index}]"):
            self.es.indices.update_aliases(actions=actions)
        self.log.info("Alias [%s]: %s -> [%s]", self.alias, current or "(new)", self.dest_index)
        return self.publish(context, alias=self.alias, previous_indices=current)
