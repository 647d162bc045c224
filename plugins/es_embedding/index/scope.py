"""What a run covers: its scope on the source and on the destination. Pure functions.

A run covers the documents its query selects in the source (in mode incremental, the query
restricted to the run's data interval: es_embedding.intervals) and, in the destination, the documents
its destination query selects: the same query in mode incremental (the destination maps the
source's fields, so the query means the same there), every document of the run's own index in
mode full. Everything `complete_index` and `verify_embeddings` count, compare, copy, embed or
delete lies inside that scope, on both indices; nothing outside it is touched, so an incremental
run never changes a document of another interval in the alias's index.

A destination document is covered when either index places it in the scope: a document whose
source moved out of the scope (deleted, or its timestamp changed) is covered by its old copy, which
`complete_index` removes (the run that covers its new place writes it again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MATCH_ALL: dict = {"match_all": {}}


def all_of(*queries: dict | None) -> dict:
    """The conjunction of `queries` (match_all and None left out; one query stays as it is)."""
    parts = [q for q in queries if q and q != MATCH_ALL]
    if not parts:
        return MATCH_ALL
    if len(parts) == 1:
        return parts[0]
    return {"bool": {"filter": parts}}


def ids_query(ids: Iterable[str]) -> dict:
    return {"ids": {"values": list(ids)}}


@dataclass(frozen=True)
class Scope:
    """The run's scope: `source` selects the source documents it covers, `dest` the destination's."""

    source: dict
    dest: dict

    @classmethod
    def of(cls, query: Any, dest_query: Any = None) -> Scope:
        """From the run's Params as validate_settings resolved them: `query` (the source query,
        incremental: with the interval) and `dest_query` (None or match_all: the whole destination)."""
        return cls(source=all_of(query or None), dest=all_of(dest_query or None))

    def source_ids(self, ids: Iterable[str]) -> dict:
        """The source documents of `ids` that lie in the scope."""
        return all_of(self.source, ids_query(ids))

    def dest_where(self, query: dict) -> dict:
        """The destination documents of the scope that `query` matches."""
        return all_of(self.dest, query)
