"""Request bodies this package sends: the ingest pipeline, the destination index, and the reindex and
copy requests. Pure functions."""

from __future__ import annotations

import copy
from typing import Any

from es_embedding.errors import EmbeddingError
from es_embedding.naming import MANAGED_BY
from es_embedding.settings import PipelineSettings

ELSER_INPUT_FIELD = "text_field"


def pipeline_definition(settings: PipelineSettings, model_ref: str) -> dict:
    """Inference processor input -> output; on failure, the document is kept and the failure recorded
    in `failure_field` (message and processor) so the verify step can count and show it."""
    failure = settings.failure_field
    return {
        "description": f"Embeds [{settings.input_field}] into [{settings.output_field}] with [{model_ref}]",
        "processors": [
            # A document embedded again (a resume pass) sheds the failure an earlier pass recorded.
            {"remove": {"field": failure, "ignore_missing": True}},
            {
                "inference": {
                    "tag": "embed",
                    "model_id": model_ref,
                    "input_output": [
                        {"input_field": settings.input_field, "output_field": settings.output_field}
                    ],
                    **({"ignore_missing": True} if settings.ignore_missing else {}),
                }
            },
        ],
        "on_failure": [
            {"set": {"field": f"{failure}.message", "value": "{{ _ingest.on_failure_message }}"}},
            {"set": {"field": f"{failure}.processor", "value": "{{ _ingest.on_failure_processor_type }}"}},
        ],
        "_meta": {"managed_by": MANAGED_BY},
    }


def same_pipeline(stored: dict, wanted: dict) -> bool:
    """Whether the stored pipeline already is `wanted` (ignoring its version)."""
    return all(stored.get(key) == value for key, value in wanted.items())


def embedding_field_mapping(model_config: dict) -> dict:
    """The mapping of the output field for a model's `inference_config`."""
    inference = model_config.get("inference_config") or {}
    if "text_expansion" in inference or "sparse_embedding" in inference:
        return {"type": "sparse_vector"}
    if "text_embedding" in inference:
        dims = inference["text_embedding"].get("embedding_size")
        if not dims:
            raise EmbeddingError(
                f"model [{model_config.get('model_id')}] has no text_embedding.embedding_size; "
                "cannot map a dense_vector field"
            )
        return {"type": "dense_vector", "dims": dims}
    raise EmbeddingError(
        f"model [{model_config.get('model_id')}] has inference_config {sorted(inference)}; "
        "only text_expansion (ELSER) and text_embedding models produce fields this DAG can map"
    )


def semantic_text_mapping(inference_id: str, chunking_settings: dict | None) -> dict:
    """The semantic_text field (Elastic's pattern: fed by copy_to from the text field, which keeps
    its lexical mapping), embedding with the endpoint; its chunking when the run sets one (a mapping's
    chunking wins over the endpoint's)."""
    mapping: dict[str, Any] = {"type": "semantic_text", "inference_id": inference_id}
    if chunking_settings:
        mapping["chunking_settings"] = chunking_settings
    return mapping


def inference_metadata_mappings(output_field: str) -> dict[str, dict]:
    """The fields the inference processor writes beside its output (`input_output` mode: under the
    output field's parent, or at the document's root): the model id, and `is_truncated: true` when the
    input was longer than the model reads. Mapped so that a strict source mapping takes them."""
    parent = output_field.rpartition(".")[0]
    prefix = f"{parent}." if parent else ""
    return {f"{prefix}model_id": {"type": "keyword"}, f"{prefix}is_truncated": {"type": "boolean"}}


def truncated_query(output_field: str) -> dict:
    """The destination documents whose input the model truncated (the inference processor's
    `is_truncated`, written only when true)."""
    field = next(name for name in inference_metadata_mappings(output_field) if name.endswith("is_truncated"))
    return {"term": {field: True}}


def _set_mapping(properties: dict, dotted: str, mapping: dict) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        properties = properties.setdefault(part, {}).setdefault("properties", {})
    properties.setdefault(leaf, mapping)


