"""The `semantic_text` field type: where its fields are in a mapping, which endpoint they use, their
chunking settings, their `model_settings`, and the `_inference_fields` metadata that stores their
chunks (the 9.x format: `_source` keeps the original values only).

Stored shape, per semantic_text field `f` (ES's SemanticTextField, new format):
    "_inference_fields": {"f": {"inference": {
        "inference_id": ..., "model_settings": {...}, "chunking_settings": {...}  (only when mapped),
        "chunks": {"f": [{"start_offset": s, "end_offset": e, "embeddings": <tokens or floats>}]}}}}
The sandbox keeps `_inference_fields` as a top-level key of the stored source (a metadata field:
not mapped, not shown in `_source` unless `exclude_vectors: false`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from es_sandbox import mappings
from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.inference.chunking import ChunkingSettings, java_str, parse_chunking_settings
from es_sandbox.search import source as source_rendering
from es_sandbox.search.fields import extract

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Index
    from es_sandbox.inference.endpoints import Endpoint

TYPE = "semantic_text"
INFERENCE_FIELDS = "_inference_fields"
DEFAULT_INFERENCE_ID = ".elser-2-elasticsearch"
mappings.METADATA_SOURCE_KEYS.add(INFERENCE_FIELDS)  # a metadata field: never mapped
source_rendering.HIDDEN_SOURCE_KEYS.add(INFERENCE_FIELDS)  # shown only with exclude_vectors: false


def semantic_fields(mappings: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted path, field mapping) of every semantic_text field, multi-fields included."""

    def walk(props: dict[str, Any], prefix: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for name, spec in props.items():
            if not isinstance(spec, dict):
                continue
            path = f"{prefix}{name}"
            if spec.get("type") == TYPE:
                yield path, spec
            yield from walk(spec.get("properties") or {}, f"{path}.")
            yield from walk(spec.get("fields") or {}, f"{path}.")

    yield from walk(mappings.get("properties") or {}, "")


def has_semantic_fields(index: Index) -> bool:
    return next(semantic_fields(index.mappings), None) is not None


def inference_id_of(spec: dict[str, Any]) -> str:
    return spec.get("inference_id") or DEFAULT_INFERENCE_ID


def search_inference_id_of(spec: dict[str, Any]) -> str:
    """Query-time inference uses `search_inference_id`, else `inference_id`."""
    return spec.get("search_inference_id") or inference_id_of(spec)


def endpoint_ids(spec: dict[str, Any]) -> set[str]:
    return {inference_id_of(spec), search_inference_id_of(spec)}


def indices_using(cluster: Cluster, inference_id: str) -> list[str]:
    """SemanticTextInfoExtractor: the indices with a semantic_text field that uses the endpoint."""
    return sorted(
        index.name
        for index in cluster.indices.indices.values()
        if any(inference_id in endpoint_ids(spec) for _, spec in semantic_fields(index.mappings))
    )


def mapped_chunking(spec: dict[str, Any]) -> ChunkingSettings | None:
    """The field's own chunking settings (they win over the endpoint's); None when unset."""
    return parse_chunking_settings(spec.get("chunking_settings"), default_when_empty=False)


def model_settings(endpoint: Endpoint) -> dict[str, Any]:
    """MinimalServiceSettings of the endpoint, as the field's `model_settings` shows them."""
    settings: dict[str, Any] = {"service": endpoint.service, "task_type": endpoint.task_type}
    if endpoint.task_type == "text_embedding":
        settings.update(dimensions=endpoint_dimensions(endpoint), similarity="cosine", element_type="float")
    return settings


def endpoint_dimensions(endpoint: Endpoint) -> int:
    from es_sandbox.inference.endpoints import E5_DIMENSIONS, E5_IDS

    return E5_DIMENSIONS if endpoint.model_id in E5_IDS else 0


def field_values(source: dict[str, Any], path: str) -> list[Any]:
    """The field's values in a document (arrays flattened, nulls dropped)."""
    return extract(source, path)


def stored_inference(source: dict[str, Any], path: str) -> dict[str, Any] | None:
    """`_inference_fields.<path>.inference` of a document, in either the nested or the dotted form."""
    fields = source.get(INFERENCE_FIELDS)
    found = fields.get(path) if isinstance(fields, dict) else None
    if found is None:
        found = source.get(f"{INFERENCE_FIELDS}.{path}")
    inference = found.get("inference") if isinstance(found, dict) else None
    return inference if isinstance(inference, dict) else None


def copy_to_sources(mapping: dict[str, Any], path: str) -> list[str]:
    """The fields whose `copy_to` names the semantic_text field `path` (InferenceFieldMetadata's
    source fields besides the field itself), in mapping order."""

    def walk(props: dict[str, Any], prefix: str) -> Iterator[str]:
        for name, spec in props.items():
            if not isinstance(spec, dict):
                continue
            targets = spec.get("copy_to")
            if path in ([targets] if isinstance(targets, str) else targets or []):
                yield f"{prefix}{name}"
            yield from walk(spec.get("properties") or {}, f"{prefix}{name}.")

    return list(walk(mapping.get("properties") or {}, ""))


def stored_chunks_by_source(source: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """(source field, chunk) of the field's chunks, in order: a copy_to target holds chunks under each
    source field, their offsets into that field's values."""
    inference = stored_inference(source, path)
    chunks = (inference or {}).get("chunks")
    if isinstance(chunks, dict):
        return [
            (field, c)
            for field, part in chunks.items()
            if isinstance(part, list)
            for c in part
            if isinstance(c, dict)
        ]
    if isinstance(chunks, list):  # the legacy format keeps a plain list
        return [(path, c) for c in chunks if isinstance(c, dict)]
    return []


def stored_chunks(source: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The field's chunks, in order (a copy_to target holds chunks under each source field)."""
    return [chunk for _, chunk in stored_chunks_by_source(source, path)]


def joined_values(values: list[Any]) -> str:
    """The virtual text chunk offsets point into: values joined by one separator character."""
    return " ".join(value_text(v) for v in values)


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


# --- the mapping -------------------------------------------------------------------------------------

_INDEX_OPTION_KINDS = ("dense_vector", "sparse_vector")


def normalize_mapping(path: str, spec: dict[str, Any], version: mappings.Version) -> None:
    """SemanticTextFieldMapper's parameters as a mapping stores them: `inference_id` always shown
    (the default endpoint when left out), `chunking_settings` only when set (null or {} unset them)."""
    if version < (8, 15, 0):
        raise mappings.mapper_parsing(
            f"No handler for type [{TYPE}] declared on field [{path.rsplit('.', 1)[-1]}]"
        )
    inference_id = spec.get("inference_id")
    if inference_id is None:
        if version >= (8, 16, 0):
            spec["inference_id"] = DEFAULT_INFERENCE_ID
    elif not isinstance(inference_id, str) or not inference_id:
        raise mappings.mapper_parsing(f"[inference_id] on mapper [{path}] of type [{TYPE}] must not be empty")
    search_id = spec.get("search_inference_id")
    if search_id is not None and (not isinstance(search_id, str) or not search_id):
        raise mappings.mapper_parsing(
            f"[search_inference_id] on mapper [{path}] of type [{TYPE}] must not be empty"
        )
    if "chunking_settings" in spec:
        try:
            settings = parse_chunking_settings(spec["chunking_settings"], default_when_empty=False)
        except EsError as err:
            raise illegal_argument(err.reason) from None
        if settings is None:
            del spec["chunking_settings"]
        else:
            spec["chunking_settings"] = settings.to_xcontent()
    options = spec.get("index_options")
    if options is not None:
        if (
            not isinstance(options, dict)
            or len(options) != 1
            or next(iter(options)) not in _INDEX_OPTION_KINDS
        ):
            raise mappings.mapper_parsing(f"Unsupported index options type {java_str(options)}")
    model = spec.get("model_settings")
    if model is not None and (not isinstance(model, dict) or "task_type" not in model):
        raise mappings.mapper_parsing(f"Failed to parse [model_settings] of [{path}]: Required [task_type]")
    put_in_order(spec)


_PARAM_ORDER = (
    "type",
    "inference_id",
    "search_inference_id",
    "model_settings",
    "chunking_settings",
    "index_options",
)


def put_in_order(spec: dict[str, Any]) -> None:
    """The parameters in the order the mapper writes them (the others after them, as given)."""
    ordered = {k: spec[k] for k in _PARAM_ORDER if k in spec}
    rest = {k: v for k, v in spec.items() if k not in ordered}
    spec.clear()
    spec.update(ordered)
    spec.update(rest)


def set_model_settings(spec: dict[str, Any], settings: dict[str, Any]) -> None:
    """The field learns its endpoint's model settings from its first document."""
    spec["model_settings"] = dict(settings)
    put_in_order(spec)


mappings.register_field_type(
    TYPE,
    mappings.FieldType(
        mappings.FIELD_TYPES[TYPE].params,
        updatable=mappings.FIELD_TYPES[TYPE].updatable,
        normalize=normalize_mapping,
    ),
    replace=True,
)
