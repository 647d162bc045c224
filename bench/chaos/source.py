"""The source index over the soak's nights: each run's logical date and data interval, the changes
made to the source before it (new documents, rewrites, deletions), and snapshots of an index.

Night n runs with logical date BASE + n days at 03:00 UTC; under the DAG's nightly schedule
(CronDataIntervalTimetable "0 2 * * *") dag.test() gives it the data interval
[BASE + (n-1) days 02:00, BASE + n days 02:00). BASE lies after every date of the sample corpus, so
an interval holds only what the soak put there.

What a change means for a run (README, "Nightly runs, runs on demand, and backfills"): a full run
covers every document of the source, so a deleted document must be gone from its new index; an
incremental run covers the documents whose timestamp lies in its interval, and the README promises
nothing about deletions there (they reach the alias with the next full run). A rewrite either moves
the document's timestamp into the coming interval (an `updated_at` field: the incremental run covers
it) or keeps it (only the next full run covers it).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from elasticsearch import Elasticsearch, helpers

BASE = datetime(2026, 12, 1, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parents[2] / "include" / "sample_corpus.jsonl"
TIMESTAMP_FIELDS = ("@timestamp", "published")  # the sample corpus keeps both equal


@dataclass(frozen=True)
class Interval:
    """[start, end), as the DAG's data interval."""

    start: datetime
    end: datetime

    def holds(self, stamp: datetime) -> bool:
        return self.start <= stamp < self.end

    def __str__(self) -> str:
        return f"[{self.start:%Y-%m-%d %H:%M}, {self.end:%Y-%m-%d %H:%M})"


def logical_date(night: int) -> datetime:
    return BASE + timedelta(days=night, hours=3)


def interval(night: int) -> Interval:
    return Interval(BASE + timedelta(days=night - 1, hours=2), BASE + timedelta(days=night, hours=2))


def stamp_of(source: dict) -> datetime | None:
    value = source.get(TIMESTAMP_FIELDS[0])
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def iso(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Doc:
    version: int
    source: dict


def snapshot(es: Elasticsearch, index: str) -> dict[str, Doc]:
    """Every document of `index` with its version and whole `_source`, vectors included (9.2+ leaves
    them out unless asked)."""
    es.indices.refresh(index=index)
    body = {"query": {"match_all": {}}, "version": True, "_source": {"exclude_vectors": False}}
    return {
        hit["_id"]: Doc(hit.get("_version", 0), hit["_source"])
        for hit in helpers.scan(es, index=index, query=body, size=500)
    }


@dataclass
class Changes:
    """What changed in the source before one run (document ids)."""

    new: list[str] = field(default_factory=list)
    moved_in: list[str] = field(default_factory=list)  # rewritten, timestamp moved into the interval
    rewritten: list[str] = field(default_factory=list)  # rewritten, timestamp kept
    deleted: list[str] = field(default_factory=list)

    @property
    def touched(self) -> set[str]:
        """The documents whose content changed (for the embedding check)."""
        return {*self.new, *self.moved_in, *self.rewritten}

    def __str__(self) -> str:
        parts = [
            f"+{len(self.new)} new",
            f"{len(self.moved_in)} rewritten into the interval",
            f"{len(self.rewritten)} rewritten in place",
            f"{len(self.deleted)} deleted",
        ]
        return ", ".join(parts)

    def as_json(self) -> dict:
        return {k: len(v) for k, v in vars(self).items()}


class Source:
    """The soak's source index: draws (with the random generator it is given) and applies the
    changes before each run."""

    def __init__(self, es: Elasticsearch, index: str) -> None:
        self.es = es
        self.index = index
        self.texts = [json.loads(line)["content"] for line in CORPUS.read_text().splitlines() if line.strip()]

    def _text(self, rng: random.Random, tag: str) -> str:
        """A corpus text with a token of its own, so that every write changes the embedding too."""
        return f"{rng.choice(self.texts)} Revision {tag}."

    def change(
        self, night: int, docs: int, rng: random.Random, *, scale: float = 1.0, tag: str = ""
    ) -> Changes:
        """Draw and apply the changes before night `night`'s run, about `scale` x docs/10 writes in
        all: new documents in its interval, rewrites into it and in place, deletions (on half the
        nights)."""
        unit = max(1, round(docs * scale / 40))
        rewrites = rng.randint(unit, 2 * unit)
        return self.apply(
            night,
            rng,
            new=rng.randint(unit, 4 * unit),
            moved_in=rewrites,
            rewritten=rewrites,
            deleted=rng.choice([0, rewrites]),  # a night without deletions now and then
            tag=tag,
        )

    def apply(
        self,
        night: int,
        rng: random.Random,
        *,
        new: int = 0,
        moved_in: int = 0,
        rewritten: int = 0,
        deleted: int = 0,
        tag: str = "",
    ) -> Changes:
        """Apply these many changes before night `night`'s run, on documents drawn at random: new
        documents inside its interval (now and then one on a bound: the start belongs to it, the end
        to the next), rewrites with the timestamp moved into the interval, rewrites in place, and
        deletions. New documents are named n<night><tag>-<number>."""
        window = interval(night)
        ids = sorted(snapshot(self.es, self.index))
        changes = Changes()
        ops: list[dict] = []
        span = (window.end - window.start).total_seconds()
        for number in range(1, new + 1):
            doc_id = f"n{night:03d}{tag}-{number:03d}"
            stamp = window.start + timedelta(seconds=rng.uniform(0, span - 1))
            roll = rng.random()
            if roll < 0.08:
                stamp = window.start
            elif roll < 0.12:
                stamp = window.end
            ops.append({"_op_type": "index", "_id": doc_id, **self._doc(rng, doc_id, stamp)})
            changes.new.append(doc_id)
        picks = rng.sample(ids, min(len(ids), moved_in + rewritten + deleted))
        for doc_id in picks[:moved_in]:
            stamp = window.start + timedelta(seconds=rng.uniform(0, span - 1))
            fields = {
                "content": self._text(rng, f"{night}{tag}m{doc_id}"),
                **{f: iso(stamp) for f in TIMESTAMP_FIELDS},
            }
            ops.append({"_op_type": "update", "_id": doc_id, "doc": fields})
            changes.moved_in.append(doc_id)
        for doc_id in picks[moved_in : moved_in + rewritten]:
            ops.append(
                {
                    "_op_type": "update",
                    "_id": doc_id,
                    "doc": {"content": self._text(rng, f"{night}{tag}r{doc_id}")},
                }
            )
            changes.rewritten.append(doc_id)
        for doc_id in picks[moved_in + rewritten :]:
            ops.append({"_op_type": "delete", "_id": doc_id})
            changes.deleted.append(doc_id)
        if ops:
            helpers.bulk(self.es, ops, index=self.index, refresh=True)
        return changes

    def _doc(self, rng: random.Random, doc_id: str, stamp: datetime) -> dict:
        return {
            "title": f"Soak note {doc_id}",
            "topic": "soak",
            **{f: iso(stamp) for f in TIMESTAMP_FIELDS},
            "content": self._text(rng, doc_id),
        }