def dest_index_body(source: dict, settings: PipelineSettings, field_mapping: dict, meta: dict) -> dict:
    """Mappings and settings of the destination: the source's plus the embedding field and what the
    backend writes with it (the pipeline's failure record and inference metadata; for a
    semantic_text field, the input field's copy_to into it).

    `source` is one `GET <index>` entry ({"mappings", "settings"}). No default_pipeline: the reindex
    names the pipeline, so documents written later by other clients are not embedded by surprise.
    """
    mappings = copy.deepcopy(source.get("mappings") or {})
    properties = mappings.setdefault("properties", {})
    properties[settings.output_field] = field_mapping
    if field_mapping.get("type") == "semantic_text":
        text_field = field_mapping_at(mappings, settings.input_field)
        if text_field is not None:
            targets = text_field.get("copy_to") or []
            targets = [targets] if isinstance(targets, str) else list(targets)
            text_field["copy_to"] = [*targets, settings.output_field] if targets else settings.output_field
    else:
        properties[settings.failure_field] = {
            "properties": {"message": {"type": "text"}, "processor": {"type": "keyword"}}
        }
        for dotted, mapping in inference_metadata_mappings(settings.output_field).items():
            if field_mapping_at(mappings, dotted) is None:
                _set_mapping(properties, dotted, mapping)
    mappings["_meta"] = {"managed_by": MANAGED_BY, **meta}
    index_settings = (source.get("settings") or {}).get("index") or {}
    wanted = {key: index_settings[key] for key in ("number_of_shards", "analysis") if key in index_settings}
    return {"mappings": mappings, "settings": {"index": wanted} if wanted else {}}


def sample_search(field_type: str | None, field: str, text: str, model_ref: str) -> dict[str, Any]:
    """The `_search` arguments of a semantic query with `text` on the embedding field, as each kind of
    field is searched: `semantic` on a semantic_text field (the endpoint comes from the mapping), top-level
    `knn` with a `query_vector_builder` on a dense_vector field, `sparse_vector` on a sparse one; the
    model (`model_ref`: a deployment, model or endpoint id) embeds the query."""
    if field_type == "semantic_text":
        return {"query": {"semantic": {"field": field, "query": text}}}
    if field_type == "dense_vector":
        builder = {"text_embedding": {"model_id": model_ref, "model_text": text}}
        return {"knn": {"field": field, "k": 10, "num_candidates": 50, "query_vector_builder": builder}}
    return {"query": {"sparse_vector": {"field": field, "inference_id": model_ref, "query": text}}}


def field_mapping_at(mappings: dict, dotted: str) -> dict | None:
    """The mapping of `a.b.c` in {"properties": ...}, or None."""
    node: dict | None = mappings
    for part in dotted.split("."):
        node = ((node or {}).get("properties") or {}).get(part)
        if node is None:
            return None
    return node


def managed_meta(mappings: dict) -> dict | None:
    meta = mappings.get("_meta") or {}
    return meta if meta.get("managed_by") == MANAGED_BY else None


def source_value(source: dict, dotted: str):
    node = source
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def reindex_request(
    source: str,
    dest: dict[str, Any],
    query: dict | None,
    *,
    slices: int | str,
    conflicts: str,
    batch_size: int | None = None,
    requests_per_second: float = -1,
    max_docs: int | None = None,
) -> dict[str, Any]:
    """A `_reindex` from `source` into `dest` (its `dest` object: index, and the backend's way of
    embedding or copying, es_embedding.index.backend), as an ES task."""
    source_part: dict[str, Any] = {"index": source, "query": query or {"match_all": {}}}
    if batch_size:
        source_part["size"] = batch_size
    request: dict[str, Any] = {
        "source": source_part,
        "dest": dest,
        "wait_for_completion": False,
        "slices": slices,
        "requests_per_second": requests_per_second,
        "conflicts": conflicts,
    }
    if max_docs:
        request["max_docs"] = max_docs
    return request
