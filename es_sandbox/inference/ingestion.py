"""semantic_text on the write path (ShardBulkInferenceActionFilter): a write step that chunks each
semantic_text value, embeds the chunks with the field's endpoint, and stores them in
`_inference_fields`; a failure fails only its item, with Elasticsearch's shapes.

What it skips, as ES does: values already carrying `_inference_fields.<field>` (embeddings brought
along, e.g. a reindex with `exclude_vectors: false`), nulls, and empty or blank strings (8.19/9.1+).
Inference goes to the endpoint in requests of at most 10 chunks, the first alone (it may deploy a
preconfigured endpoint), then at most 20 in flight, without a timeout (a bulk waits out a cold start).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, status_exception
from es_sandbox.inference import semantic_text as st
from es_sandbox.inference.chunking import DEFAULT_SETTINGS, chunk_offsets
from es_sandbox.inference.segmentation import Utf16Offsets

if TYPE_CHECKING:
    from es_sandbox.documents import PendingWrite
    from es_sandbox.indices import Index
    from es_sandbox.inference.endpoints import Endpoint
    from es_sandbox.inference.service import InferenceService

BATCH_SIZE = 10  # ElasticsearchInternalService.EMBEDDING_MAX_BATCH_SIZE
IN_FLIGHT = 20  # BatchIterator.NUM_REQUESTS_INFLIGHT


def endpoint_missing(inference_id: str, field_name: str) -> EsError:
    return EsError(
        404,
        "resource_not_found_exception",
        f"Inference id [{inference_id}] not found for field [{field_name}]",
    )


def inference_failed(inference_id: str, field_name: str, cause: EsError) -> EsError:
    """The item's error: the cause's status, and the cause under caused_by (#126345)."""
    return EsError(
        cause.status,
        "inference_exception",
        f"Exception when running inference id [{inference_id}] on field [{field_name}]",
        caused_by=cause.to_xcontent(),
    )


def mismatched_inference_id(configured: str, field_name: str, reported: Any) -> EsError:
    return EsError(
        400,
        "document_parsing_exception",
        f"The configured inference_id [{configured}] for field [{field_name}] doesn't match the inference_id "
        f"[{reported}] reported in the document.",
    )


def scripted_update_refused() -> EsError:
    return status_exception(
        400, "Cannot apply update with a script on indices that contain [semantic_text] field(s)"
    )


def _nest_inference_fields(source: dict[str, Any]) -> dict[str, Any]:
    """`"_inference_fields.f": {...}` (the dotted form a document may use) as `_inference_fields.f`."""
    prefix = f"{st.INFERENCE_FIELDS}."
    dotted = [k for k in source if k.startswith(prefix)]
    if not dotted:
        return source
    out = {k: v for k, v in source.items() if not k.startswith(prefix)}
    nested = dict(out.get(st.INFERENCE_FIELDS) or {})
    for key in dotted:
        nested[key[len(prefix) :]] = source[key]
    out[st.INFERENCE_FIELDS] = nested
    return out


@dataclass
class _Input:
    """The values one source field (the semantic_text field itself, or a field that copies to it)
    feeds the field, chunked, and (once embedded) their results."""

    source_field: str
    text: str  # the values joined by one separator, as offsets count them
    offsets: list[tuple[int, int]]  # code points into `text`
    embeddings: list[Any] = field(default_factory=list)


@dataclass
class _FieldWork:
    """One semantic_text field of one write: the inputs that feed it."""

    write: PendingWrite
    path: str
    spec: dict[str, Any]
    endpoint: Endpoint | None  # None when the write only clears the field (nothing to embed)
    inputs: list[_Input]


class SemanticTextWriteStep:
    """Registered on cluster.documents; see es_sandbox/documents/writes.py for the contract."""

    def __init__(self, service: InferenceService) -> None:
        self.service = service

    def applies_to(self, index: Index) -> bool:
        return st.has_semantic_fields(index)

    async def __call__(self, index: Index, writes: list[PendingWrite]) -> None:
        fields = [
            (path, spec, st.source_fields(index.mappings, path))
            for path, spec in st.semantic_fields(index.mappings)
        ]
        work: list[_FieldWork] = []
        for write in writes:
            if write.script:
                write.fail(scripted_update_refused())
                continue
            if write.source is None:
                continue
            write.source = _nest_inference_fields(write.source)
            work.extend(self._plan(write, fields))
        by_endpoint: dict[str, list[_FieldWork]] = {}
        for item in work:
            if item.endpoint is not None:
                by_endpoint.setdefault(item.endpoint.inference_id, []).append(item)
        await asyncio.gather(*(self._embed(items) for items in by_endpoint.values()))
        for item in work:
            if item.write.error is None:
                self._store(item)

    def _plan(
        self, write: PendingWrite, fields: list[tuple[str, dict[str, Any], list[str]]]
    ) -> Iterator[_FieldWork]:
        source = write.source
        assert source is not None
        for path, spec, source_fields in fields:
            if write.error is not None:
                return
            inference_id = st.inference_id_of(spec)
            brought = st.stored_inference(source, path)
            if brought is not None:  # embeddings brought along are trusted, made with the field's endpoint
                if brought.get("inference_id", inference_id) != inference_id:
                    write.fail(mismatched_inference_id(inference_id, path, brought.get("inference_id")))
                    return
                continue
            given = {name: st.field_values(source, name) for name in source_fields}
            given = {
                name: values
                for name, values in given.items()
                if values and not all(isinstance(v, str) and not v.strip() for v in values)
            }
            # An update's doc that sets a source field to null clears that field's chunks (they replace
            # the stored ones when the doc is merged); nothing is embedded for it.
            cleared = [n for n in source_fields if write.op == "update" and st.explicitly_null(source, n)]
            if not given:
                if cleared:
                    yield _FieldWork(write, path, spec, None, [_Input(n, "", []) for n in cleared])
                continue
            try:
                self.service.check_license()
                endpoint = self.service.endpoint(inference_id)
            except EsError as err:
                write.fail(err if err.status == 403 else endpoint_missing(inference_id, path))
                return
            settings = st.mapped_chunking(spec) or endpoint.chunking or DEFAULT_SETTINGS
            inputs = []
            for name in source_fields:
                if name in cleared:
                    inputs.append(_Input(name, "", []))
                    continue
                values = given.get(name)
                if values is None:
                    continue
                offsets: list[tuple[int, int]] = []
                position = 0
                for value in values:
                    text = st.value_text(value)
                    if text.strip():
                        offsets.extend((position + s, position + e) for s, e in chunk_offsets(text, settings))
                    position += len(text) + 1
                inputs.append(_Input(name, st.joined_values(values), offsets))
            yield _FieldWork(write, path, spec, endpoint, inputs)

    async def _embed(self, items: list[_FieldWork]) -> None:
        """All chunks of one endpoint in requests of BATCH_SIZE: a failed request fails every item
        that has a chunk in it."""
        endpoint = items[0].endpoint
        assert endpoint is not None  # only works with something to embed are grouped
        chunks = [
            (item, given, given.text[s:e])
            for item in items
            for given in item.inputs
            for s, e in given.offsets
        ]
        batches = [chunks[i : i + BATCH_SIZE] for i in range(0, len(chunks), BATCH_SIZE)]
        results: dict[int, list[Any]] = {}
        limit = asyncio.Semaphore(IN_FLIGHT)

        async def run(number: int, batch: list[tuple[_FieldWork, _Input, str]]) -> None:
            async with limit:
                try:
                    embedded = await self.service.embed(
                        endpoint, [text for _, _, text in batch], input_type="internal_ingest", timeout=None
                    )
                except EsError as err:
                    for item, _, _ in batch:
                        if item.write.error is None:
                            item.write.fail(inference_failed(endpoint.inference_id, item.path, err))
                    return
                results[number] = [e["embedding"] for e in embedded]

        if batches:
            await run(0, batches[0])
            await asyncio.gather(*(run(n, b) for n, b in enumerate(batches[1:], start=1)))
        flat = [e for n in range(len(batches)) for e in results.get(n, [None] * len(batches[n]))]
        for (_, given, _), embedding in zip(chunks, flat, strict=True):
            given.embeddings.append(embedding)

    def _store(self, item: _FieldWork) -> None:
        """The field's `_inference_fields` entry, and its `model_settings` in the mapping once known."""
        settings = st.minimal_service_settings(item.endpoint) if item.endpoint is not None else None
        inference: dict[str, Any] = {"inference_id": st.inference_id_of(item.spec)}
        if settings is not None:  # a write that only clears the field knows no model
            inference["model_settings"] = settings
        if item.spec.get("chunking_settings"):
            inference["chunking_settings"] = item.spec["chunking_settings"]
        inference["chunks"] = {}
        for given in item.inputs:  # keyed by the source field; offsets into its values
            units = Utf16Offsets(given.text)
            inference["chunks"][given.source_field] = [
                {"start_offset": units.to_utf16(s), "end_offset": units.to_utf16(e), "embeddings": embedding}
                for (s, e), embedding in zip(given.offsets, given.embeddings, strict=True)
            ]
        source = dict(item.write.source or {})
        fields = dict(source.get(st.INFERENCE_FIELDS) or {})
        fields[item.path] = {"inference": inference}
        source[st.INFERENCE_FIELDS] = fields
        item.write.source = source
        if settings is not None and "model_settings" not in item.spec:
            st.set_model_settings(item.spec, settings)
