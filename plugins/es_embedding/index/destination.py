"""The destination index, `create_dest_index`: the source's mapping plus the embedding field typed for
the model (or, on the semantic_text backend, a semantic_text field on the run's endpoint), marked as
this package's (mapping `_meta`); an existing compatible one is reused."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from es_embedding import bodies
from es_embedding.base import EsStage
from es_embedding.errors import ClusterRequestError, EmbeddingError
from es_embedding.links import KibanaIndexLink
from es_embedding.naming import MANAGED_BY
from es_embedding.settings import InferenceSettings, PipelineSettings


class CreateDestIndexOperator(EsStage):
    """`create_dest_index`: the destination index with the source's mapping plus the embedding field typed for
    the model (sparse_vector for ELSER, dense_vector for text_embedding), marked as ours in
    `_meta`. An existing compatible index of ours is reused; anything else is an error."""

    template_fields: Sequence[str] = (
        *EsStage.template_fields,
        "source_index",
        "dest_index",
        "model_id",
        "alias",
        "inference_id",
    )
    operator_extra_links = (KibanaIndexLink(),)

    def __init__(
        self,
        *,
        source_index: str,
        dest_index: str,
        model_id: str,
        alias: str | None = None,
        inference_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_index = source_index
        self.dest_index = dest_index
        self.model_id = model_id
        # Recorded in _meta.alias: retention (es_embedding.publish.retention) deletes only an alias's
        # own indices.
        self.alias = alias
        # The semantic_text backend's endpoint (ensure_endpoint's); empty on the pipeline backend.
        self.inference_id = inference_id

    def execute(self, context: Any) -> dict[str, Any]:
        settings = self.run_settings[PipelineSettings]
        field_mapping = self.field_mapping()
        with self.calling(f"checking destination index [{self.dest_index}]"):
            exists = self.es.indices.exists(index=self.dest_index)
        if exists:
            self.check_reusable(settings, field_mapping)
            return self.publish(context, dest_index=self.dest_index, created=False)
        with self.calling(f"reading source index [{self.source_index}]"):
            sources = list(self.es.indices.get(index=self.source_index).values())
        meta = {
            "source_index": self.source_index,
            "model_id": self.model_id,
            "output_field": settings.output_field,
            "dag_run_id": context["run_id"],
            "backend": self.run_settings[InferenceSettings].backend,
            **({"inference_id": self.inference_id} if field_mapping["type"] == "semantic_text" else {}),
            **({"alias": self.alias} if self.alias else {}),
        }
        body = bodies.dest_index_body(sources[0], settings, field_mapping, meta)
        self.log.info(
            "Creating [%s] with %s mapped as %s", self.dest_index, settings.output_field, field_mapping
        )
        try:
            with self.calling(f"creating destination index [{self.dest_index}]"):
                self.es.indices.create(index=self.dest_index, **body)
        except ClusterRequestError as exc:
            if exc.error_type != "resource_already_exists_exception":
                raise
            self.check_reusable(settings, field_mapping)
        return self.publish(context, dest_index=self.dest_index, created=True)

    def field_mapping(self) -> dict:
        """The embedding field: a semantic_text field on the run's endpoint, or the vector field the
        model's output needs."""
        inference = self.run_settings[InferenceSettings]
        if inference.semantic_text:
            if not self.inference_id:
                raise EmbeddingError(
                    "backend semantic_text, but no inference endpoint was pushed by ensure_endpoint"
                )
            return bodies.semantic_text_mapping(self.inference_id, inference.chunking_settings)
        with self.calling(f"reading model [{self.model_id}]"):
            config = self.es.ml.get_trained_models(model_id=self.model_id)["trained_model_configs"][0]
        return bodies.embedding_field_mapping(config)

    def check_reusable(self, settings: PipelineSettings, field_mapping: dict) -> None:
        with self.calling(f"reading destination index [{self.dest_index}]"):
            entries = self.es.indices.get_mapping(index=self.dest_index)
        if self.dest_index not in entries:
            raise EmbeddingError(f"[{self.dest_index}] is an alias, not an index; choose another dest_index")
        mappings = entries[self.dest_index]["mappings"]
        actual = bodies.field_mapping_at(mappings, settings.output_field)
        problems = []
        if not bodies.managed_meta(mappings):
            problems.append(f"it was not created by {MANAGED_BY} (mapping _meta.managed_by)")
        if actual is None or any(actual.get(k) != v for k, v in field_mapping.items()):
            problems.append(f"its field [{settings.output_field}] is mapped as {actual}, not {field_mapping}")
        if problems:
            raise EmbeddingError(
                f"destination index [{self.dest_index}] exists and cannot be reused: {'; '.join(problems)}. "
                "Choose another Param 'dest_index' or delete that index"
            )
        self.log.info("Destination index [%s] exists and is compatible: reusing it", self.dest_index)
