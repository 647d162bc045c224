"""Index statistics: the counters each index keeps as documents are written, read, refreshed and
searched, moved where Elasticsearch moves them, and their rendering as CommonStats (index stats,
`_all`, and node stats' `indices` section).

Where the counters move (Elasticsearch's listeners in brackets):
- indexing [InternalIndexingStats]: every stored document counts in `index_total` and its time; a
  version conflict in the engine counts in `index_failed` and `index_failed_due_to_version_conflict`
  (a mapping error fails before the engine and counts nowhere); every delete that reaches the engine,
  found or not, counts in `delete_total`; an update that changes nothing counts in `noop_update_total`;
  `write_load` is indexing time over the time the shard has been open, `recent_write_load` the
  exponentially weighted moving rate of it (half-life 5 minutes), `peak_write_load` its highest reading
- get [ShardGetService]: GET / HEAD of a document, `_source`, each `_mget` item and the get inside
  every update, as exists or missing
- bulk [TransportShardBulkAction]: one operation per bulk (index API writes included) and index
  written, with the size of its items' sources
- refresh [IndexShard]: `_refresh`, `refresh=true` writes (both external refreshes); flush: `_flush`
- search [ShardSearchStats]: recorded by the search subsystem through record_query / record_fetch /
  record_scroll; `open_contexts` counts the scrolls and points in time open on the index
- docs, store, translog, dense/sparse vector counts are read from the index itself.
The sandbox has no Lucene segments, caches, merges or recoveries: those sections are zeros, as on a
node where none happened. Counters live in node memory: a node restart starts them again.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from es_sandbox.indices.shards import docs_per_shard, store_per_shard
from es_sandbox.ml.units import byte_size_str, time_value_str

if TYPE_CHECKING:
    from es_sandbox.indices.index import Index

# CommonStatsFlags.Flag rest names, in CommonStats.toXContent order of the sections they render.
METRICS = (
    "docs",
    "shard_stats",
    "store",
    "indexing",
    "get",
    "search",
    "merge",
    "refresh",
    "flush",
    "warmer",
    "query_cache",
    "fielddata",
    "completion",
    "segments",
    "translog",
    "request_cache",
    "recovery",
    "bulk",
    "dense_vector",
    "sparse_vector",
    "mappings",  # a node-level section: accepted, rendered by node stats only
)
RECENT_WRITE_LOAD_HALF_LIFE_NS = 5 * 60 * 1_000_000_000
EMPTY_SHARD_BYTES = 249  # the store of an empty Lucene shard
EMPTY_TRANSLOG_BYTES = 55  # a translog generation with no operations
MERGE_AUTO_THROTTLE_BYTES = 20 * 1024 * 1024  # the merge scheduler's initial IO rate per shard


class MovingRate:
    """An exponentially weighted moving rate of increments over time (ExponentiallyWeightedMovingRate),
    with the formulas of its design note: R(t1) = x1 / E(t1 - t0); R(tj) = R + (xj - E(tj - tj-1) R) /
    E(tj - t0); read at t: E(tl - t0) e^(-l (t - tl)) R / E(t - t0), with E(t) = (1 - e^(-l t)) / l."""

    def __init__(self, half_life: float, start: float) -> None:
        self.decay = math.log(2.0) / half_life
        self.start = start
        self.rate = 0.0
        self.last: float | None = None

    def _e(self, elapsed: float) -> float:
        x = self.decay * elapsed
        if x >= 1e-10:
            return -math.expm1(-x) / self.decay
        return elapsed * (1.0 - 0.5 * x)

    def add(self, increment: float, now: float) -> None:
        if self.last is None:
            now = max(now, self.start + 1)
            self.rate = increment / self._e(now - self.start)
        else:
            now = max(now, self.last)
            self.rate += (increment - self._e(now - self.last) * self.rate) / self._e(now - self.start)
        self.last = now

    def at(self, now: float) -> float:
        if self.last is None:
            return 0.0
        if now <= self.last:
            return self.rate
        decayed = math.exp(-self.decay * (now - self.last))
        return self._e(self.last - self.start) * decayed * self.rate / self._e(now - self.start)


@dataclass
class SearchCounters:
    query_total: int = 0
    query_ns: int = 0
    query_failure: int = 0
    fetch_total: int = 0
    fetch_ns: int = 0
    fetch_failure: int = 0
    scroll_total: int = 0
    scroll_ns: int = 0

    def add(self, other: SearchCounters) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class DocOps:
    """The counters of the operations on documents, which land on the shard of the document."""

    index_total: int = 0
    index_ns: int = 0
    index_failed: int = 0
    index_failed_version_conflict: int = 0
    delete_total: int = 0
    delete_ns: int = 0
    noop_updates: int = 0
    get_exists: int = 0
    get_exists_ns: int = 0
    get_missing: int = 0
    get_missing_ns: int = 0
    translog_operations: int = 0


DOC_OPS = tuple(DocOps.__dataclass_fields__)


@dataclass
class IndexStats:
    """One index's counters since its shards opened (node memory). The document operations are kept
    per shard (`shards`) as well; the rest is broadcast to every shard of the index (a refresh, a
    flush, a search reach each one once)."""

    opened_ns: int = field(default_factory=time.monotonic_ns)
    index_total: int = 0
    index_ns: int = 0
    index_failed: int = 0
    index_failed_version_conflict: int = 0
    delete_total: int = 0
    delete_ns: int = 0
    noop_updates: int = 0
    get_exists: int = 0
    get_exists_ns: int = 0
    get_missing: int = 0
    get_missing_ns: int = 0
    bulk_operations: int = 0
    bulk_ns: int = 0
    bulk_bytes: int = 0
    refreshes: int = 0
    refresh_ns: int = 0
    flushes: int = 0
    flush_ns: int = 0
    translog_operations: int = 0
    translog_since_ns: int = field(default_factory=time.monotonic_ns)
    search: SearchCounters = field(default_factory=SearchCounters)
    groups: dict[str, SearchCounters] = field(default_factory=dict)
    peak_write_load: float = 0.0
    last_search_ns: int = field(default_factory=time.monotonic_ns)  # IndexShard's lastSearcherAccess
    shards: dict[int, DocOps] = field(default_factory=dict)
    recent: MovingRate = field(init=False)

    def __post_init__(self) -> None:
        self.recent = MovingRate(RECENT_WRITE_LOAD_HALF_LIFE_NS, self.opened_ns)

    # --- recording ---------------------------------------------------------------------------------

    def _on(self, shard: int) -> DocOps:
        ops = self.shards.get(shard)
        if ops is None:
            ops = self.shards[shard] = DocOps()
        return ops

    def indexed(self, took_ns: int, shard: int = 0) -> None:
        self.index_total += 1
        self.index_ns += took_ns
        self.recent.add(took_ns, time.monotonic_ns())
        self.translog_operations += 1
        ops = self._on(shard)
        ops.index_total += 1
        ops.index_ns += took_ns
        ops.translog_operations += 1

    def index_failed_on_version(self, shard: int = 0) -> None:
        self.index_failed += 1
        self.index_failed_version_conflict += 1
        ops = self._on(shard)
        ops.index_failed += 1
        ops.index_failed_version_conflict += 1

    def deleted(self, took_ns: int, shard: int = 0) -> None:
        self.delete_total += 1
        self.delete_ns += took_ns
        self.translog_operations += 1
        ops = self._on(shard)
        ops.delete_total += 1
        ops.delete_ns += took_ns
        ops.translog_operations += 1

    def noop_update(self, shard: int = 0) -> None:
        self.noop_updates += 1
        self._on(shard).noop_updates += 1

    def got(self, exists: bool, took_ns: int, shard: int = 0) -> None:
        ops = self._on(shard)
        if exists:
            self.get_exists += 1
            self.get_exists_ns += took_ns
            ops.get_exists += 1
            ops.get_exists_ns += took_ns
        else:
            self.get_missing += 1
            self.get_missing_ns += took_ns
            ops.get_missing += 1
            ops.get_missing_ns += took_ns

    def bulk(self, took_ns: int, size_bytes: int) -> None:
        self.bulk_operations += 1
        self.bulk_ns += took_ns
        self.bulk_bytes += size_bytes

    def refreshed(self, took_ns: int) -> None:
        self.refreshes += 1
        self.refresh_ns += took_ns

    def flushed(self, took_ns: int) -> None:
        self.flushes += 1
        self.flush_ns += took_ns
        self.translog_operations = 0
        for ops in self.shards.values():
            ops.translog_operations = 0
        self.translog_since_ns = time.monotonic_ns()

    def record_query(self, took_ns: int, groups: list[str] | None = None, *, failed: bool = False) -> None:
        self.last_search_ns = time.monotonic_ns()
        for counters in self._search_counters(groups):
            if failed:
                counters.query_failure += 1
            else:
                counters.query_total += 1
                counters.query_ns += took_ns

    def record_fetch(self, took_ns: int, groups: list[str] | None = None, *, failed: bool = False) -> None:
        for counters in self._search_counters(groups):
            if failed:
                counters.fetch_failure += 1
            else:
                counters.fetch_total += 1
                counters.fetch_ns += took_ns

    def record_scroll(self, lifetime_ns: int, groups: list[str] | None = None) -> None:
        """A scroll context freed (cleared or expired), with how long it was open."""
        for counters in self._search_counters(groups):
            counters.scroll_total += 1
            counters.scroll_ns += lifetime_ns

    def _search_counters(self, groups: list[str] | None) -> list[SearchCounters]:
        return [self.search, *(self.groups.setdefault(g, SearchCounters()) for g in groups or ())]

    # --- reading -----------------------------------------------------------------------------------

    def on_shard(self, shard: int) -> IndexStats:
        """These counters as one shard of a multi-shard index saw them: its own document operations,
        every broadcast one; its write loads the index's in the share of indexing time it took."""
        view = copy.copy(self)
        ops = self.shards.get(shard) or DocOps()
        for name in DOC_OPS:
            setattr(view, name, getattr(ops, name))
        share = ops.index_ns / self.index_ns if self.index_ns else 0.0
        view.recent = copy.copy(self.recent)
        view.recent.rate *= share
        view.peak_write_load = self.peak_write_load * share
        return view

    def write_loads(self) -> tuple[float, float, float]:
        now = time.monotonic_ns()
        uptime = max(1, now - self.opened_ns)
        recent = self.recent.at(now)
        self.peak_write_load = max(self.peak_write_load, recent)
        return self.index_ns / uptime, recent, self.peak_write_load


