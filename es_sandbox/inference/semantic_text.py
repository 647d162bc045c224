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
from es_sandbox.inference.chunking import ChunkingSettings, parse_chunking_settings
from es_sandbox.inference.segmentation import Utf16Offsets
from es_sandbox.java import java_class, java_str
from es_sandbox.search import source as source_rendering
from es_sandbox.search.fetch_fields import register_value_fetcher
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


def minimal_service_settings(endpoint: Endpoint) -> dict[str, Any]:
    """MinimalServiceSettings of the endpoint: what a field's `model_settings` records of it (the
    service, the task type, and for dense vectors their dimensions, similarity and element type)."""
    settings: dict[str, Any] = {"service": endpoint.service, "task_type": endpoint.task_type}
    if endpoint.task_type == "text_embedding":
        dimensions, similarity, element_type = endpoint.embedding_settings()
        settings.update(dimensions=dimensions, similarity=similarity, element_type=element_type)
    return settings


def field_values(source: dict[str, Any], path: str) -> list[Any]:
    """The field's values in a document (arrays flattened, nulls dropped)."""
    return extract(source, path)


def explicitly_null(source: dict[str, Any], path: str) -> bool:
    """Whether the document sets the field to null (XContentMapValues.extractValue's EXPLICIT_NULL):
    the path may cross objects or be spelled with dots in a key."""
    parts = path.split(".")

    def walk(node: Any, at: int) -> bool:
        if not isinstance(node, dict):
            return False
        for end in range(len(parts), at, -1):
            key = ".".join(parts[at:end])
            if key in node and (node[key] is None if end == len(parts) else walk(node[key], end)):
                return True
        return False

    return walk(source, 0)


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


def chunk_texts(source: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any], str]]:
    """(source field, chunk, its text) of the field's chunks, in order: each text is the substring
    its offsets (UTF-16 units) cut from the values of the field that fed the chunk."""
    texts: dict[str, tuple[str, Utf16Offsets]] = {}
    out = []
    for field_name, chunk in stored_chunks_by_source(source, path):
        if field_name not in texts:
            text = joined_values(field_values(source, field_name))
            texts[field_name] = (text, Utf16Offsets(text))
        text, units = texts[field_name]
        start, end = units.from_utf16(chunk["start_offset"]), units.from_utf16(chunk["end_offset"])
        out.append((field_name, chunk, text[start:end]))
    return out


def source_fields(mapping: dict[str, Any], path: str) -> list[str]:
    """InferenceFieldMetadata's source fields: the field itself and the fields that copy to it, in
    name order (the order their chunks are stored in)."""
    return sorted([path, *copy_to_sources(mapping, path)])


def fetch_values(
    source: dict[str, Any], path: str, spec: dict[str, Any], value_format: str | None
) -> list[Any]:
    """SemanticTextFieldType.valueFetcher for the `fields` option: the original values as strings, or
    with `format: chunks` (9.2+) the texts of the field's chunks."""
    if value_format is None:
        return [value_text(v) for v in field_values(source, path)]
    if value_format != "chunks":
        raise illegal_argument(
            f"Unknown format [{value_format}] for field [{path}], only [chunks] is supported."
        )
    return [text for _, _, text in chunk_texts(source, path)]


register_value_fetcher(TYPE, fetch_values)


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

INDEX_OPTIONS = "index_options"
_INDEX_OPTIONS_TASK = {"dense_vector": "text_embedding", "sparse_vector": "sparse_embedding"}


