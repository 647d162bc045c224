"""What every run is checked for, from what the cluster holds before and after it (not from what the
run says about itself):

- the source index is untouched: the same documents, versions and bodies;
- after a success, the alias points at exactly the index the run wrote (full: its `dest_index`;
  incremental: the alias's index, which does not move), and that index holds every document the
  run covers (full: the whole source; incremental: the documents whose timestamp lies in its data
  interval), each current (its body equals the source's now), embedded (with the embedding of that
  body, asked of the deployment for the documents the soak changed, then a sample of the rest) and
  without a failure record, and nothing of the run's scope that the source deleted (or moved out of
  it);
- after a failure, the alias did not move;
- after any run, nothing the alias serves lacks its embedding or carries a failure record, and an
  incremental run changed nothing outside its scope in the alias's index.

A run's scope in the alias's index is what the same query selects there (docs/RELIABILITY.md, "What
a run covers"): for an incremental run, the documents whose copy's timestamp lies in its interval,
besides those the source now places there. Incremental runs promise nothing about documents outside
their interval: rewrites kept in an older interval and deletions there reach the alias with the next
full run. What they leave behind is counted as a note (`stale_outside_scope`,
`deleted_still_published`), not as a violation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from elasticsearch import ApiError, Elasticsearch
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_fixed

from .source import Doc, Interval, snapshot, stamp_of

# Embeddings recomputed per run (`_infer` costs an inference each): the documents the soak changed
# first, then a sample of the rest, EMBEDDING_CHECKS at most.
EMBEDDING_CHECKS = 25
SHOWN = 5  # ids named per problem


@dataclass(frozen=True)
class Fields:
    input: str
    output: str
    failure: str
    deployment_id: str


@dataclass
class State:
    """What the cluster holds: the source's documents, the alias's indices, and the documents of
    the index it points at (when it points at exactly one)."""

    source: dict[str, Doc]
    alias: list[str]
    published: dict[str, Doc]


def observe(es: Elasticsearch, source_index: str, alias: str) -> State:
    found = es.options(ignore_status=404).indices.get_alias(name=alias)
    targets = sorted(found.body) if found.meta.status == 200 else []
    published = snapshot(es, targets[0]) if len(targets) == 1 else {}
    return State(snapshot(es, source_index), targets, published)


@dataclass
class Verdict:
    source_changed: int = 0
    lost: int = 0
    stale: int = 0
    unembedded: int = 0
    wrong_embedding: int = 0
    deleted_published: int = 0
    out_of_scope_changed: int = 0
    alias_violations: int = 0
    covered: int = 0
    notes: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    COUNTERS = (
        "source_changed",
        "lost",
        "stale",
        "unembedded",
        "wrong_embedding",
        "deleted_published",
        "out_of_scope_changed",
        "alias_violations",
    )

    @property
    def ok(self) -> bool:
        return not any(getattr(self, name) for name in self.COUNTERS)

    def count(self, counter: str, ids, what: str) -> None:
        ids = sorted(ids)
        if ids:
            setattr(self, counter, getattr(self, counter) + len(ids))
            shown = ", ".join(ids[:SHOWN]) + (", ..." if len(ids) > SHOWN else "")
            self.problems.append(f"{len(ids)} {what}: {shown}")

    def as_json(self) -> dict:
        return {
            **{name: getattr(self, name) for name in self.COUNTERS},
            "covered": self.covered,
            "notes": self.notes,
            "problems": self.problems,
        }


# The inference processor configured with input_output writes the model id at the document's root
# next to its output (Elasticsearch's InferenceResults.writeResultToField, no base path), and
# `is_truncated: true` there when the input was longer than the model reads.
MODEL_ID_FIELD = "model_id"
TRUNCATED_FIELD = "is_truncated"


def body(doc: Doc, fields: Fields) -> dict:
    """A published document's body without what the pipeline adds."""
    added = (fields.output, fields.failure, MODEL_ID_FIELD, TRUNCATED_FIELD)
    return {k: v for k, v in doc.source.items() if k not in added}


def in_scope(source: dict[str, Doc], window: Interval | None) -> set[str]:
    """The documents a run covers: every source document (full), or those of its interval."""
    if window is None:
        return set(source)
    return {i for i, d in source.items() if (s := stamp_of(d.source)) is not None and window.holds(s)}


