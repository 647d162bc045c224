"""Currency without reading the documents: the source's write position, recorded before the copy and
unchanged since, proves that every document this run's copy wrote into a fresh destination is current.

The write position ("stamp") of an index expression is, for each concrete index it names, its uuid
and, for each primary shard, the primary term (cluster state metadata `primary_terms`) and the
sequence-number statistics (`GET <index>/_stats?level=shards`: `seq_no.max_seq_no`,
`local_checkpoint`, `global_checkpoint`). In Elasticsearch a primary gives every operation it
executes the shard's next sequence number (InternalEngine: an index, an overwrite, a delete found or
not; a noop update executes nothing), so `max_seq_no` moves with every change of a shard's documents.

The argument. `start_reindex` records the stamp before it starts the copy, and only then refreshes
the source. If at that moment every shard's local and global checkpoints equal its `max_seq_no`, every
operation numbered up to it is processed on every in-sync copy (the global checkpoint is the lowest
persisted local checkpoint of the in-sync copies, LocalCheckpointTracker and ReplicationTracker), so
the refresh that follows makes all of them visible to every search, and `_reindex`, which reads the
source through a scroll opened after it (one per slice), reads at least that state. If at verification
every index has the same uuid (not deleted and created again), the same shards, the same primary terms
(no primary allocated anew: a failover's new primary can drop operations the old one had applied but
not replicated, under the same numbers) and the same `max_seq_no` (no operation since, deletes
included), then no source document changed between the stamp and now: every read of the source in
between, the first reindex's and any copy pass's, saw the same documents. A destination that had
never been written to when the stamp was taken (each shard's `max_seq_no` -1) and that only this
run's chain wrote since holds only documents read from the source, each as the source holds it now
(the pipeline adds only the chain's fields; a default or final pipeline of the destination would
change what is written, so the stamp records them and the proof refuses them). When the scope's
counts then match, the destination holds every covered document, current.

What the proof does not cover falls back to the comparison of contents (es_embedding.index.currency),
with the reason logged and recorded: no stamp (a destination that held documents: a re-run into the
same `dest_index`, an incremental run into the alias's index, a start that followed a reindex it did
not start after the stamp); the source written since, or its writes in flight when the stamp was
taken; a changed primary term or uuid; a pass that copied again or was lost; a query whose matches
can change without a write to the source (date math on `now`, a terms lookup in another index,
full-text analysis with updateable synonyms: only term-level queries qualify); counts that differ;
documents without embedding. `max_docs` needs nothing more: the first reindex copies the first
`max_docs` of an unchanged source, and the counts compare with `max_docs` applied.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from es_embedding.base import EsStage
from es_embedding.errors import ClusterRequestError

# Query kinds that select documents by their indexed terms alone: on an unchanged source, the same
# documents at any time (given no date math on `now` and no lookup in another index).
TERM_LEVEL = frozenset(
    {
        "match_all",
        "match_none",
        "term",
        "terms",
        "range",
        "exists",
        "ids",
        "prefix",
        "wildcard",
        "regexp",
        "fuzzy",
    }
)
COMPOUND = {
    "bool": ("must", "filter", "should", "must_not"),
    "constant_score": ("filter",),
    "dis_max": ("queries",),
    "boosting": ("positive", "negative"),
}


def read_source(stage: EsStage, index: str) -> dict[str, Any]:
    """The write position of every concrete index `index` names (uuid; each primary's term and
    sequence-number statistics)."""
    with stage.calling(f"reading the primary terms of [{index}]"):
        metadata = stage.es.cluster.state(
            metric="metadata", index=index, filter_path=["metadata.indices.*.primary_terms"]
        )
    terms = {
        name: entry.get("primary_terms") or {} for name, entry in metadata["metadata"]["indices"].items()
    }
    positions = read_shards(stage, index)
    for name, position in positions.items():
        for number, shard in position["shards"].items():
            shard["primary_term"] = terms.get(name, {}).get(number)
        position["shard_count"] = len(terms.get(name, {}))
    return positions


def read_shards(stage: EsStage, index: str) -> dict[str, Any]:
    """Each concrete index's uuid and its started primaries' `seq_no` statistics (`_stats` at the
    shards level; CommonStats narrowed to `docs`, the shard's own parts come whatever the metric)."""
    with stage.calling(f"reading the shard statistics of [{index}]"):
        stats = stage.es.indices.stats(index=index, metric="docs", level="shards")
    positions: dict[str, Any] = {}
    for name, entry in (stats.get("indices") or {}).items():
        shards = {}
        for number, copies in (entry.get("shards") or {}).items():
            primary = next((c for c in copies if (c.get("routing") or {}).get("primary")), None)
            if primary is not None and primary.get("seq_no"):
                shards[number] = dict(primary["seq_no"])
        positions[name] = {"uuid": entry.get("uuid"), "shards": shards}
    return positions


def destination_pipelines(stage: EsStage, index: str) -> dict[str, str | None]:
    """The destination's `index.default_pipeline` and `index.final_pipeline` (None: none)."""
    with stage.calling(f"reading the pipelines of [{index}]"):
        found = stage.es.indices.get_settings(
            index=index, name="index.default_pipeline,index.final_pipeline", flat_settings=True
        )
    settings = (found.get(index) or {}).get("settings") or {}
    return {
        kind: None
        if settings.get(f"index.{kind}_pipeline") in (None, "_none")
        else settings[f"index.{kind}_pipeline"]
        for kind in ("default", "final")
    }


def record(stage: EsStage, source_index: str, dest_index: str) -> dict[str, Any] | None:
    """Before the copy starts: the source's and the destination's write positions and the
    destination's pipelines, then a refresh of the source, so that the copy reads every operation
    the stamp counts. None (the comparison will prove currency) when any of it fails."""
    try:
        stamp = {
            "source": read_source(stage, source_index),
            "dest": read_shards(stage, dest_index),
            "dest_pipelines": destination_pipelines(stage, dest_index),
            "taken": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        with stage.calling(f"refreshing [{source_index}]"):
            refreshed = stage.es.indices.refresh(index=source_index)
    except ClusterRequestError as exc:
        stage.log.warning("No source stamp: %s; currency will be proven by comparing contents", exc)
        return None
    failed = (refreshed.get("_shards") or {}).get("failed")
    if failed:
        stage.log.warning("No source stamp: the refresh of [%s] failed on %s shards", source_index, failed)
        return None
    return stamp


def now(stage: EsStage, source_index: str, dest_index: str) -> dict[str, Any] | None:
    """The write positions as they are now (None, logged, when they cannot be read)."""
    try:
        return {"source": read_source(stage, source_index), "dest": read_shards(stage, dest_index)}
    except ClusterRequestError as exc:
        stage.log.warning("The source stamp could not be read again: %s", exc)
        return None


# --- the decision (pure) ---------------------------------------------------------------------------


class RunFacts(NamedTuple):
    """What the run did and counted, as complete_index knows it at its last decision."""

    query: Any
    passes: list[dict]
    present: int
    expected: int
    unembedded: int


class Verdict(NamedTuple):
    proven: bool
    reason: str


def unsettled(stamp: dict[str, Any]) -> str | None:
    """Why a source stamp does not fix what the copy reads: a shard with operations not yet
    processed on every in-sync copy, or a primary not started."""
    for name, position in sorted(stamp["source"].items()):
        if len(position["shards"]) != position.get("shard_count"):
            return f"not every primary of [{name}] was started when the copy began"
        for number, shard in sorted(position["shards"].items()):
            top = shard["max_seq_no"]
            if shard.get("primary_term") is None:
                return f"[{name}][{number}] had no primary term"
            if shard["local_checkpoint"] != top or shard["global_checkpoint"] != top:
                return (
                    f"writes to [{name}][{number}] were in flight when the copy began (max_seq_no {top}, "
                    f"local checkpoint {shard['local_checkpoint']}, global checkpoint {shard['global_checkpoint']})"
                )
    return None


def source_changes(before: dict[str, Any], after: dict[str, Any]) -> str | None:
    """How the source's write position moved between two stamps, or None when it did not."""
    if sorted(before) != sorted(after):
        return f"the source's indices changed: {sorted(before)} -> {sorted(after)}"
    for name in sorted(before):
        old, new = before[name], after[name]
        if old["uuid"] != new["uuid"]:
            return f"[{name}] was deleted and created again (uuid {old['uuid']} -> {new['uuid']})"
        if sorted(old["shards"]) != sorted(new["shards"]):
            return f"the started primaries of [{name}] changed"
        for number in sorted(old["shards"]):
            was, now_ = old["shards"][number], new["shards"][number]
            if was.get("primary_term") != now_.get("primary_term"):
                return (
                    f"the primary of [{name}][{number}] was allocated again (primary term "
                    f"{was.get('primary_term')} -> {now_.get('primary_term')}: a restart or a failover)"
                )
            if was["max_seq_no"] != now_["max_seq_no"]:
                return f"[{name}][{number}] was written since (max_seq_no {was['max_seq_no']} -> {now_['max_seq_no']})"
    return None


def unwritten(dest: dict[str, Any]) -> str | None:
    """Why a destination stamp is not that of a destination never written to."""
    for name, position in sorted(dest.items()):
        for number, shard in sorted(position["shards"].items()):
            if shard["max_seq_no"] != -1:
                return f"the destination [{name}][{number}] had been written to before the copy"
    return None


def query_kinds(query: Any) -> Iterable[tuple[str, Any]]:
    """Every (kind, parameters) of a query tree, compound queries' clauses included."""
    if not isinstance(query, dict):
        return
    for kind, params in query.items():
        yield kind, params
        for clause_key in COMPOUND.get(kind, ()):
            clauses = params.get(clause_key) if isinstance(params, dict) else None
            for clause in clauses if isinstance(clauses, list) else [clauses]:
                yield from query_kinds(clause)


def moving_selection(query: Any) -> str | None:
    """Why `query` could select other documents of an unchanged source at another time, or None."""
    for kind, params in query_kinds(query or {"match_all": {}}):
        if kind in COMPOUND:
            continue
        if kind not in TERM_LEVEL:
            return f"its [{kind}] query is not term-level (what it matches may change without a write to the source)"
        if kind == "terms" and any(isinstance(v, dict) for v in (params or {}).values()):
            return "its [terms] query looks its terms up in another document"
        if kind == "range" and "now" in str(params).lower():
            return "its [range] query uses date math on now"
    return None


def decide(recorded: dict[str, Any] | None, current: dict[str, Any] | None, facts: RunFacts) -> Verdict:
    """Whether the stamps prove every covered destination document current, and why (or why not)."""
    if recorded is None:
        return Verdict(
            False,
            "no source stamp was recorded before the copy (the destination held documents, "
            "or the run followed a copy it had not started after one)",
        )
    for reason in (
        unwritten(recorded["dest"]),
        next(
            (f"the destination has a {k} pipeline [{p}]" for k, p in recorded["dest_pipelines"].items() if p),
            None,
        ),
        unsettled(recorded),
    ):
        if reason:
            return Verdict(False, reason)
    if current is None:
        return Verdict(False, "the source stamp could not be read again")
    changed = source_changes(recorded["source"], current["source"])
    if changed:
        return Verdict(False, changed)
    if {n: p["uuid"] for n, p in recorded["dest"].items()} != {
        n: p["uuid"] for n, p in current["dest"].items()
    }:
        return Verdict(False, "the destination was deleted and created again")
    moving = moving_selection(facts.query)
    if moving:
        return Verdict(False, f"the run's query: {moving}")
    again = [p["kind"] for p in facts.passes if p.get("lost") or p.get("kind") in ("copy", "re_embed")]
    if again:
        return Verdict(False, f"passes copied again or were lost ({', '.join(again)})")
    if facts.present != facts.expected:
        return Verdict(
            False,
            f"the destination holds {facts.present} documents of the scope, the source {facts.expected}",
        )
    if facts.unembedded:
        return Verdict(False, f"{facts.unembedded} documents lack their embedding")
    shards = sum(len(p["shards"]) for p in current["source"].values())
    return Verdict(
        True,
        f"the source is unchanged since before the copy ({shards} shards of {len(current['source'])} indices: "
        "same uuids, primary terms and max_seq_no) and this run's copy wrote every document of the scope "
        "into a destination never written to before",
    )
