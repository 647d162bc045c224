"""DocumentService (cluster.documents): the one path every document write takes, whatever API it
came from (index, create, `_update`, delete, `_bulk`, and the bulks of `_reindex`, `_update_by_query`
and `_delete_by_query`), as Elasticsearch turns every write into a bulk.

A bulk runs in three phases:
1. ingest: the pipelines (the item's, the request's, the index default, then the final pipeline)
   run CONCURRENTLY over every index/create item, so inference queue limits bite as on a node;
2. write steps: the items about to be stored, grouped by the concrete index they land in, pass
   through every registered write step (see below), the groups concurrently;
3. apply: the items are applied to the IndexStore in request order.

Write steps (the contract; semantic_text inference registers here):
    cluster.documents.register_write_step(step)   at wiring time (es_sandbox.cluster)
    step.applies_to(index: Index) -> bool          cheap; asked once per target index and bulk
    await step(index: Index, writes: list[PendingWrite]) -> None
A step sees, per existing target index it applies to, the index, create and update items that
survived ingest (never deletes, never items a pipeline dropped or failed, never items whose index
does not exist yet: a fresh index has no mapping that asks for a step). For index/create,
`write.source` is the document to store; for an update it is the update's partial `doc` (or its
`upsert` when there is no `doc`; None for an update by script, which `write.script` tells), merged
into the stored document after the step, as Elasticsearch's ShardBulkInferenceActionFilter sees
`UpdateRequest.doc()`. A step transforms a write by assigning
`write.source`, and fails one item with `write.fail(EsError)`: that item alone answers with the
error's status and body, the others go on. An EsError raised by the step itself fails every write
it was given. Steps run in registration order; a failed write is not shown to later steps.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from es_sandbox import mappings as mp
from es_sandbox.documents import scripted
from es_sandbox.errors import EsError, illegal_argument, index_not_found
from es_sandbox.indices import Index, random_id
from es_sandbox.indices.shards import shard_of
from es_sandbox.indices.stats import sources_size
from es_sandbox.ingest.document import clone

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

OPS = ("index", "create", "update", "delete")
MAX_ID_BYTES = 512
_CREATED, _OK, _NOT_FOUND = 201, 200, 404


@dataclass
class BulkAction:
    """One bulk item. For `update`, `source` is the update body ({"doc", "upsert", "doc_as_upsert", ...})."""

    op: str
    index: str
    id: str | None = None
    source: dict[str, Any] | None = None
    pipeline: str | None = None
    if_seq_no: int | None = None
    if_primary_term: int | None = None
    version: int | None = None
    version_type: str | None = None
    require_alias: bool = False
    source_error: EsError | None = None  # a source the shard cannot parse: this item fails alone


def require_alias_missing(name: str) -> EsError:
    err = index_not_found(name)
    err.reason += f" and [require_alias] request flag is [true] and [{name}] is not an alias"
    return err


def _ingest_document(
    action: BulkAction, request_pipeline: str | None
) -> tuple[str, dict[str, Any], str | None] | None:
    """What an item's ingest pipelines process (TransportBulkAction.getIndexWriteRequest): an index or
    create item's source; an update's `doc` when doc_as_upsert (with the index's pipelines only), else
    its `upsert` (with the item's or the request's pipeline too); None when nothing goes through."""
    if action.op in ("index", "create"):
        if action.source_error is not None or action.source is None:
            return None
        return "source", action.source, action.pipeline or request_pipeline
    if action.op != "update" or not isinstance(action.source, dict):
        return None
    body = action.source
    if body.get("doc_as_upsert") and isinstance(body.get("doc"), dict):
        return "doc", body["doc"], None
    if isinstance(body.get("upsert"), dict):
        return "upsert", body["upsert"], action.pipeline or request_pipeline
    return None


@dataclass
class PendingWrite:
    """An index, create or update item on its way to the store, as a write step sees it."""

    op: str
    id: str | None
    source: dict[str, Any] | None
    script: bool = False  # an update by script (which the sandbox refuses when it is applied)
    error: EsError | None = None

    def fail(self, error: EsError) -> None:
        self.error = error


class WriteStep(Protocol):
    def applies_to(self, index: Index) -> bool: ...

    def __call__(self, index: Index, writes: list[PendingWrite]) -> Awaitable[None]: ...


@dataclass
class Outcome:
    """One item's result: the DocWriteResponse (without status) or the error."""

    op: str
    status: int
    body: dict[str, Any] | None = None
    error: EsError | None = None
    index: str | None = None
    id: str | None = None

    def item(self) -> dict[str, Any]:
        if self.error is None:
            return {self.op: {**self.body, "status": self.status}}
        inner: dict[str, Any] = {
            "_index": self.index,
            "_id": self.id,
            "status": self.status,
            "error": self.error.to_xcontent(),
        }
        return {self.op: inner}


@dataclass
class _Prepared:
    """An item after ingest and the write steps: where it lands and what it stores."""

    index: str
    id: str | None
    source: dict[str, Any] | None
    dropped: bool = False
    error: EsError | None = None
    update: dict[str, Any] | None = field(default=None)  # an update's body, its doc or upsert stepped


@dataclass
class _ShardBulk:
    """The items of one bulk that reached one index: its bulk and refresh statistics."""

    index: Index
    sources: list[Any] = field(default_factory=list)
    took_ns: int = 0


class _Touched(dict):
    """index name -> _ShardBulk, filled as items are applied."""

    def reached(self, index: Index, source: Any, started: int) -> None:
        shard = self.get(index.name)
        if shard is None:
            shard = self[index.name] = _ShardBulk(index)
        if source is not None:
            shard.sources.append(source)
        shard.took_ns += time.monotonic_ns() - started


def _pipeline_for(chosen: str | None, target: Index | None) -> str | None:
    """The item's pipeline (else the request's), else the index default; `_none` disables the default."""
    if chosen is None and target is not None:
        chosen = target.default_pipeline
    return None if chosen in (None, "_none") else chosen


def _write_response(
    index: Index,
    doc_id: str,
    version: int,
    seq_no: int,
    result: str,
    *,
    forced_refresh: bool = False,
    primary_term: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"_index": index.name, "_id": doc_id, "_version": version, "result": result}
    if forced_refresh:
        body["forced_refresh"] = True
    body["_shards"] = index.shards_header()
    body["_seq_no"] = seq_no
    # The term of the primary that executed the write (a noop: the stored document's).
    body["_primary_term"] = index.shard(doc_id).primary_term if primary_term is None else primary_term
    return body


def _dropped_response(index_name: str, doc_id: str | None) -> dict[str, Any]:
    """A document a pipeline dropped: an UpdateResponse with result noop and version -3."""
    return {
        "_index": index_name,
        "_id": doc_id,
        "_version": -3,
        "result": "noop",
        "_shards": {"total": 0, "successful": 0, "failed": 0},
    }


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def document_missing(index: Index, doc_id: str) -> EsError:
    return EsError(
        404,
        "document_missing_exception",
        f"[{doc_id}]: document missing",
        extra={"index_uuid": index.uuid, "shard": "0", "index": index.name},
    )


def _update_stepped_field(body: dict[str, Any]) -> str | None:
    """The part of an update body a write step sees: `doc`, else `upsert`."""
    if isinstance(body.get("doc"), dict):
        return "doc"
    if isinstance(body.get("upsert"), dict):
        return "upsert"
    return None


class DocumentService:
    """The document write path (cluster.documents) and the write steps registered on it."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.write_steps: list[WriteStep] = []

    # --- subsystem contract (nothing stored: documents live in the IndexStore) ---------------------

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def reset(self) -> None:
        pass

    def snapshot(self) -> None:
        return None

    def restore(self, state: dict[str, Any]) -> None:
        pass

    def on_node_restart(self) -> None:
        pass

    def register_write_step(self, step: WriteStep) -> None:
        self.write_steps.append(step)

    # --- bulk ------------------------------------------------------------------------------------

    async def bulk(
        self, actions: list[BulkAction], *, pipeline: str | None = None, refresh: bool = False
    ) -> dict[str, Any]:
        """The `_bulk` response for these actions: {"errors", "took", ["ingest_took"], "items"}."""
        started = time.monotonic()
        outcomes, ingest_took = await self.run(actions, pipeline=pipeline, refresh=refresh)
        response: dict[str, Any] = {
            "errors": any(o.error is not None for o in outcomes),
            "took": int((time.monotonic() - started) * 1000),
        }
        if ingest_took is not None:
            response["ingest_took"] = ingest_took
        response["items"] = [o.item() for o in outcomes]
        return response

    async def run(
        self, actions: list[BulkAction], *, pipeline: str | None = None, refresh: bool = False
    ) -> tuple[list[Outcome], int | None]:
        """The outcomes in order, and the ingest time in ms (None when no pipeline ran)."""
        prepared: dict[int, _Prepared] = {}
        ingest_took = None
        ingest_slots = self._ingest_slots(actions, pipeline)
        if ingest_slots:
            started = time.monotonic()
            results = await asyncio.gather(*(self._ingest(actions[i], pipeline) for i in ingest_slots))
            prepared = dict(zip(ingest_slots, results, strict=True))
            ingest_took = int((time.monotonic() - started) * 1000)
        if self.write_steps:
            await self._run_write_steps(actions, prepared)
        outcomes = []
        touched = _Touched()
        for i, action in enumerate(actions):
            if action.op in ("index", "create"):
                ready = prepared.get(i) or _Prepared(action.index, action.id, action.source)
                outcomes.append(self._apply_index(action, ready, refresh, touched))
            elif action.op == "delete":
                outcomes.append(self._apply_delete(action, refresh, touched))
            else:
                outcomes.append(self._apply_update(action, prepared.get(i), refresh, touched))
        for shard in touched.values():
            shard.index.stats.bulk(shard.took_ns, sources_size(shard.sources))
            if refresh:
                shard.index.stats.refreshed(0)
        return outcomes, ingest_took

    # --- phase 1: ingest -------------------------------------------------------------------------

    def _existing_target(self, name: str) -> Index | None:
        try:
            return self.cluster.indices.write_index(name, auto_create=False)
        except EsError:
            return None

    async def _ingest(self, action: BulkAction, request_pipeline: str | None) -> _Prepared:
        part, source, chosen = _ingest_document(action, request_pipeline)
        doc: dict[str, Any] | None = {"_index": action.index, "_id": action.id, "_source": source}
        if action.version is not None:
            doc["_version"] = action.version
        try:
            doc = await self.through_pipelines(doc, chosen)
        except EsError as err:
            return _Prepared(action.index, action.id, None, error=err)
        if doc is None:
            return _Prepared(action.index, action.id, None, dropped=True)
        if part != "source":  # an update keeps its index and id; its doc or upsert is the processed one
            return _Prepared(
                action.index, action.id, None, update={**action.source, part: doc.get("_source")}
            )
        doc_id = doc.get("_id")
        return _Prepared(
            doc.get("_index") or action.index, None if doc_id is None else str(doc_id), doc.get("_source")
        )

    async def through_pipelines(
        self, doc: dict[str, Any], chosen: str | None, executed: list[str] | None = None
    ) -> dict[str, Any] | None:
        """IngestService.executePipelines: the chosen pipeline (else the index default), then the final
        pipeline of the index the document ends in; None when a pipeline drops it."""
        ingest = self.cluster.ingest
        index_name = doc["_index"]
        target = self._existing_target(index_name)
        pipeline = _pipeline_for(chosen, target)
        final = target.final_pipeline if target is not None else None
        if pipeline is not None:
            doc = await ingest.run(pipeline, doc, executed)
        if doc is not None and doc.get("_index") != index_name:
            moved = self._existing_target(doc["_index"])
            final = moved.final_pipeline if moved is not None else None
        if doc is not None and final not in (None, "_none"):
            doc = await ingest.run(final, doc, executed)
        return doc

    def _ingest_slots(self, actions: list[BulkAction], request_pipeline: str | None) -> list[int]:
        """The items that go through a pipeline (targets looked up once per name)."""
        has_pipelines: dict[str, bool] = {}
        slots = []
        for i, action in enumerate(actions):
            found = _ingest_document(action, request_pipeline)
            if found is None:
                continue
            if found[2] not in (None, "_none"):
                slots.append(i)
                continue
            defaults = has_pipelines.get(action.index)
            if defaults is None:
                target = self._existing_target(action.index)
                defaults = has_pipelines[action.index] = target is not None and bool(
                    target.default_pipeline or target.final_pipeline
                )
            if defaults:
                slots.append(i)
        return slots

    # --- phase 2: write steps ----------------------------------------------------------------------

    async def _run_write_steps(self, actions: list[BulkAction], prepared: dict[int, _Prepared]) -> None:
        """Fills `prepared` with what the steps made of the items they saw."""
        targets: dict[str, tuple[Index, list[WriteStep]] | None] = {}
        groups: dict[str, list[tuple[int, PendingWrite]]] = {}
        for i, action in enumerate(actions):
            ready = prepared.get(i)
            if action.op == "delete" or action.source_error is not None:
                continue
            if ready is not None and (ready.error is not None or ready.dropped):
                continue
            name = ready.index if ready is not None and action.op != "update" else action.index
            if self._require_alias_failure(action, name) is not None:
                continue
            if name not in targets:
                target = self._existing_target(name)
                steps = [s for s in self.write_steps if target is not None and s.applies_to(target)]
                targets[name] = (target, steps) if steps else None
            if targets[name] is None:
                continue
            write = self._pending(action, ready)
            groups.setdefault(targets[name][0].name, []).append((i, write))
        if not groups:
            return
        by_index = {t[0].name: t for t in targets.values() if t is not None}
        await asyncio.gather(*(self._step_group(*by_index[name], group) for name, group in groups.items()))
        for group in groups.values():
            for i, write in group:
                prepared[i] = self._stepped(actions[i], prepared.get(i), write)

    @staticmethod
    def _pending(action: BulkAction, ready: _Prepared | None) -> PendingWrite:
        if action.op != "update":
            source = ready.source if ready is not None else action.source
            doc_id = ready.id if ready is not None else action.id
            return PendingWrite(action.op, doc_id, source)
        body = _update_body(action, ready)
        part = _update_stepped_field(body)
        return PendingWrite("update", action.id, body.get(part) if part else None, script="script" in body)

    @staticmethod
    async def _step_group(
        index: Index, steps: list[WriteStep], group: list[tuple[int, PendingWrite]]
    ) -> None:
        for step in steps:
            writes = [w for _, w in group if w.error is None]
            if not writes:
                return
            try:
                await step(index, writes)
            except EsError as err:
                for write in writes:
                    write.fail(err)

    @staticmethod
    def _stepped(action: BulkAction, ready: _Prepared | None, write: PendingWrite) -> _Prepared:
        if action.op != "update":
            name = ready.index if ready is not None else action.index
            return _Prepared(name, write.id, write.source, error=write.error)
        body = dict(_update_body(action, ready))
        part = _update_stepped_field(body)
        if part is not None:
            body[part] = write.source
        return _Prepared(action.index, action.id, None, error=write.error, update=body)

    # --- phase 3: apply ----------------------------------------------------------------------------

    def _require_alias_failure(self, action: BulkAction, name: str) -> EsError | None:
        """BulkOperation: an item that requires an alias fails when its target is none (never created)."""
        if action.require_alias and not self.cluster.indices.is_alias(name):
            return require_alias_missing(name)
        return None

    def _write_target(self, action: BulkAction, name: str) -> Index:
        """The index an item writes to: its alias requirement met, then the write index `name` names
        (created when auto-create allows)."""
        missing_alias = self._require_alias_failure(action, name)
        if missing_alias is not None:
            raise missing_alias
        return self.cluster.indices.write_index(name)

    def _apply_index(
        self, action: BulkAction, prepared: _Prepared, refresh: bool, touched: _Touched
    ) -> Outcome:
        if prepared.error is not None:
            return Outcome(
                action.op, prepared.error.status, error=prepared.error, index=prepared.index, id=prepared.id
            )
        if prepared.dropped:
            return Outcome(action.op, _OK, _dropped_response(prepared.index, prepared.id))
        name, doc_id = prepared.index, prepared.id
        try:
            index = self._write_target(action, name)
            name = index.name
            if doc_id == "":
                raise illegal_argument("if _id is specified it must not be empty")
            if doc_id is None:
                doc_id = random_id()
            if action.source_error is not None:
                raise action.source_error
            started = time.monotonic_ns()
            try:
                doc, result = index.put(
                    doc_id,
                    prepared.source,
                    op_type=action.op,
                    if_seq_no=action.if_seq_no,
                    if_primary_term=action.if_primary_term,
                    version=action.version,
                    version_type=action.version_type,
                )
            finally:
                touched.reached(index, prepared.source, started)
        except EsError as err:
            return Outcome(action.op, err.status, error=err, index=name, id=doc_id)
        body = _write_response(index, doc_id, doc.version, doc.seq_no, result, forced_refresh=refresh)
        return Outcome(action.op, _CREATED if result == "created" else _OK, body)

    def _apply_delete(self, action: BulkAction, refresh: bool, touched: _Touched) -> Outcome:
        name = action.index
        try:
            index = self.cluster.indices.write_index(name, auto_create=False)
            name = index.name
            started = time.monotonic_ns()
            try:
                version, seq_no, found = index.delete(
                    action.id, if_seq_no=action.if_seq_no, if_primary_term=action.if_primary_term
                )
            finally:
                touched.reached(index, None, started)
        except EsError as err:
            return Outcome("delete", err.status, error=err, index=name, id=action.id)
        body = _write_response(
            index, action.id, version, seq_no, "deleted" if found else "not_found", forced_refresh=refresh
        )
        return Outcome("delete", _OK if found else _NOT_FOUND, body)

    def _apply_update(
        self, action: BulkAction, prepared: _Prepared | None, refresh: bool, touched: _Touched
    ) -> Outcome:
        """An update item of a bulk, applied on the shard as TransportShardBulkAction applies it: the
        stored document (its metadata too, so a semantic_text field the doc leaves out keeps its
        embeddings) merged with what ingest and the write steps made of the update."""
        if prepared is not None and prepared.error is not None:
            return Outcome(
                "update", prepared.error.status, error=prepared.error, index=action.index, id=action.id
            )
        if prepared is not None and prepared.dropped:
            return Outcome("update", _OK, _dropped_response(action.index, action.id))
        body = _update_body(action, prepared)
        name = action.index
        try:
            index = self._write_target(action, name)
            name = index.name
            started = time.monotonic_ns()
            current = self._get_for_update(index, action.id)
            touched.reached(index, body, started)
            resolved = resolve_update(index, action, body, current)
            if resolved.op == "noop":
                return _noop_update(index, action.id, current)
            if resolved.op == "none":
                return Outcome("update", _OK, _dropped_response(index.name, action.id))
            if resolved.op == "delete":
                version, seq_no, _ = index.delete(action.id)
                deleted = _write_response(
                    index, action.id, version, seq_no, "deleted", forced_refresh=refresh
                )
                return Outcome("update", _OK, deleted)
            doc, result = index.put(action.id, resolved.source)
        except EsError as err:
            return Outcome("update", err.status, error=err, index=name, id=action.id)
        response = _write_response(index, action.id, doc.version, doc.seq_no, result, forced_refresh=refresh)
        return Outcome("update", _CREATED if result == "created" else _OK, response)

    @staticmethod
    def _get_for_update(index: Index, doc_id: str | None) -> Any:
        """The update's own get of the stored document (counted in the index's get stats)."""
        started = time.monotonic_ns()
        current = index.docs.get(doc_id)
        index.stats.got(current is not None, time.monotonic_ns() - started, shard_of(index, doc_id))
        return current

    # --- the `_update` API ----------------------------------------------------------------------

    async def update(self, action: BulkAction, *, refresh: bool = False) -> Outcome:
        """The `_update` API (TransportUpdateAction): the update is resolved against the stored document
        first (its script run, its doc merged, or its upsert taken), then what it resolved to is written
        as a bulk of one, as any write: the whole document indexed (an upsert created) through the
        index's pipelines and the write steps, or the document deleted. The document is read without
        its metadata fields, so semantic_text fields are embedded again from the new source; the write
        is conditional on the version read (409 if the document changed meanwhile)."""
        body = action.source or {}
        name = action.index
        try:
            index = self._write_target(action, name)
            name = index.name
            current = self._get_for_update(index, action.id)
            stored = _without_metadata(current.source) if current is not None else None
            resolved = resolve_update(index, action, body, current, stored=stored)
        except EsError as err:
            return Outcome("update", err.status, error=err, index=name, id=action.id)
        if resolved.op == "noop":
            return _noop_update(index, action.id, current)
        if resolved.op == "none":
            return Outcome("update", _OK, _dropped_response(index.name, action.id))
        conditions = {}
        if current is not None:
            conditions = {"if_seq_no": current.seq_no, "if_primary_term": current.primary_term}
        op = {"index": "index", "create": "create", "delete": "delete"}[resolved.op]
        write = BulkAction(op, index.name, action.id, resolved.source, **conditions)
        outcomes, _ = await self.run([write], refresh=refresh)
        return outcomes[0]


def _noop_update(index: Index, doc_id: str, current: Any) -> Outcome:
    """An update that changes nothing: result noop, no shard touched."""
    index.stats.noop_update(shard_of(index, doc_id))
    noop = _write_response(
        index, doc_id, current.version, current.seq_no, "noop", primary_term=current.primary_term
    )
    noop["_shards"] = {"total": 0, "successful": 0, "failed": 0}
    return Outcome("update", _OK, noop)


@dataclass
class ResolvedUpdate:
    """What an update comes to (UpdateHelper.prepare): `index` the document with `source` (an update),
    `create` it (an upsert), `delete` it, `noop` (nothing changes), or `none` (a script's operation
    that writes nothing)."""

    op: str
    source: dict[str, Any] | None = None


def resolve_update(
    index: Index,
    action: BulkAction,
    body: dict[str, Any],
    current: Any,
    *,
    stored: dict[str, Any] | None = None,
) -> ResolvedUpdate:
    """UpdateHelper.prepare: the update body against the stored document (`current`, None when there
    is none; `stored` its source as the update sees it, by default as stored)."""
    source = stored if stored is not None or current is None else current.source
    if current is not None:
        index.check_seq_no(action.id, current, action.if_seq_no, action.if_primary_term)
    if "script" in body:
        script = scripted.compile_script(body["script"])
        op, new_source = _scripted_source(index, action, body, script, current, source)
        if current is None:
            return ResolvedUpdate("create", new_source) if op == "index" else ResolvedUpdate("none")
        if op == "none":
            return ResolvedUpdate("noop")
        return ResolvedUpdate(op, new_source if op == "index" else None)
    patch = body.get("doc") or {}
    if current is None:
        if body.get("doc_as_upsert"):
            return ResolvedUpdate("create", patch)
        if "upsert" in body:
            return ResolvedUpdate("create", body["upsert"])
        raise document_missing(index, action.id)
    assert source is not None
    new_source = _deep_merge(source, patch)
    if body.get("detect_noop", True) and new_source == source:
        return ResolvedUpdate("noop")
    return ResolvedUpdate("index", new_source)


def _without_metadata(source: dict[str, Any]) -> dict[str, Any]:
    """The stored source as the `_update` API reads it: without the metadata fields kept beside it."""
    return {k: v for k, v in source.items() if k.split(".", 1)[0] not in mp.METADATA_SOURCE_KEYS}


def _scripted_source(
    index: Any,
    action: BulkAction,
    body: dict[str, Any],
    script: Any,
    current: Any,
    source: dict[str, Any] | None,
) -> tuple[str, dict[str, Any] | None]:
    """UpdateHelper with a script: the operation (`index`, `delete` or `none`) and the new source."""
    if current is None:
        if "upsert" not in body:
            raise document_missing(index, action.id)
        if not body.get("scripted_upsert"):
            return "index", body["upsert"]
        ctx = {"_source": clone(body["upsert"]), "op": "create", "_now": int(time.time() * 1000)}
    else:
        ctx = {
            "_index": index.name,
            "_id": action.id,
            "_version": current.version,
            "_routing": None,
            "_source": clone(source),
            "op": "index",
            "_now": int(time.time() * 1000),
        }
    try:
        script.run_update(ctx)
    except EsError as err:  # UpdateHelper.executeScript wraps what the script throws
        raise EsError(
            400, "illegal_argument_exception", "failed to execute script", caused_by=err.to_xcontent()
        ) from None
    # UpdateOpType.lenientFromString: an operation it does not know does nothing.
    op = {"create": "index", "index": "index", "delete": "delete"}.get(ctx.get("op"), "none")
    return op, ctx["_source"]


def _update_body(action: BulkAction, prepared: _Prepared | None) -> dict[str, Any]:
    """An update's body as ingest and the write steps left it."""
    if prepared is not None and prepared.update is not None:
        return prepared.update
    return action.source or {}