# --- rendering (CommonStats.toXContent) ------------------------------------------------------------


@dataclass
class View:
    """What one request asks to see: the metric sections, human-readable values, search groups."""

    metrics: set[str]
    human: bool = False
    groups: list[str] | None = None
    open_contexts: Callable[[Index], int] = lambda index: 0


class Builder:
    def __init__(self, human: bool) -> None:
        self.human = human

    def time(self, out: dict[str, Any], name: str, nanos: int, millis_name: str | None = None) -> None:
        millis = nanos // 1_000_000
        if self.human:
            out[name] = "0s" if millis == 0 else time_value_str(millis / 1000)  # TimeValue prints 0 as 0s
        out[millis_name or f"{name}_in_millis"] = millis

    def size(self, out: dict[str, Any], name: str, size: int, bytes_name: str | None = None) -> None:
        if self.human:
            out[name] = byte_size_str(size)
        out[bytes_name or f"{name}_in_bytes"] = size


def _vector_counts(index: Index) -> tuple[int, int]:
    """Values indexed in dense_vector and sparse_vector fields (DenseVectorStats, SparseVectorStats)."""
    dense, sparse = [], []

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            kind = spec.get("type")
            if kind == "dense_vector" and spec.get("index", True) is not False:
                dense.append(path.split("."))
            elif kind == "sparse_vector":
                sparse.append(path.split("."))
            walk(spec.get("properties", {}), f"{path}.")

    walk(index.mappings.get("properties", {}), "")
    if not dense and not sparse:
        return 0, 0

    def present(source: dict[str, Any], parts: list[str]) -> bool:
        node: Any = source
        for part in parts:
            if not isinstance(node, dict) or part not in node:
                flat = ".".join(parts[parts.index(part) :])
                return isinstance(node, dict) and node.get(flat) is not None
            node = node[part]
        return node is not None

    dense_count = sparse_count = 0
    for doc in index.docs.values():
        dense_count += sum(present(doc.source, p) for p in dense)
        sparse_count += sum(present(doc.source, p) for p in sparse)
    return dense_count, sparse_count


