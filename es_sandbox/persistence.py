"""--data-dir: stored state (indices, pipelines, models) survives a restart; running work does not.

Layout of the data directory:
    <subsystem>.json            each subsystem's snapshot() (index metadata for `indices`)
    docs/<index uuid>.jsonl     the documents of one index, one JSON line each, streamed

A flusher writes what changed every FLUSH_INTERVAL seconds (so a kill -9 loses little) and the clean
stop writes everything. Files are replaced atomically (write to a temporary file, then rename).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Doc, Index

log = logging.getLogger("es_sandbox")

FLUSH_INTERVAL = 1.0
_tmp_counter = itertools.count()


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{next(_tmp_counter)}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _write_docs(path: Path, items: list[tuple[str, Doc]]) -> None:
    def write(fh) -> None:
        dumps = json.dumps
        for doc_id, doc in items:
            fh.write(
                dumps([doc_id, doc.version, doc.seq_no, doc.primary_term, doc.source], separators=(",", ":"))
            )
            fh.write("\n")

    _atomic_write(path, write)


def _read_docs(path: Path, index: Index) -> None:
    from es_sandbox.indices import Doc

    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                doc_id, version, seq_no, primary_term, source = json.loads(line)
                index.docs[doc_id] = Doc(source, version, seq_no, primary_term)


class Persister:
    """Remembers what was last written, so a flush writes only what changed."""

    def __init__(self, cluster: Cluster, data_dir: Path) -> None:
        self.cluster = cluster
        self.dir = data_dir
        self.docs_dir = data_dir / "docs"
        self.written_digest: dict[str, str] = {}
        self.written_mutations: dict[str, int] = {}  # index uuid -> Index.mutations at last write
        self.lock = asyncio.Lock()

    def load(self) -> None:
        for name, sub in self.cluster.named_subsystems:
            path = self.dir / f"{name}.json"
            if not path.exists():
                continue
            try:
                state = json.loads(path.read_text(encoding="utf-8"))
                sub.restore(state)
            except Exception:  # a damaged file must not stop the node; say so loudly
                log.exception("could not restore %s from %s", name, path)
        for index in self.cluster.indices.indices.values():
            path = self.docs_dir / f"{index.uuid}.jsonl"
            if path.exists():
                _read_docs(path, index)
            # A start from the data directory is a full restart: each primary recovers from its
            # store under a new term; sequence numbers go on after the highest one stored.
            for doc_id, doc in index.docs.items():
                shard = index.shard(doc_id)
                shard.next_seq_no = max(shard.next_seq_no, doc.seq_no + 1)
            index.reallocated()
            self.written_mutations[index.uuid] = index.mutations

    def _pending(self) -> tuple[list[tuple[Path, str, str, str]], list[tuple[Path, list, str, int]]]:
        """What changed since the last write: snapshots, and document lists (references, not copies)."""
        snapshots = []
        for name, sub in self.cluster.named_subsystems:
            state = sub.snapshot()
            if state is None:
                continue
            # Serialised here, on the event loop: snapshots are small and may share live objects.
            text = json.dumps(state, sort_keys=True, separators=(",", ":"), default=str)
            digest = hashlib.sha1(text.encode()).hexdigest()
            if self.written_digest.get(name) != digest:
                snapshots.append((self.dir / f"{name}.json", text, name, digest))
        docs = []
        for index in self.cluster.indices.indices.values():
            if self.written_mutations.get(index.uuid) != index.mutations:
                docs.append(
                    (
                        self.docs_dir / f"{index.uuid}.jsonl",
                        list(index.docs.items()),
                        index.uuid,
                        index.mutations,
                    )
                )
        return snapshots, docs

    def _write(self, snapshots, docs) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.docs_dir.mkdir(exist_ok=True)
        for path, items, _, _ in docs:
            _write_docs(path, items)
        for path, text, _, _ in snapshots:
            _atomic_write(path, lambda fh, t=text: fh.write(t))
        live = {f"{index.uuid}.jsonl" for index in self.cluster.indices.indices.values()}
        for stale in self.docs_dir.glob("*.jsonl"):
            if stale.name not in live:
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()

    def _mark(self, snapshots, docs) -> None:
        for _, _, name, digest in snapshots:
            self.written_digest[name] = digest
        for _, _, uuid, mutations in docs:
            self.written_mutations[uuid] = mutations

    async def flush(self) -> None:
        async with self.lock:
            snapshots, docs = self._pending()
            if snapshots or docs:
                # Serialising a big index takes a while: off the event loop, over the references taken above.
                await asyncio.to_thread(self._write, snapshots, docs)
                self._mark(snapshots, docs)

    def save(self) -> None:
        snapshots, docs = self._pending()
        self._write(snapshots, docs)
        self._mark(snapshots, docs)


_PERSISTERS: dict[int, Persister] = {}


def _persister(cluster: Cluster) -> Persister | None:
    data_dir = cluster.config.data_dir
    if data_dir is None:
        return None
    found = _PERSISTERS.get(id(cluster))
    if found is None or found.cluster is not cluster:
        found = _PERSISTERS[id(cluster)] = Persister(cluster, Path(data_dir))
    return found


def load(cluster: Cluster) -> None:
    persister = _persister(cluster)
    if persister is not None:
        persister.load()


def save(cluster: Cluster) -> None:
    persister = _persister(cluster)
    if persister is not None:
        persister.save()


class Flusher:
    """Background flushes while the node runs; stop() lets a flush in progress finish first."""

    def __init__(self, persister: Persister) -> None:
        self.persister = persister
        self.stopping = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        pause = FLUSH_INTERVAL
        while not self.stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), pause)
            if self.stopping.is_set():
                return
            started = time.monotonic()
            try:
                await self.persister.flush()
            except Exception:
                log.exception("periodic flush to %s failed", self.persister.dir)
            # A big index being written keeps changing: flush it less often than it takes to write,
            # so the flushes never crowd out the work that changes it.
            pause = max(FLUSH_INTERVAL, 4 * (time.monotonic() - started))

    async def stop(self) -> None:
        self.stopping.set()
        await self.task


def start_flusher(cluster: Cluster) -> Flusher | None:
    persister = _persister(cluster)
    return Flusher(persister) if persister is not None else None
