"""How a backend embeds the destination's documents: the little that differs between the ingest
pipeline path and the `semantic_text` path, as a strategy the index and publish stages call.

Everything else is one code path for every backend: what a run covers (es_embedding.index.scope),
the copy of what is missing, the comparison of contents that finds stale documents
(es_embedding.index.currency), the passes of `complete_index`, the numbers `verify_embeddings`
checks. A backend answers five questions:

- `embedded()`: which destination documents carry their embedding (a query);
- `failed()`: which carry a recorded failure (a query), or None when failures are not recorded;
- `added_fields()`: which fields the chain adds to a document (left out when a destination
  document is compared with its source);
- `embedding_dest(dest)`: the `dest` of a `_reindex` whose writes are embedded (used to re-copy
  and re-embed a set of documents, by id or a whole scope);
- `copy_dest(dest)` and `embed_in_place(...)`: the two cheaper passes, or None when the backend has
  no such pass: a copy of only the missing documents that pays no inference for those present, and
  an `_update_by_query` that embeds documents present without embedding.

`IngestPipelineBackend` is the pipeline path. `SemanticTextBackend` differs in each answer:
`exists` on its field; no failure record (a rejected bulk item is not written at all, so it is
missing, not unembedded); nothing added to `_source`; a plain `_reindex` embeds in the bulk path;
no cheap copy (inference runs before the write finds the document exists), so missing documents
are re-embedded by id like stale ones; no embed-in-place pass.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from es_embedding.settings import InferenceSettings, PipelineSettings, RunSettings

# Fields the inference processor writes next to its output (the output's parent object, or the
# document's root): the model that produced it, and whether its input was truncated.
INFERENCE_METADATA_FIELDS = ("model_id", "is_truncated")
# A bulk item's failure, as summarize_failures names it, when the inference behind it was rejected
# or timed out (Elasticsearch gives the item its cause's status).
RETRIED_INFERENCE = re.compile(r"^inference_exception \(status (408|429|503)\)$")


class EmbeddingBackend(ABC):
    """What differs between the ways the destination is embedded (see the module's docstring)."""

    name: ClassVar[str]
    # Whether copy_dest and embed_in_place give a pass (the cheap passes complete_index runs first).
    copies_without_inference: ClassVar[bool] = False
    embeds_in_place: ClassVar[bool] = False

    @abstractmethod
    def embedded(self) -> dict:
        """A query matching the destination documents that carry their embedding."""

    def unembedded(self) -> dict:
        """A query matching the destination documents that lack it."""
        return {"bool": {"must_not": [self.embedded()]}}

    def failed(self) -> dict | None:
        """A query matching the documents that carry a recorded failure; None: none are recorded."""
        return None

    @abstractmethod
    def added_fields(self) -> list[str]:
        """The fields the chain adds to a destination document (dotted paths)."""

    @abstractmethod
    def embedding_dest(self, dest: dict[str, Any]) -> dict[str, Any]:
        """The `dest` of a `_reindex` that copies documents and embeds them (overwriting)."""

    def copy_dest(self, dest: dict[str, Any]) -> dict[str, Any] | None:
        """The `dest` of a `_reindex` that copies only what the destination lacks, paying no
        inference for the documents it has; None when the backend cannot copy that way."""
        return None

    def embed_in_place(self, **request: Any) -> dict[str, Any] | None:
        """The `_update_by_query` arguments that embed the destination documents `request["query"]`
        selects, or None when documents are never present without embedding."""
        return None

    def completed_later(self, failures: dict) -> int:
        """Of a reindex's failures (counted by kind, es_embedding.reports.summarize_failures), how
        many are documents left for complete_index: not written for a reason its passes do not meet
        again. None on the pipeline path, where an inference failure is recorded on the document."""
        return 0


@dataclass(frozen=True)
class IngestPipelineBackend(EmbeddingBackend):
    """The ingest pipeline path: an `inference` processor writes `output_field`; its `on_failure`
    records a failure in `failure_field` and keeps the document (es_embedding.bodies)."""

    pipeline_id: str
    output_field: str
    failure_field: str
    name: ClassVar[str] = "ingest_pipeline"
    copies_without_inference: ClassVar[bool] = True
    embeds_in_place: ClassVar[bool] = True

    def embedded(self) -> dict:
        # A document re-embedded after a failure sheds its failure record (the pipeline's first
        # processor), so output present and no failure recorded is exact.
        return {
            "bool": {
                "filter": [{"exists": {"field": self.output_field}}],
                "must_not": [{"exists": {"field": self.failure_field}}],
            }
        }

    def failed(self) -> dict:
        return {"exists": {"field": self.failure_field}}

    def added_fields(self) -> list[str]:
        parent = self.output_field.rpartition(".")[0]
        metadata = [f"{parent}.{name}" if parent else name for name in INFERENCE_METADATA_FIELDS]
        return [self.output_field, self.failure_field, *metadata]

    def embedding_dest(self, dest: dict[str, Any]) -> dict[str, Any]:
        return {**dest, "pipeline": self.pipeline_id}

    def copy_dest(self, dest: dict[str, Any]) -> dict[str, Any]:
        # Without the pipeline: with it, inference would run for every document before the write
        # found it present. complete_index embeds the copies afterwards.
        return {**dest, "op_type": "create"}

    def embed_in_place(self, **request: Any) -> dict[str, Any]:
        return {**request, "pipeline": self.pipeline_id}


@dataclass(frozen=True)
class SemanticTextBackend(EmbeddingBackend):
    """The semantic_text path: the destination maps `field` as `semantic_text` on the run's inference
    endpoint, fed by `copy_to` from the input field (es_embedding.bodies.dest_index_body); every write
    is embedded in the bulk path, and an item whose inference failed is not written."""

    field: str
    name: ClassVar[str] = "semantic_text"

    def embedded(self) -> dict:
        return {"exists": {"field": self.field}}

    def added_fields(self) -> list[str]:
        # The field is fed by copy_to, so it is not in `_source`; its embeddings (`_inference_fields`)
        # are not either (before 9.2 never, on 9.2+ unless asked with exclude_vectors false).
        return []

    def embedding_dest(self, dest: dict[str, Any]) -> dict[str, Any]:
        return dict(dest)

    def completed_later(self, failures: dict) -> int:
        # An item whose inference the deployment rejected (queue full, too many waiting for an
        # allocation), timed out, or met not ready is not written: it is missing, and complete_index
        # embeds the missing documents again (at the pace of a pass, not a reindex's full rounds).
        return sum(
            count for kind, count in (failures.get("by_kind") or {}).items() if RETRIED_INFERENCE.match(kind)
        )


def backend_for(settings: RunSettings, pipeline_id: str | None = None) -> EmbeddingBackend:
    """The run's backend, from its settings snapshot (Variable `embedding_inference.backend`; the
    pipeline id as put_pipeline pushed it, empty on the semantic_text backend)."""
    pipeline = settings[PipelineSettings]
    if settings[InferenceSettings].semantic_text:
        return SemanticTextBackend(field=pipeline.output_field)
    return IngestPipelineBackend(
        pipeline_id=pipeline_id or pipeline.pipeline_id,
        output_field=pipeline.output_field,
        failure_field=pipeline.failure_field,
    )