def normalize_mapping(path: str, spec: dict[str, Any], context: mappings.ParseContext) -> None:
    """SemanticTextFieldMapper's parameters as a mapping stores them: `inference_id` always shown
    (the default endpoint when left out), `chunking_settings` only when set (null or {} unset them),
    `index_options` parsed and checked against the endpoint's model settings; then the field's place
    (Builder.build: never inside `nested`)."""
    version = context.version
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
        settings = parse_chunking_settings(spec["chunking_settings"], default_when_empty=False)
        if settings is None:
            del spec["chunking_settings"]
        else:
            spec["chunking_settings"] = settings.to_xcontent()
    if spec.get(INDEX_OPTIONS) is not None:
        _parse_index_options(path.rsplit(".", 1)[-1], spec[INDEX_OPTIONS])
    model = spec.get("model_settings")
    if model is not None and (not isinstance(model, dict) or "task_type" not in model):
        raise mappings.mapper_parsing(f"Failed to parse [model_settings] of [{path}]: Required [task_type]")
    if spec.get(INDEX_OPTIONS) is not None:
        _check_index_options(spec, inference_id_of(spec), context)
    if context.nested:
        raise illegal_argument(f"{TYPE} field [{path}] cannot be nested")
    put_in_order(spec)


def _parse_index_options(name: str, options: Any) -> None:
    """parseIndexOptionsFromMap: one kind of options, `dense_vector` (SemanticTextIndexOptions; a parse
    failure of its options comes wrapped in an ElasticsearchException) or `sparse_vector`."""
    if not isinstance(options, dict):
        raise EsError(
            400,
            "parse_exception",
            f"{INDEX_OPTIONS} should be a hash but was of type: {java_class(options)}",
        )
    if len(options) != 1:
        raise illegal_argument(f"Too many index options provided, found [[{', '.join(options)}]]")
    kind, given = next(iter(options.items()))
    if kind not in _INDEX_OPTIONS_TASK:
        raise illegal_argument(f"Unknown index options type [{kind}]")
    if kind == "dense_vector":
        try:
            _parse_dense_options(name, given)
        except EsError as err:
            raise _wrapped(err) from None


def _parse_dense_options(name: str, given: Any) -> None:
    if not isinstance(given, dict):
        raise EsError(
            400,
            "parse_exception",
            f"dense_vector should be a hash but was of type: {java_class(given)}",
        )
    kind = given.get("type")
    if kind is None:
        raise illegal_argument("Required type")
    if not mappings.is_vector_index_type(kind):
        raise illegal_argument(f"Unsupported index options type {java_str(kind)}")
    mappings.check_index_option_params(name, kind, given)


_JAVA_CLASSES = {
    "illegal_argument_exception": "java.lang.IllegalArgumentException",
    "mapper_parsing_exception": "org.elasticsearch.index.mapper.MapperParsingException",
    "parse_exception": "org.elasticsearch.ElasticsearchParseException",
}


def _wrapped(err: EsError) -> EsError:
    """new ElasticsearchException(cause): type `exception`, the cause's Java toString as reason."""
    return EsError(400, "exception", f"{_JAVA_CLASSES[err.type]}: {err.reason}", caused_by=err.to_xcontent())


def _check_index_options(spec: dict[str, Any], inference_id: str, context: mappings.ParseContext) -> None:
    """Builder.validateIndexOptions: options need the model settings (the field's, else its endpoint's,
    which must exist), of the task the options are for; dense options must suit the vectors."""
    model = spec.get("model_settings")
    if model is None and context.cluster is not None:
        model = context.cluster.inference.model_settings_of(inference_id)
    if model is None:
        raise illegal_argument(
            f"Model settings must be set to validate index options for inference ID [{inference_id}]"
        )
    kind, given = next(iter(spec[INDEX_OPTIONS].items()))
    required = _INDEX_OPTIONS_TASK[kind]
    if model.get("task_type") != required:
        raise illegal_argument(
            f"Invalid task type for index options, required [{required}] but was [{model.get('task_type')}]"
        )
    if kind == "dense_vector":
        mappings.check_index_options_fit(
            given["type"], model.get("dimensions"), model.get("element_type") or "float"
        )


def check_placement(path: str, spec: dict[str, Any], parent: dict[str, Any] | None) -> None:
    """doValidate: the object the field sits in must allow subobjects."""
    if parent is not None and str(parent.get("subobjects", True)).lower() == "false":
        raise illegal_argument(f"{TYPE} field [{path}] cannot be in an object field with subobjects disabled")


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
        validate=check_placement,
        in_dynamic_templates=False,  # FieldMapper.notFromDynamicTemplates
    ),
    replace=True,
)