def check(
    es: Elasticsearch,
    before: State,
    after: State,
    *,
    succeeded: bool,
    dest_index: str,
    window: Interval | None,
    fields: Fields,
    touched: set[str],
    rng: random.Random,
) -> Verdict:
    """`window`: the data interval of an incremental run, None for a full one; `touched`: the
    documents the soak changed before the run."""
    v = Verdict()
    changed = {i for i in before.source.keys() & after.source.keys() if before.source[i] != after.source[i]}
    v.count(
        "source_changed",
        changed | (before.source.keys() ^ after.source.keys()),
        "source documents changed by the run",
    )

    expected_alias = [dest_index] if succeeded and window is None else before.alias
    if succeeded and after.alias != expected_alias:
        v.alias_violations += 1
        v.problems.append(f"after a success the alias points at {after.alias}, not {expected_alias}")
    if not succeeded and after.alias != before.alias:
        v.alias_violations += 1
        v.problems.append(f"a failed run moved the alias from {before.alias} to {after.alias}")

    published = after.published
    v.count(
        "unembedded",
        {i for i, d in published.items() if not d.source.get(fields.output) or fields.failure in d.source},
        "published documents without embedding or with a failure record",
    )
    covered = in_scope(after.source, window)
    v.covered = len(covered)
    if window is not None:
        # The interval's documents in the alias's index that the source no longer places there
        # (deleted, or moved out): the run's to remove.
        v.notes["left_interval"] = len(in_scope(published, window) - covered)
        if before.published:
            outside = before.published.keys() - covered - in_scope(before.published, window)
            v.count(
                "out_of_scope_changed",
                {i for i in outside if published.get(i) != before.published[i]},
                "published documents outside the run's interval changed or removed",
            )
    if not succeeded:
        return v

    v.count("lost", covered - published.keys(), "covered documents missing from the alias's index")
    present = covered & published.keys()
    v.count(
        "stale",
        {i for i in present if body(published[i], fields) != after.source[i].source},
        "covered documents published with a body older than the source's",
    )
    if window is None:
        v.count(
            "deleted_published",
            published.keys() - after.source.keys(),
            "published documents the source deleted",
        )
    else:
        v.count(
            "deleted_published",
            in_scope(published, window) - covered,
            "published documents of the interval that the source deleted or moved out of it",
        )
        others = published.keys() - covered - in_scope(published, window)
        v.notes["stale_outside_scope"] = sum(
            1 for i in others & after.source.keys() if body(published[i], fields) != after.source[i].source
        )
        v.notes["deleted_still_published"] = len(others - after.source.keys())
    embedded = sorted(i for i in present if published[i].source.get(fields.output))
    changed_first = [i for i in embedded if i in touched] + rng.sample(embedded, len(embedded))
    sample = list(dict.fromkeys(changed_first))[:EMBEDDING_CHECKS]
    v.count(
        "wrong_embedding",
        wrong_embeddings(es, {i: after.source[i] for i in sample}, published, fields),
        "published embeddings that are not those of the current body",
    )
    return v


def wrong_embeddings(
    es: Elasticsearch, docs: dict[str, Doc], published: dict[str, Doc], fields: Fields
) -> set[str]:
    """The documents whose published embedding differs from what the deployment infers from the
    source's current text (`_infer`, in batches)."""
    ids = sorted(i for i, d in docs.items() if isinstance(d.source.get(fields.input), str))
    wrong = set()
    for start in range(0, len(ids), 50):
        batch = ids[start : start + 50]
        texts = [{"text_field": docs[i].source[fields.input]} for i in batch]
        answer = infer(es, fields.deployment_id, texts)
        for doc_id, result in zip(batch, answer["inference_results"], strict=True):
            if not same_embedding(result.get("predicted_value"), published[doc_id].source.get(fields.output)):
                wrong.add(doc_id)
    return wrong


def same_embedding(a, b, tolerance: float = 1e-3) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= tolerance for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))
    return False


def infer(es: Elasticsearch, deployment_id: str, docs: list[dict]) -> dict:
    """`_infer`, waiting (30 s at most) while the deployment answers 409 (being allocated again after
    a node restart) or 429 (its queue full)."""
    busy = retry_if_exception(lambda exc: isinstance(exc, ApiError) and exc.meta.status in (409, 429))
    for attempt in Retrying(retry=busy, wait=wait_fixed(0.5), stop=stop_after_delay(30), reraise=True):
        with attempt:
            return es.ml.infer_trained_model(model_id=deployment_id, docs=docs).body
    raise AssertionError("unreachable: Retrying re-raises")
