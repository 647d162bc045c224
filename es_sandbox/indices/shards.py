"""An index's primary shards: where a document lives (IndexRouting), and each shard's sequence
numbers, primary term, Lucene commit and peer-recovery retention lease, as IndexShard reports them
in shard-level statistics (ShardStats: SeqNoStats, CommitStats, RetentionLeaseStats).

Where Elasticsearch moves them:
- sequence numbers [InternalEngine]: every operation a primary executes (an index, an overwrite, a
  delete, found or not) takes the shard's next sequence number; a noop update takes none. The sandbox
  executes each write at once on the one copy it has, so the local and global checkpoints equal the
  maximum sequence number as soon as the write answers (a new shard: -1).
- primary term [IndexMetadataUpdater.shardInitialized]: it grows by one every time a primary is
  initialized: when the index is created (1), and again after a node restart, a close and an open,
  since each allocates the primary anew. A write carries its shard's term (`_primary_term`).
- commit [CommitStats]: the shard's last Lucene commit, written at creation (generation 3, empty),
  by a flush with operations not yet committed, and by the recovery from the translog after a
  restart; its user data records the sequence numbers it holds.
- retention lease [ReplicationTracker]: the primary's own `peer_recovery/<node id>` lease retains the
  operations above the global checkpoint; it is renewed (version + 1, under the current term) when
  the sync interval (30 s) has passed and the checkpoint moved.

Where the sandbox is simpler, it says so here: documents are placed by their id alone (a custom
`routing` does not place them; the sandbox stores one document per id), with the legacy routing
function (murmur3 of the id modulo the routing shards, divided by the routing factor).
"""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from es_sandbox.indices.names import random_id

if TYPE_CHECKING:
    from es_sandbox.indices.index import Index

MAX_ROUTING_SHARDS_LOG2 = 10  # routing shards default to numShards * 2^x up to 1024
NEW_SHARD_COMMIT_GENERATION = 3  # an empty store's commit, its translog's, then recovery's flush
LEASE_SYNC_INTERVAL_MS = 30_000  # index.soft_deletes.retention_lease.sync_interval
PEER_RECOVERY_LEASE_SOURCE = "peer recovery"


def routing_num_shards(index: Index) -> int:
    """MetadataCreateIndexService.calculateNumRoutingShards, unless the index sets its own."""
    configured = index.setting("number_of_routing_shards")
    if configured is not None:
        return int(configured)
    shards = index.number_of_shards
    splits = max(1, MAX_ROUTING_SHARDS_LOG2 - (shards - 1).bit_length())
    return shards << splits


def murmur3_x86_32(data: bytes) -> int:
    """Lucene's StringHelper.murmurhash3_x86_32 with seed 0, as a signed 32-bit int."""
    c1, c2, mask = 0xCC9E2D51, 0x1B873593, 0xFFFFFFFF
    h = 0
    whole = len(data) - len(data) % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        h ^= (k * c2) & mask
        h = ((h << 13) | (h >> 19)) & mask
        h = (h * 5 + 0xE6546B64) & mask
    k = int.from_bytes(data[whole:], "little") if len(data) % 4 else 0
    if len(data) % 4:
        k = (k * c1) & mask
        k = ((k << 15) | (k >> 17)) & mask
        h ^= (k * c2) & mask
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & mask
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & mask
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def shard_of(index: Index, doc_id: str) -> int:
    """IndexRouting.Unpartitioned: murmur3 of the id's UTF-16 code units (Murmur3HashFunction.hash),
    modulo the routing shards, divided by the routing factor."""
    if index.number_of_shards == 1:
        return 0
    routing_shards = routing_num_shards(index)
    hashed = murmur3_x86_32(doc_id.encode("utf-16-le", "surrogatepass"))
    return (hashed % routing_shards) // (routing_shards // index.number_of_shards)


def docs_per_shard(index: Index) -> list[int]:
    """How many documents each shard holds."""
    counts = [0] * index.number_of_shards
    if index.number_of_shards == 1:
        counts[0] = len(index)
        return counts
    for doc_id in index.docs:
        counts[shard_of(index, doc_id)] += 1
    return counts


