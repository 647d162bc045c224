"""One index: its settings, mappings, aliases and documents, and the document-level writes with
Elasticsearch's versioning rules.

Documents are stored as `Doc` objects that are replaced, never mutated, on every write, so a point in
time, a scroll or a scan can hold references to them without copying sources.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from es_sandbox import mappings as mp
from es_sandbox.dotted import nest_dotted
from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.indices import blocks
from es_sandbox.indices.shards import Shard, docs_per_shard, shard_of
from es_sandbox.indices.stats import EMPTY_SHARD_BYTES, IndexStats

STORE_SAMPLE = 50  # documents sampled to estimate an index's store size
STORE_RATIO = 0.6  # stored bytes per byte of source JSON (compression, doc values, terms)


@dataclass(slots=True, frozen=True)
class Doc:
    """One stored document version; a write replaces the Doc, so references stay a consistent view."""

    source: dict[str, Any]
    version: int
    seq_no: int
    primary_term: int = 1


@dataclass
class Index:
    name: str
    uuid: str
    creation_date: int
    flat_settings: dict[str, Any]
    mappings: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)
    docs: dict[str, Doc] = field(default_factory=dict)
    # Each primary shard's sequence numbers, term, commit and lease (es_sandbox.indices.shards).
    shards: list[Shard] = field(default_factory=list)
    mutations: int = 0  # bumped on every change: persistence flushes indices whose count moved
    closed: bool = False  # POST {index}/_close: kept with its data, refusing reads and writes
    # IndexMetadata's versions: `version` moves with every metadata change, the others with their part.
    versions: dict[str, int] = field(
        default_factory=lambda: {"version": 1, "mapping": 1, "settings": 1, "aliases": 1}
    )
    stats: IndexStats = field(default_factory=IndexStats, compare=False, repr=False)  # node memory

    def __post_init__(self) -> None:
        if not self.shards:
            self.shards = [Shard() for _ in range(self.number_of_shards)]

    def __len__(self) -> int:
        return len(self.docs)

    @property
    def next_seq_no(self) -> int:
        """The next sequence number of the index's busiest shard (all of them on one shard)."""
        return max(shard.next_seq_no for shard in self.shards)

    @property
    def deleted_docs(self) -> int:
        return sum(shard.deleted_docs for shard in self.shards)

    def shard(self, doc_id: str) -> Shard:
        """The primary shard a document with this id lives on."""
        return self.shards[shard_of(self, doc_id)]

    def reallocated(self) -> None:
        """Every primary allocated anew (a node restart, a close, an open): ES's IndexShard recovers
        from its store under a new primary term."""
        counts = docs_per_shard(self)
        for shard, docs in zip(self.shards, counts, strict=True):
            shard.reallocated(docs)
        self.mutations += 1

    @property
    def settings(self) -> dict[str, Any]:
        return nest_dotted(self.flat_settings)

    def setting(self, key: str, default: Any = None) -> Any:
        return self.flat_settings.get(f"index.{key}", default)

    @property
    def default_pipeline(self) -> str | None:
        return self.setting("default_pipeline")

    @property
    def final_pipeline(self) -> str | None:
        return self.setting("final_pipeline")

    @property
    def number_of_shards(self) -> int:
        return int(self.setting("number_of_shards", "1"))

    @property
    def number_of_replicas(self) -> int:
        return int(self.setting("number_of_replicas", "1"))

    @property
    def hidden(self) -> bool:
        return self.setting("hidden") == "true"

    @property
    def max_result_window(self) -> int:
        return int(self.setting("max_result_window", "10000"))

    @property
    def health(self) -> str:
        # One data node: replicas can never be assigned, as on a single-node cluster.
        return "yellow" if self.number_of_replicas > 0 else "green"

    def shards_header(self) -> dict[str, int]:
        """`_shards` of a write: the primary succeeds, replicas are unassigned."""
        return {"total": 1 + self.number_of_replicas, "successful": 1, "failed": 0}

    def version_conflict(self, doc_id: str, reason: str) -> EsError:
        return EsError(
            409,
            "version_conflict_engine_exception",
            f"[{doc_id}]: version conflict, {reason}",
            extra={"index_uuid": self.uuid, "shard": "0", "index": self.name},
        )

    @property
    def created_release(self) -> mp.Version:
        """The release that created the index (mapping defaults and rules depend on it)."""
        return mp.release_of(self.setting("version.created"))

    def apply_mapping(self, source: dict[str, Any], doc_id: str | None) -> None:
        """Check a document against the mapping and add its new fields (dynamic mapping)."""
        updated = mp.map_document(self.mappings, source, doc_id, version=self.created_release)
        if updated is not None:
            limit = int(self.setting("mapping.total_fields.limit", "1000"))
            total = mp.count_fields(updated)
            if total > limit:
                added = total - mp.count_fields(self.mappings)
                raise illegal_argument(
                    f"Limit of total fields [{limit}] has been exceeded while adding new fields [{added}]"
                )
            self.mappings = updated
            self.changed("mapping")

    def put(
        self,
        doc_id: str,
        source: dict[str, Any],
        *,
        op_type: str = "index",
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        version: int | None = None,
        version_type: str | None = None,
    ) -> tuple[Doc, str]:
        """Index or create a document; returns the stored Doc and `created` or `updated`."""
        blocks.check(self, "write")
        started = time.monotonic_ns()
        current = self.docs.get(doc_id)
        try:
            if op_type == "create" and current is not None:
                raise self.version_conflict(
                    doc_id, f"document already exists (current version [{current.version}])"
                )
            self.check_seq_no(doc_id, current, if_seq_no, if_primary_term)
            new_version = (current.version + 1) if current else 1
            if version is not None:
                new_version = self._external_version(doc_id, current, version, version_type)
        except EsError as err:
            if err.type == "version_conflict_engine_exception":
                self.stats.index_failed_on_version(shard_of(self, doc_id))
            raise
        self.apply_mapping(source, doc_id)
        number = shard_of(self, doc_id)
        shard = self.shards[number]
        doc = Doc(source, new_version, shard.take_seq_no(), shard.primary_term)
        self.docs.pop(doc_id, None)  # re-inserted at the end: _doc order follows the latest write
        self.docs[doc_id] = doc
        if current is not None:
            shard.deleted_docs += 1
        self.mutations += 1
        self.stats.indexed(time.monotonic_ns() - started, number)
        return doc, "updated" if current else "created"

    def _external_version(
        self, doc_id: str, current: Doc | None, version: int, version_type: str | None
    ) -> int:
        if version_type not in ("external", "external_gte"):
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: internal versioning can not be used for optimistic concurrency control. "
                "Please use `if_seq_no` and `if_primary_term` instead;",
            )
        if current is not None:
            if version_type == "external" and version <= current.version:
                raise self.version_conflict(
                    doc_id,
                    f"current version [{current.version}] is higher or equal to the one provided [{version}]",
                )
            if version < current.version:
                raise self.version_conflict(
                    doc_id, f"current version [{current.version}] is higher than the one provided [{version}]"
                )
        return version

    def delete(
        self, doc_id: str, *, if_seq_no: int | None = None, if_primary_term: int | None = None
    ) -> tuple[int, int, bool]:
        """Returns (version, seq_no, found)."""
        blocks.check(self, "write", deleting=True)
        started = time.monotonic_ns()
        current = self.docs.get(doc_id)
        self.check_seq_no(doc_id, current, if_seq_no, if_primary_term)
        number = shard_of(self, doc_id)
        shard = self.shards[number]
        seq_no = shard.take_seq_no()  # a delete of a missing document reaches the engine too
        self.mutations += 1
        if current is not None:
            del self.docs[doc_id]
            shard.deleted_docs += 1
        self.stats.deleted(time.monotonic_ns() - started, number)
        if current is None:
            return 1, seq_no, False
        return current.version + 1, seq_no, True

    def get_document(self, doc_id: str) -> Doc | None:
        """A realtime get (GET, HEAD, `_source`, `_mget`): the document, counted in the get statistics."""
        blocks.check(self, "read")
        started = time.monotonic_ns()
        doc = self.docs.get(doc_id)
        self.stats.got(doc is not None, time.monotonic_ns() - started, shard_of(self, doc_id))
        return doc

    def _sampled_source_sizes(self) -> list[int]:
        """JSON sizes of the first stored sources (estimates stay cheap on big indices)."""
        sizes = []
        for i, doc in enumerate(self.docs.values()):
            if i >= STORE_SAMPLE:
                break
            sizes.append(len(json.dumps(doc.source)))
        return sizes

    def average_source_bytes(self) -> int:
        sizes = self._sampled_source_sizes()
        return sum(sizes) // len(sizes) if sizes else 0

    def store_size_in_bytes(self) -> int:
        """The store an index of these documents takes, estimated from a sample of their sources."""
        sizes = self._sampled_source_sizes()
        if not sizes:
            return EMPTY_SHARD_BYTES * self.number_of_shards
        return int(sum(sizes) / len(sizes) * len(self.docs) * STORE_RATIO) + EMPTY_SHARD_BYTES

    def check_seq_no(
        self, doc_id: str, current: Doc | None, if_seq_no: int | None, if_primary_term: int | None
    ) -> None:
        if if_seq_no is None and if_primary_term is None:
            return
        if current is None:
            raise self.version_conflict(
                doc_id,
                f"required seqNo [{if_seq_no}], primary term [{if_primary_term}]. but no document was found",
            )
        if current.seq_no != if_seq_no or current.primary_term != if_primary_term:
            raise self.version_conflict(
                doc_id,
                f"required seqNo [{if_seq_no}], primary term [{if_primary_term}]. current document has seqNo "
                f"[{current.seq_no}] and primary term [{current.primary_term}]",
            )

    def changed(self, part: str) -> None:
        """A change of the index's mapping, settings or aliases (IndexMetadata versions move)."""
        self.versions[part] += 1
        self.versions["version"] += 1
        self.mutations += 1

    def describe(self) -> dict[str, Any]:
        """GET /{index} body for this index."""
        settings = dict(self.flat_settings)
        return {
            "aliases": self.aliases_view(),
            "mappings": self.mappings,
            "settings": nest_dotted(settings),
        }

    def aliases_view(self) -> dict[str, Any]:
        return {name: dict(props) for name, props in sorted(self.aliases.items())}

    def meta(self) -> dict[str, Any]:
        """Persisted metadata (documents are streamed separately)."""
        return {
            "name": self.name,
            "uuid": self.uuid,
            "creation_date": self.creation_date,
            "settings": self.flat_settings,
            "mappings": self.mappings,
            "aliases": self.aliases,
            "shards": [shard.to_json() for shard in self.shards],
            "versions": self.versions,
            "closed": self.closed,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Index:
        return cls(
            name=meta["name"],
            uuid=meta["uuid"],
            creation_date=meta["creation_date"],
            flat_settings=meta["settings"],
            mappings=meta.get("mappings", {}),
            aliases=meta.get("aliases", {}),
            shards=[Shard.from_json(s) for s in meta["shards"]] if "shards" in meta else _shards_of(meta),
            versions=meta.get("versions") or {"version": 1, "mapping": 1, "settings": 1, "aliases": 1},
            closed=meta.get("closed", False),
        )


def _shards_of(meta: dict[str, Any]) -> list[Shard]:
    """The shards of an index persisted before they were (one index-wide sequence, every shard
    continuing from it: no number is taken twice)."""
    count = int(meta["settings"].get("index.number_of_shards", "1"))
    shards = [Shard(next_seq_no=meta.get("next_seq_no", 0)) for _ in range(count)]
    shards[0].deleted_docs = meta.get("deleted_docs", 0)
    return shards