def _search_section(counters: SearchCounters, b: Builder) -> dict[str, Any]:
    out: dict[str, Any] = {"query_total": counters.query_total}
    b.time(out, "query_time", counters.query_ns)
    out["query_current"] = 0
    out["query_failure"] = counters.query_failure
    out["fetch_total"] = counters.fetch_total
    b.time(out, "fetch_time", counters.fetch_ns)
    out["fetch_current"] = 0
    out["fetch_failure"] = counters.fetch_failure
    out["scroll_total"] = counters.scroll_total
    b.time(out, "scroll_time", counters.scroll_ns)
    out["scroll_current"] = 0
    out["suggest_total"] = 0
    b.time(out, "suggest_time", 0)
    out["suggest_current"] = 0
    return out


@dataclass
class Part:
    """What one CommonStats adds up: an index's primaries, or one primary shard of it."""

    index: Index
    stats: IndexStats
    docs: int
    deleted: int
    store_bytes: int
    shards: int
    share: float  # of the index's documents: what is counted over its documents (vectors, translog)

    @classmethod
    def of_index(cls, index: Index) -> Part:
        return cls(
            index,
            index.stats,
            len(index),
            index.deleted_docs,
            index.store_size_in_bytes(),
            index.number_of_shards,
            1.0,
        )

    @classmethod
    def of_shards(cls, index: Index) -> list[Part]:
        """Each primary shard of `index`, in shard order (one shard: the index itself)."""
        if index.number_of_shards == 1:
            return [cls.of_index(index)]
        docs = docs_per_shard(index)
        stores = store_per_shard(index, docs, EMPTY_SHARD_BYTES)
        total = len(index)
        return [
            cls(
                index,
                index.stats.on_shard(number),
                count,
                index.shards[number].deleted_docs,
                store,
                1,
                count / total if total else 0.0,
            )
            for number, (count, store) in enumerate(zip(docs, stores, strict=True))
        ]