def store_per_shard(index: Index, docs: list[int], empty_shard_bytes: int) -> list[int]:
    """The index's store split over its shards: an empty shard's files each, the rest by documents,
    adding up to the index's."""
    total = index.store_size_in_bytes()
    base = min(empty_shard_bytes, total // len(docs))
    content = total - base * len(docs)
    count = sum(docs)
    shares = [content * n // count if count else 0 for n in docs]
    shares[-1] += content - sum(shares)
    return [base + share for share in shares]


def _uuid() -> str:
    """UUIDs.randomBase64UUID: 16 random bytes, URL-safe base64 without padding (22 characters)."""
    return random_id(16)[:22]


def _commit_id() -> str:
    """A Lucene commit id (SegmentInfos.getId, 16 random bytes) as CommitStats prints it: base64."""
    return base64.b64encode(os.urandom(16)).decode()


@dataclass
class Commit:
    """A shard's last Lucene commit (what CommitStats reads)."""

    generation: int = NEW_SHARD_COMMIT_GENERATION
    id: str = field(default_factory=_commit_id)
    max_seq_no: int = -1
    local_checkpoint: int = -1
    num_docs: int = 0


@dataclass
class Lease:
    """The primary's peer-recovery retention lease collection (RetentionLeases with its one lease)."""

    primary_term: int = 1
    version: int = 1
    retaining_seq_no: int = 0
    timestamp: int = field(default_factory=lambda: int(time.time() * 1000))


@dataclass
class Shard:
    """One primary shard's persisted state: its next sequence number, primary term, history and
    translog uuids, last commit, retention lease, and the deleted documents it holds."""

    next_seq_no: int = 0
    primary_term: int = 1
    history_uuid: str = field(default_factory=_uuid)
    translog_uuid: str = field(default_factory=_uuid)
    deleted_docs: int = 0
    commit: Commit = field(default_factory=Commit)
    lease: Lease = field(default_factory=Lease)

    @property
    def max_seq_no(self) -> int:
        return self.next_seq_no - 1

    def take_seq_no(self) -> int:
        seq_no = self.next_seq_no
        self.next_seq_no += 1
        return seq_no

    def commit_if_changed(self, num_docs: int) -> bool:
        """A flush: a new commit when operations were executed since the last one."""
        if self.commit.max_seq_no == self.max_seq_no:
            return False
        self.commit = Commit(
            generation=self.commit.generation + 1,
            max_seq_no=self.max_seq_no,
            local_checkpoint=self.max_seq_no,
            num_docs=num_docs,
        )
        return True

    def reallocated(self, num_docs: int) -> None:
        """The primary allocated anew (node restart, close, open): a new term; recovering from the
        store replays the translog and commits it."""
        self.primary_term += 1
        self.commit_if_changed(num_docs)

    def current_lease(self, now_ms: int) -> Lease:
        """The lease as the primary renews it: at most once a sync interval, when the global
        checkpoint moved past what it retains."""
        wanted = self.max_seq_no + 1
        if self.lease.retaining_seq_no != wanted and now_ms - self.lease.timestamp >= LEASE_SYNC_INTERVAL_MS:
            self.lease = Lease(self.primary_term, self.lease.version + 1, wanted, now_ms)
        return self.lease

    def to_json(self) -> dict[str, Any]:
        return {
            "next_seq_no": self.next_seq_no,
            "primary_term": self.primary_term,
            "history_uuid": self.history_uuid,
            "translog_uuid": self.translog_uuid,
            "deleted_docs": self.deleted_docs,
            "commit": vars(self.commit),
            "lease": vars(self.lease),
        }

    @classmethod
    def from_json(cls, state: dict[str, Any]) -> Shard:
        return cls(
            next_seq_no=state["next_seq_no"],
            primary_term=state["primary_term"],
            history_uuid=state["history_uuid"],
            translog_uuid=state["translog_uuid"],
            deleted_docs=state.get("deleted_docs", 0),
            commit=Commit(**state["commit"]),
            lease=Lease(**state["lease"]),
        )
