"""Currency: whether each destination document the run covers holds its source document's current
content, proven by comparing contents, streamed.

A destination document is current when its `_source`, without the fields the chain adds (the
backend's `added_fields`), equals its source document's `_source` as the source shows it now. The
comparison reads the scope's source documents through a point in time (`search_after` on
`_shard_doc`, one batch at a time), fetches the same ids from the destination (`mget`, the added
fields excluded by Elasticsearch) and compares the two bodies in Python as JSON values (types
included: `1`, `1.0` and `true` differ). Memory holds one batch of each side, and at most
`id_limit` ids of the documents to re-embed.

Why contents and not versions or a recorded fingerprint: it is exact for both backends. Versions
(`version_type: external`) break on the embed pass (`_update_by_query` bumps the destination's
version) and on a recreated source or document (versions start again at 1, so a different body can
carry an equal version). A fingerprint processor would exist on the pipeline path only, and
reproducing its hash in Python exactly is fragile. The cost is one read of the scope on each index
(bench/NOTES.md gives the figure for 100,000 documents).

Limits, stated where they apply: the comparison sees what a search sees (the refreshed state of
the source, as `_reindex` does); fields Elasticsearch leaves out of `_source` on both indices
(vectors on 9.2+ indices) are not compared; a source field named like an added field (e.g.
`model_id` next to the output) is not compared either, since the chain overwrites it.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from es_embedding.base import EsStage
from es_embedding.errors import ClusterRequestError, TransientClusterError
from es_embedding.index.scope import Scope

BATCH = 1000  # documents read per request on each side
KEEP_ALIVE = "2m"  # a point in time lives this long between two pages
# Ids one re-embed pass names; more stale or missing documents than that: the whole scope again.
ID_LIMIT = 10_000


def same_json(a: Any, b: Any) -> bool:
    """Equality of two parsed JSON values, types included (Python's own `==` has 1 == 1.0 == True)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(value, b[key]) for key, value in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@dataclass(frozen=True)
class BatchDiff:
    """One batch of source documents against their destination copies."""

    missing: list[str]
    stale: list[str]
    current: int


def compare_batch(source_hits: list[dict], dest_docs: list[dict]) -> BatchDiff:
    """Source hits (`_id`, `_source`) against `mget` answers for the same ids (`_id`, `found`,
    `_source`), both without the chain's fields."""
    copies = {doc["_id"]: doc for doc in dest_docs if doc.get("found")}
    missing, stale, current = [], [], 0
    for hit in source_hits:
        copy = copies.get(hit["_id"])
        if copy is None:
            missing.append(hit["_id"])
        elif same_json(copy.get("_source"), hit.get("_source")):
            current += 1
        else:
            stale.append(hit["_id"])
    return BatchDiff(missing, stale, current)


@dataclass
class Comparison:
    """The scope's source documents compared with their destination copies, as of `cut` (when the
    source's point in time was opened). The ids of the missing and the stale documents are kept up
    to a limit (together); `missing` and `stale` count them all."""

    cut: str
    compared: int = 0
    current: int = 0
    missing: int = 0
    stale: int = 0
    missing_ids: list[str] = field(default_factory=list)
    stale_ids: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every source document of the scope is in the destination, current."""
        return not self.missing and not self.stale

    def add(self, diff: BatchDiff, id_limit: int) -> None:
        self.compared += len(diff.missing) + len(diff.stale) + diff.current
        self.current += diff.current
        self.missing += len(diff.missing)
        self.stale += len(diff.stale)
        room = id_limit - len(self.missing_ids) - len(self.stale_ids)
        self.stale_ids.extend(diff.stale[: max(room, 0)])
        room = id_limit - len(self.missing_ids) - len(self.stale_ids)
        self.missing_ids.extend(diff.missing[: max(room, 0)])

    def summary(self) -> dict[str, Any]:
        return {
            "cut": self.cut,
            "compared": self.compared,
            "current": self.current,
            "missing": self.missing,
            "stale": self.stale,
        }


class ReEmbed(NamedTuple):
    """What a re-embed pass takes: `ids`, or the whole scope when they are more than the comparison
    kept (ID_LIMIT)."""

    ids: list[str]
    whole_scope: bool

    def __bool__(self) -> bool:
        return bool(self.ids) or self.whole_scope


def re_embed_plan(comparison: Comparison, expected: int) -> ReEmbed:
    """Every stale document, and the missing ones the run has room for: all of them, unless
    max_docs caps `expected` below what the source's scope holds."""
    wanted = min(comparison.missing, max(0, expected - comparison.current - comparison.stale))
    ids = [*comparison.stale_ids, *comparison.missing_ids[:wanted]]
    whole = comparison.stale > len(comparison.stale_ids) or wanted > len(comparison.missing_ids)
    return ReEmbed(ids, whole)


@contextmanager
def point_in_time(stage: EsStage, index: str) -> Generator[dict[str, str], None, None]:
    """An open point in time on `index` ({"id": ...}, kept current as pages answer), closed after."""
    with stage.calling(f"opening a point in time on [{index}]"):
        pit = {"id": stage.es.open_point_in_time(index=index, keep_alive=KEEP_ALIVE)["id"]}
    try:
        yield pit
    finally:
        try:
            with stage.calling(f"closing the point in time on [{index}]"):
                stage.es.close_point_in_time(id=pit["id"])
        except ClusterRequestError as exc:  # it expires by itself; the comparison's result stands
            stage.log.info(
                "Point in time on [%s] not closed (it expires after %s): %s", index, KEEP_ALIVE, exc
            )


def pages(stage: EsStage, index: str, query: dict, **request: Any) -> Iterator[list[dict]]:
    """The hits of `query` on `index`, one batch after the other, all from one point in time."""
    with point_in_time(stage, index) as pit:
        after = None
        while True:
            try:
                with stage.calling(f"reading [{index}] page by page"):
                    page = stage.es.search(
                        pit={"id": pit["id"], "keep_alive": KEEP_ALIVE},
                        query=query,
                        sort=["_shard_doc"],
                        size=BATCH,
                        track_total_hits=False,
                        **({"search_after": after} if after is not None else {}),
                        **request,
                    )
            except ClusterRequestError as exc:
                if exc.status == 404:  # the point in time is gone: a node restarted, or it expired
                    raise TransientClusterError(
                        f"{exc}; the point in time on [{index}] was lost (node restart?): a retry reads again"
                    ) from None
                raise
            pit["id"] = page.get("pit_id") or pit["id"]
            hits = page["hits"]["hits"]
            if not hits:
                return
            yield hits
            after = hits[-1]["sort"]


def fetch(stage: EsStage, index: str, hits: list[dict], **request: Any) -> list[dict]:
    """The documents of `index` with the ids (and routings) of `hits` (`mget`)."""
    docs = [{"_id": h["_id"], **({"routing": h["_routing"]} if h.get("_routing") else {})} for h in hits]
    with stage.calling(f"reading {len(docs)} documents of [{index}]"):
        return stage.es.mget(index=index, docs=docs, **request)["docs"]


@dataclass
class ScopeReader:
    """Reads the run's scope on both indices for `stage`: the comparison, and the destination's
    documents whose source is not (or no longer) in the scope."""

    stage: EsStage
    source_index: str
    dest_index: str
    scope: Scope
    added_fields: list[str]

    def compare(self, id_limit: int) -> Comparison:
        comparison = Comparison(cut=datetime.now(UTC).isoformat(timespec="seconds"))
        # The added fields are left out on both sides, by Elasticsearch: a source field of such a
        # name is overwritten by the chain, so it cannot be compared.
        source_side = {"source": {"excludes": self.added_fields}} if self.added_fields else {}
        dest_side = {"source_excludes": self.added_fields} if self.added_fields else {}
        for hits in pages(self.stage, self.source_index, self.scope.source, **source_side):
            copies = fetch(self.stage, self.dest_index, hits, **dest_side)
            comparison.add(compare_batch(hits, copies), id_limit)
        return comparison

    def orphans(self) -> Iterator[list[dict]]:
        """Batches of the destination's scope documents (`_id`, `_routing`) that the source's scope
        does not hold: deleted in the source, or moved out of the scope."""
        for hits in pages(self.stage, self.dest_index, self.scope.dest, source=False):
            ids = [h["_id"] for h in hits]
            with self.stage.calling(f"looking up {len(ids)} documents in [{self.source_index}]"):
                found = self.stage.es.search(
                    index=self.source_index, query=self.scope.source_ids(ids), size=len(ids), source=False
                )["hits"]["hits"]
            held = {h["_id"] for h in found}
            lost = [h for h in hits if h["_id"] not in held]
            if lost:
                yield lost