def render(indices: list[Index], view: View) -> dict[str, Any]:
    """CommonStats of these indices' started shards: the primaries (replicas are never assigned on the
    sandbox's one data node, so `primaries` and `total` are the same)."""
    return render_parts([Part.of_index(i) for i in indices], view)


def render_parts(parts: list[Part], view: View) -> dict[str, Any]:
    """CommonStats of these parts (indices, or shards)."""
    b = Builder(view.human)
    m = view.metrics
    stats = [p.stats for p in parts]
    indices = [p.index for p in parts]
    total = lambda attr: sum(getattr(s, attr) for s in stats)  # noqa: E731
    out: dict[str, Any] = {}
    store_bytes = sum(p.store_bytes for p in parts)
    shard_count = sum(p.shards for p in parts)
    if "docs" in m:
        docs: dict[str, Any] = {
            "count": sum(p.docs for p in parts),
            "deleted": sum(p.deleted for p in parts),
        }
        b.size(docs, "total_size", store_bytes)
        out["docs"] = docs
    if "shard_stats" in m:
        out["shard_stats"] = {"total_count": shard_count}
    if "store" in m:
        store: dict[str, Any] = {}
        b.size(store, "size", store_bytes)
        b.size(store, "total_data_set_size", store_bytes)
        b.size(store, "reserved", 0)
        out["store"] = store
    if "indexing" in m:
        loads = [s.write_loads() for s in stats]
        indexing: dict[str, Any] = {"index_total": total("index_total")}
        b.time(indexing, "index_time", total("index_ns"))
        indexing.update(
            index_current=0,
            index_failed=total("index_failed"),
            index_failed_due_to_version_conflict=total("index_failed_version_conflict"),
            delete_total=total("delete_total"),
        )
        b.time(indexing, "delete_time", total("delete_ns"))
        indexing.update(delete_current=0, noop_update_total=total("noop_updates"), is_throttled=False)
        b.time(indexing, "throttle_time", 0)
        indexing.update(
            write_load=sum(w for w, _, _ in loads),
            recent_write_load=sum(r for _, r, _ in loads),
            peak_write_load=sum(p for _, _, p in loads),
        )
        out["indexing"] = indexing
    if "get" in m:
        get: dict[str, Any] = {"total": total("get_exists") + total("get_missing")}
        b.time(get, "getTime", total("get_exists_ns") + total("get_missing_ns"), "time_in_millis")
        get["exists_total"] = total("get_exists")
        b.time(get, "exists_time", total("get_exists_ns"))
        get["missing_total"] = total("get_missing")
        b.time(get, "missing_time", total("get_missing_ns"))
        get["current"] = 0
        out["get"] = get
    if "search" in m:
        summed = SearchCounters()
        for s in stats:
            summed.add(s.search)
        search = {"open_contexts": sum(view.open_contexts(i) for i in indices), **_search_section(summed, b)}
        search["recent_search_load"] = 0.0
        if view.groups:
            groups: dict[str, Any] = {}
            names = sorted({g for s in stats for g in s.groups})
            for name in names:
                if any(_group_match(pattern, name) for pattern in view.groups):
                    group = SearchCounters()
                    for s in stats:
                        if name in s.groups:
                            group.add(s.groups[name])
                    groups[name] = _search_section(group, b)
            if groups:
                search["groups"] = groups
        out["search"] = search
    if "merge" in m:
        merges: dict[str, Any] = {"current": 0, "current_docs": 0}
        b.size(merges, "current_size", 0)
        merges.update(total=0)
        b.time(merges, "total_time", 0)
        merges["total_docs"] = 0
        b.size(merges, "total_size", 0)
        b.time(merges, "total_stopped_time", 0)
        b.time(merges, "total_throttled_time", 0)
        b.size(merges, "total_auto_throttle", MERGE_AUTO_THROTTLE_BYTES * shard_count)
        out["merges"] = merges
    if "refresh" in m:
        refresh: dict[str, Any] = {"total": total("refreshes")}
        b.time(refresh, "total_time", total("refresh_ns"))
        refresh["external_total"] = total("refreshes")
        b.time(refresh, "external_total_time", total("refresh_ns"))
        refresh["listeners"] = 0
        out["refresh"] = refresh
    if "flush" in m:
        flush: dict[str, Any] = {"total": total("flushes"), "periodic": 0}
        b.time(flush, "total_time", total("flush_ns"))
        b.time(
            flush,
            "total_time_excluding_waiting",
            total("flush_ns"),
            "total_time_excluding_waiting_on_lock_in_millis",
        )
        out["flush"] = flush
    if "warmer" in m:
        warmer: dict[str, Any] = {"current": 0, "total": 0}
        b.time(warmer, "total_time", 0)
        out["warmer"] = warmer
    if "query_cache" in m:
        cache: dict[str, Any] = {}
        b.size(cache, "memory_size", 0)
        cache.update(total_count=0, hit_count=0, miss_count=0, cache_size=0, cache_count=0, evictions=0)
        out["query_cache"] = cache
    if "fielddata" in m:
        fielddata: dict[str, Any] = {}
        b.size(fielddata, "memory_size", 0)
        fielddata["evictions"] = 0
        ordinals: dict[str, Any] = {}
        b.time(ordinals, "build_time", 0)
        fielddata["global_ordinals"] = ordinals
        out["fielddata"] = fielddata
    if "completion" in m:
        completion: dict[str, Any] = {}
        b.size(completion, "size", 0)
        out["completion"] = completion
    if "segments" in m:
        segments: dict[str, Any] = {"count": 0}
        for name in (
            "memory",
            "terms_memory",
            "stored_fields_memory",
            "term_vectors_memory",
            "norms_memory",
            "points_memory",
            "doc_values_memory",
            "index_writer_memory",
            "version_map_memory",
        ):
            b.size(segments, name, 0)
        b.size(segments, "fixed_bit_set", 0, "fixed_bit_set_memory_in_bytes")
        segments["max_unsafe_auto_id_timestamp"] = -1
        segments["file_sizes"] = {}
        out["segments"] = segments
    if "translog" in m:
        operations = total("translog_operations")
        translog_bytes = (
            sum(p.stats.translog_operations * p.index.average_source_bytes() for p in parts)
            + EMPTY_TRANSLOG_BYTES * shard_count
        )
        translog: dict[str, Any] = {"operations": operations}
        b.size(translog, "size", translog_bytes)
        translog["uncommitted_operations"] = operations
        b.size(translog, "uncommitted_size", translog_bytes)
        now = time.monotonic_ns()
        translog["earliest_last_modified_age"] = min(
            ((now - s.translog_since_ns) // 1_000_000 for s in stats), default=0
        )
        out["translog"] = translog
    if "request_cache" in m:
        request_cache: dict[str, Any] = {}
        b.size(request_cache, "memory_size", 0)
        request_cache.update(evictions=0, hit_count=0, miss_count=0)
        out["request_cache"] = request_cache
    if "recovery" in m:
        recovery: dict[str, Any] = {"current_as_source": 0, "current_as_target": 0}
        b.time(recovery, "throttle_time", 0)
        out["recovery"] = recovery
    if "bulk" in m:
        operations = total("bulk_operations")
        bulk: dict[str, Any] = {"total_operations": operations}
        b.time(bulk, "total_time", total("bulk_ns"))
        bulk["total_size_in_bytes"] = total("bulk_bytes")
        b.time(bulk, "avg_time", total("bulk_ns") // operations if operations else 0)
        bulk["avg_size_in_bytes"] = total("bulk_bytes") // operations if operations else 0
        out["bulk"] = bulk
    if "dense_vector" in m or "sparse_vector" in m:
        counts = [tuple(round(n * p.share) for n in _vector_counts(p.index)) for p in parts]
        if "dense_vector" in m:
            off_heap: dict[str, Any] = {}
            for name in (
                "total_size",
                "total_veb_size",
                "total_vec_size",
                "total_veq_size",
                "total_vex_size",
            ):
                b.size(off_heap, name, 0, f"{name}_bytes")
            out["dense_vector"] = {"value_count": sum(d for d, _ in counts), "off_heap": off_heap}
        if "sparse_vector" in m:
            out["sparse_vector"] = {"value_count": sum(s for _, s in counts)}
    return out


def _group_match(pattern: str, name: str) -> bool:
    return pattern in ("_all", "*") or fnmatch.fnmatchcase(name, pattern)


def record_search(
    indices: list[Index], hit_indices: list[Index], took_ns: int, groups: list[str] | None = None
) -> None:
    """One search request's phases (ShardSearchStats): a query on every index searched, a fetch on
    those that have hits in the page returned."""
    for index in indices:
        index.stats.record_query(took_ns, groups)
    fetched: dict[int, Index] = {id(i): i for i in hit_indices}
    for index in fetched.values():
        index.stats.record_fetch(took_ns, groups)


def sources_size(sources: list[Any], sample: int = 10) -> int:
    """The JSON bytes of these sources, measured on a sample of them (bulk sizes stay cheap)."""
    if not sources:
        return 0
    measured = [len(json.dumps(s, separators=(",", ":"))) for s in sources[:sample]]
    return sum(measured) * len(sources) // len(measured)
