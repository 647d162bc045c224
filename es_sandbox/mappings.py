"""Index mappings: validation of explicit mappings, merging (put mapping), dynamic mapping of new
fields while indexing, value checks against mapped types, and field-type lookup for queries.

Mappings are kept in Elasticsearch's own shape, {"properties": {...}, "dynamic"?: ...}, so GET
answers them as stored.
"""

from __future__ import annotations

import copy
import json
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from es_sandbox.config import DEFAULT_VERSION
from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.java import java_class, java_str
from es_sandbox.versions import release_of_index_version

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

NUMERIC_TYPES = {
    "long",
    "integer",
    "short",
    "byte",
    "double",
    "float",
    "half_float",
    "scaled_float",
    "unsigned_long",
}
INTEGER_TYPES = {"long", "integer", "short", "byte", "unsigned_long"}
OBJECT_TYPES = {"object", "nested"}
LEAF_TYPES = NUMERIC_TYPES | {
    "text",
    "keyword",
    "match_only_text",
    "wildcard",
    "constant_keyword",
    "boolean",
    "date",
    "date_nanos",
    "ip",
    "binary",
    "flattened",
    "sparse_vector",
    "dense_vector",
    "rank_feature",
    "rank_features",
    "semantic_text",
    "geo_point",
    "version",
    "alias",
}
STRING_TYPES = {"text", "match_only_text", "keyword", "wildcard", "constant_keyword", "version", "ip"}
# Fields whose value is a whole JSON object (not sub-fields): the object is the value.
OBJECT_VALUED_TYPES = {"sparse_vector", "rank_features", "flattened"}

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$")
# What a date field accepts: strict_date_optional_time (partial dates too) or epoch_millis.
_DATE_VALUE_RE = re.compile(
    r"^(-?\d+|\d{4}(-\d{2}(-\d{2}([T ]\d{2}(:\d{2}(:\d{2}([.,]\d{1,9})?)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?)?)$"
)


def mapper_parsing(reason: str, *, caused_by: dict | None = None) -> EsError:
    return EsError(400, "mapper_parsing_exception", reason, caused_by=caused_by)


def document_parsing(reason: str, *, caused_by: dict | None = None) -> EsError:
    return EsError(400, "document_parsing_exception", reason, caused_by=caused_by)


# --- versions -------------------------------------------------------------------------------------

Version = tuple[int, int, int]
LATEST: Version = tuple(int(p) for p in DEFAULT_VERSION.split("."))  # type: ignore[assignment]


def release_of(created: Any) -> Version:
    """The release an index was created on, from `index.version.created` (the IndexVersion id a 9.5
    node writes, or the legacy id major*1000000 + minor*10000 + patch*100 + 99 of releases whose
    IndexVersion the sandbox does not know); LATEST when unknown."""
    try:
        number = int(created)
    except (TypeError, ValueError):
        return LATEST
    return release_of_index_version(number) or LATEST


# --- field types --------------------------------------------------------------------------------

_COMMON = frozenset({"type", "meta"})
_STORED = frozenset({"store", "doc_values", "index", "copy_to", "fields"})
_SCRIPTED = frozenset({"script", "on_script_error"})
_NUMBER_PARAMS = (
    _COMMON
    | _STORED
    | _SCRIPTED
    | {
        "coerce",
        "ignore_malformed",
        "null_value",
        "time_series_dimension",
        "time_series_metric",
    }
)


@dataclass(frozen=True)
class ParseContext:
    """What parsing one field's mapping may need besides the field (as much of ES's
    MappingParserContext as the sandbox uses): the release that creates or created the index (its
    defaults), whether the field sits inside a `nested` object, and the cluster, for field types whose
    checks read cluster state (a semantic_text field's inference endpoint); None where there is none
    to ask (dynamic mapping of a document's new field)."""

    version: Version = LATEST
    cluster: Cluster | None = None
    nested: bool = False


@dataclass(frozen=True)
class FieldType:
    """What a mapping may say about one field type: its parameters (anything else is refused as ES
    refuses it), those put-mapping may change, an optional check that also fills defaults
    (`normalize`, while the mapping is parsed), an optional check of the field in the whole mapping it
    ends up in (`validate(path, spec, parent)`, after parsing and after every merge, as ES's
    FieldMapper.doValidate; `parent` is the object mapping the field sits in, None at the root), and
    whether a dynamic template may map fields to it."""

    params: frozenset[str]
    updatable: frozenset[str] = frozenset({"meta", "fields", "copy_to", "ignore_above"})
    normalize: Callable[[str, dict[str, Any], ParseContext], None] | None = None
    validate: Callable[[str, dict[str, Any], dict[str, Any] | None], None] | None = None
    in_dynamic_templates: bool = True


FIELD_TYPES: dict[str, FieldType] = {}


def register_field_type(name: str, field_type: FieldType, *, replace: bool = False) -> None:
    """Declare a field type (another subsystem declares its own, e.g. `semantic_text`)."""
    if name in FIELD_TYPES and not replace:
        raise ValueError(f"field type [{name}] is already registered")
    FIELD_TYPES[name] = field_type


# --- explicit mappings ---------------------------------------------------------------------------

_ROOT_PARAMS = (
    "dynamic",
    "_source",
    "_meta",
    "dynamic_templates",
    "_routing",
    "runtime",
    "date_detection",
    "numeric_detection",
    "dynamic_date_formats",
    "subobjects",
    "enabled",
)


def normalize(
    mappings: dict[str, Any] | None, *, version: Version = LATEST, cluster: Cluster | None = None
) -> dict[str, Any]:
    """Validate a create-index / put-mapping body and return it in stored shape, defaults filled
    as the index's release fills them (`cluster`: the cluster the index is in, for field types whose
    checks read its state). A bad mapping is refused as MapperService.parseMapping refuses it:
    `mapper_parsing_exception` "Failed to parse mapping: <why>", caused by the reason; then the parsed
    mapping is validated as a whole (validate_mapping)."""
    if not mappings:
        return {}
    if not isinstance(mappings, dict):
        raise mapper_parsing("Failed to parse mapping: mapping must be an object")
    body = dict(mappings)
    if "_doc" in body and isinstance(body["_doc"], dict) and len(body) == 1:
        raise mapper_parsing(
            "The mapping definition cannot be nested under a type [_doc] unless include_type_name is set to true."
        )
    try:
        parsed = _normalize_root(body, ParseContext(version, cluster))
    except EsError as err:
        if err.type not in _PARSE_FAILURES:
            raise
        wrapped = mapper_parsing(f"Failed to parse mapping: {err.reason}", caused_by=err.to_xcontent())
        root = _root_cause(err)
        wrapped.root_cause = [root] if root else None
        raise wrapped from None
    validate_mapping(parsed)
    return parsed


# What MapperService.parseMapping wraps: the parsers' own exceptions (ES wraps every one).
_PARSE_FAILURES = (
    "mapper_parsing_exception",
    "illegal_argument_exception",
    "validation_exception",
    "parse_exception",
    "exception",
)
# Exceptions of Java's or of ES's common code that are no ElasticsearchException: never a root cause.
_PLAIN_JAVA = ("illegal_argument_exception", "validation_exception")


def _root_cause(err: EsError) -> dict[str, Any] | None:
    """ElasticsearchException.guessRootCauses: down the cause chain while the causes are
    ElasticsearchExceptions, the last one (None: the wrapping exception itself)."""
    found = None
    cause: dict[str, Any] | None = err.to_xcontent()
    while cause is not None and cause.get("type") not in _PLAIN_JAVA:
        found = {k: v for k, v in cause.items() if k != "caused_by"}
        cause = cause.get("caused_by")
    return found


def _normalize_root(body: dict[str, Any], context: ParseContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "properties":
            out["properties"] = _normalize_properties(value, "", context)
        elif key == "_source" and isinstance(value, dict):
            source = _normalize_source(value, context.version)
            if source:
                out["_source"] = source
        elif key == "dynamic_templates":
            _check_dynamic_templates(value)
            out[key] = value
        elif key in _ROOT_PARAMS:
            out[key] = value
        else:
            raise mapper_parsing(
                f"Root mapping definition has unsupported parameters:  [{key} : {java_str(value)}]"
            )
    return out


def _normalize_source(spec: dict[str, Any], version: Version) -> dict[str, Any]:
    """SourceFieldMapper.Builder: `mode` and `enabled` exclude each other; on indices created by 9.0 or
    later (IndexVersions.SOURCE_MAPPER_MODE_ATTRIBUTE_NOOP) `mode` is accepted and does nothing, so the
    mapping never shows it (`index.mapping.source.mode` is the setting that chooses the source mode)."""
    if "mode" in spec and "enabled" in spec:
        raise mapper_parsing("Cannot set both [mode] and [enabled] parameters")
    if version >= (9, 0, 0):
        return {k: v for k, v in spec.items() if k != "mode"}
    return dict(spec)


def _normalize_properties(props: Any, prefix: str, context: ParseContext) -> dict[str, Any]:
    if not isinstance(props, dict):
        raise mapper_parsing(
            f"Expected map for property [properties] on field [{prefix.rstrip('.') or '_doc'}] but got a "
            f"{java_class(props)}"
        )
    out: dict[str, Any] = {}
    for name, spec in props.items():
        if not name or not name.strip("."):
            raise illegal_argument("field name cannot be an empty string")
        if "." in name:  # "a.b": {...} is shorthand for a: {properties: {b: {...}}}
            head, _, rest = name.partition(".")
            nested = _normalize_properties({rest: spec}, f"{prefix}{head}.", context)
            existing = out.setdefault(head, {"properties": {}})
            existing.setdefault("properties", {}).update(nested)
            continue
        out[name] = _normalize_field(name, spec, f"{prefix}{name}", context)
    return out


def _normalize_field(name: str, spec: Any, path: str, context: ParseContext) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise mapper_parsing(
            f"Expected map for property [fields] on field [{name}] but got a {java_class(spec)}"
        )
    spec = dict(spec)
    ftype = spec.get("type", "object" if "type" not in spec else None)
    if not isinstance(ftype, str):
        raise mapper_parsing(f"No type specified for field [{name}]")
    if ftype in OBJECT_TYPES:
        for key in spec:
            if key not in _OBJECT_PARAMS[ftype]:
                raise mapper_parsing(f"unknown parameter [{key}] on mapper [{path}] of type [{ftype}]")
        if "properties" in spec:
            inner = replace(context, nested=True) if ftype == "nested" else context
            spec["properties"] = _normalize_properties(spec["properties"], f"{path}.", inner)
        return spec
    field_type = FIELD_TYPES.get(ftype)
    if field_type is None:
        raise mapper_parsing(f"No handler for type [{ftype}] declared on field [{name}]")
    for key in spec:
        if key not in field_type.params:
            raise mapper_parsing(f"unknown parameter [{key}] on mapper [{path}] of type [{ftype}]")
    if "fields" in spec:
        if not isinstance(spec["fields"], dict):
            raise mapper_parsing(
                f"Expected map for property [fields] on field [{name}] but got a {java_class(spec['fields'])}"
            )
        spec["fields"] = {
            sub: _normalize_field(sub, sub_spec, f"{path}.{sub}", context)
            for sub, sub_spec in spec["fields"].items()
        }
    if field_type.normalize is not None:
        field_type.normalize(path, spec, context)
    return spec


# --- whole-mapping checks ------------------------------------------------------------------------------


def validate_mapping(mapping: dict[str, Any]) -> None:
    """MappingLookup's validation of a parsed or merged mapping: each field type's own check of where
    its fields sit (FieldMapper.doValidate); its errors are not wrapped."""
    for path, spec, parent in _fields_with_parents(mapping.get("properties") or {}, "", None):
        field_type = FIELD_TYPES.get(field_type_of(spec))
        if field_type is not None and field_type.validate is not None:
            field_type.validate(path, spec, parent)


def _fields_with_parents(
    props: dict[str, Any], prefix: str, parent: dict[str, Any] | None
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(path, field, the object mapping it sits in) of every leaf field; a multi-field sits where its
    parent field does."""
    for name, spec in props.items():
        if not isinstance(spec, dict):
            continue
        path = f"{prefix}{name}"
        if field_type_of(spec) in OBJECT_TYPES:
            yield from _fields_with_parents(spec.get("properties") or {}, f"{path}.", spec)
            continue
        yield path, spec, parent
        for sub, sub_spec in (spec.get("fields") or {}).items():
            if isinstance(sub_spec, dict):
                yield f"{path}.{sub}", sub_spec, parent


# DynamicTemplate.XContentFieldType, in declaration order.
_DYNAMIC_FIELD_TYPES = ("object", "string", "long", "double", "boolean", "date", "binary")


def _check_dynamic_templates(templates: Any) -> None:
    """RootObjectMapper.validateDynamicTemplate, for the field types that refuse dynamic templates
    (FieldMapper.notFromDynamicTemplates): such a template fails for every type it would be tried with,
    and a template tried with none (no match_mapping_type, match or path_match) is not validated."""
    if not isinstance(templates, list):
        return
    for entry in templates:
        if not isinstance(entry, dict) or len(entry) != 1:
            continue
        name, params = next(iter(entry.items()))
        mapping = params.get("mapping") if isinstance(params, dict) else None
        if not isinstance(mapping, dict) or "{name}" in json.dumps(mapping):
            continue
        ftype = mapping.get("type")
        field_type = FIELD_TYPES.get(ftype) if isinstance(ftype, str) else None
        if field_type is None or field_type.in_dynamic_templates:
            continue
        types = _template_types(params)
        if not types:
            continue
        cause = mapper_parsing(
            f"Field [__dynamic__{name}] of type [{ftype}] can't be used in dynamic templates"
        )
        raise EsError(
            400,
            "illegal_argument_exception",
            f"dynamic template [{name}] has invalid content [{_template_json(params, types)}], attempted to "
            f"validate it with the following match_mapping_type: [{', '.join(types)}]",
            caused_by=cause.to_xcontent(),
        )


def _template_types(params: dict[str, Any]) -> list[str]:
    """DynamicTemplate.parse: the JSON types a template applies to."""
    given = params.get("match_mapping_type")
    if given == "*" or (given is None and (params.get("match") or params.get("path_match"))):
        return list(_DYNAMIC_FIELD_TYPES)
    return [str(given)] if given is not None else []


def _template_json(params: dict[str, Any], types: list[str]) -> str:
    """DynamicTemplate.toXContent: patterns (one as a string, several as a list), the types, the match
    pattern when set, then the mapping with its keys sorted."""
    out: dict[str, Any] = {}
    for key in ("match", "path_match", "unmatch", "path_unmatch"):
        value = params.get(key)
        if value is not None and value != []:
            values = value if isinstance(value, list) else [str(value)]
            out[key] = values[0] if len(values) == 1 else values
    if len(types) > 1 and "match" not in out and "path_match" not in out:
        out["match_mapping_type"] = "*"
    elif len(types) == 1:
        out["match_mapping_type"] = types[0]
    if params.get("match_pattern") is not None:
        out["match_pattern"] = params["match_pattern"]
    out["mapping"] = dict(sorted(params["mapping"].items()))
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


_OBJECT_PARAMS = {
    "object": frozenset({"type", "properties", "dynamic", "enabled", "subobjects"}),
    "nested": frozenset({"type", "properties", "dynamic", "enabled", "include_in_parent", "include_in_root"}),
}


# --- dense_vector ----------------------------------------------------------------------------------

SIMILARITIES = ("l2_norm", "dot_product", "cosine", "max_inner_product")
ELEMENT_TYPES = ("float", "byte", "bit")
BBQ_DIMS_DEFAULT_THRESHOLD = 384
_INDEX_OPTION_TYPES = {
    "hnsw": {"m", "ef_construction"},
    "int8_hnsw": {"m", "ef_construction", "confidence_interval", "rescore_vector"},
    "int4_hnsw": {"m", "ef_construction", "confidence_interval", "rescore_vector"},
    "bbq_hnsw": {"m", "ef_construction", "rescore_vector"},
    "flat": set(),
    "int8_flat": {"confidence_interval", "rescore_vector"},
    "int4_flat": {"confidence_interval", "rescore_vector"},
    "bbq_flat": {"rescore_vector"},
}


def _normalize_dense_vector(path: str, spec: dict[str, Any], context: ParseContext) -> None:
    """DenseVectorFieldMapper.Builder as the release that created the index builds it: indexed by
    default from 8.11 (cosine similarity), int8_hnsw index options from 8.14, bbq_hnsw for float
    vectors of 384 dims or more from 9.1. Options that depend on dims are filled once dims are known."""
    version = context.version
    element_type = spec.get("element_type", "float")
    if element_type not in ELEMENT_TYPES:
        raise mapper_parsing(f"invalid element_type [{element_type}]; available types are [float, byte, bit]")
    dims = spec.get("dims")
    if dims is not None:
        if not isinstance(dims, int) or isinstance(dims, bool):
            raise mapper_parsing(
                f"Property [dims] on field [{path}] must be an integer but got [{java_str(dims)}]"
            )
        low, high = (8, 4096 * 8) if element_type == "bit" else (1, 4096)
        if not low <= dims <= high:
            raise mapper_parsing(
                f"The number of dimensions should be in the range [{low}, {high}] but was [{dims}]"
            )
        if element_type == "bit" and dims % 8:
            raise mapper_parsing(f"The number of dimensions for should be a multiple of 8 but was [{dims}]")
    similarity = spec.get("similarity")
    if similarity is not None and similarity not in SIMILARITIES:
        raise mapper_parsing(
            f"Unknown value [{similarity}] for field [similarity] - accepted values are [{', '.join(SIMILARITIES)}]"
        )
    if element_type == "bit" and similarity not in (None, "l2_norm"):
        raise illegal_argument("The [l2_norm] similarity is the only supported similarity for bit vectors")
    indexed_by_default = version >= (8, 11, 0)
    indexed = spec.get("index", indexed_by_default)
    if not indexed:
        for param in ("similarity", "index_options"):
            if param in spec:
                raise illegal_argument(
                    f"Field [{param}] can only be specified for a field of type [dense_vector] when it is indexed"
                )
    options = spec.get("index_options")
    if options is not None:
        _check_index_options(path, options, dims, element_type)
    if indexed_by_default:
        spec["index"] = bool(indexed)  # always shown from 8.11
        if indexed and similarity is None:
            spec["similarity"] = "l2_norm" if element_type == "bit" else "cosine"
    fill_dense_vector_defaults(spec, version)


def fill_dense_vector_defaults(spec: dict[str, Any], version: Version) -> None:
    """The default index_options of an indexed float dense_vector once its dims are known."""
    if "index_options" in spec or not spec.get("index") or spec.get("element_type", "float") != "float":
        return
    dims = spec.get("dims")
    if dims is None or version < (8, 14, 0):
        return
    if version >= (9, 1, 0) and dims >= BBQ_DIMS_DEFAULT_THRESHOLD:
        spec["index_options"] = {
            "type": "bbq_hnsw",
            "m": 16,
            "ef_construction": 100,
            "rescore_vector": {"oversample": 3.0},
        }
    else:
        spec["index_options"] = {"type": "int8_hnsw", "m": 16, "ef_construction": 100}


def _check_index_options(path: str, options: Any, dims: Any, element_type: str) -> None:
    if not isinstance(options, dict):
        raise mapper_parsing(
            f"Expected map for property [index_options] on field [{path}] but got a {java_class(options)}"
        )
    kind = options.get("type")
    if kind is None:
        raise mapper_parsing("[index_options] requires field [type] to be configured")
    if kind not in _INDEX_OPTION_TYPES:
        raise mapper_parsing(f"Unknown vector index options type [{kind}] for field [{path}]")
    check_index_option_params(path.rsplit(".", 1)[-1], kind, options)
    check_index_options_fit(kind, dims, element_type)


def is_vector_index_type(kind: Any) -> bool:
    return isinstance(kind, str) and kind in _INDEX_OPTION_TYPES


def check_index_option_params(name: str, kind: str, options: dict[str, Any]) -> None:
    """VectorIndexType.parseIndexOptions: what the type does not take is refused
    (MappingParser.checkNoRemainingFields, `name` being the field's leaf name)."""
    rest = {k: v for k, v in options.items() if k != "type" and k not in _INDEX_OPTION_TYPES[kind]}
    if rest:
        listed = "".join(f" [{k} : {java_str(v)}]" for k, v in rest.items())
        raise mapper_parsing(f"Mapping definition for [{name}] has unsupported parameters: {listed}")


def check_index_options_fit(kind: str, dims: Any, element_type: str) -> None:
    """DenseVectorIndexOptions.validate: the index type against the vectors' element type and dims."""
    quantized = kind not in ("hnsw", "flat")
    if quantized and element_type != "float":
        raise illegal_argument(f"[element_type] cannot be [{element_type}] when using index type [{kind}]")
    if kind.startswith("bbq") and isinstance(dims, int) and dims < 64:
        raise illegal_argument(f"bbq vector index requires at least [64] dimensions, but got [{dims}]")


# --- the built-in field types ----------------------------------------------------------------------

_TEXT_PARAMS = _COMMON | {
    "analyzer",
    "search_analyzer",
    "search_quote_analyzer",
    "index",
    "index_options",
    "index_phrases",
    "index_prefixes",
    "norms",
    "position_increment_gap",
    "similarity",
    "store",
    "term_vector",
    "fielddata",
    "fielddata_frequency_filter",
    "eager_global_ordinals",
    "copy_to",
    "fields",
}
_KEYWORD_PARAMS = (
    _COMMON
    | _STORED
    | _SCRIPTED
    | {
        "eager_global_ordinals",
        "ignore_above",
        "index_options",
        "norms",
        "null_value",
        "similarity",
        "normalizer",
        "split_queries_on_whitespace",
        "time_series_dimension",
    }
)
for _name in NUMERIC_TYPES:
    register_field_type(
        _name, FieldType(_NUMBER_PARAMS | ({"scaling_factor"} if _name == "scaled_float" else set()))
    )
register_field_type(
    "text",
    FieldType(
        _TEXT_PARAMS,
        updatable=frozenset(
            {
                "meta",
                "fields",
                "copy_to",
                "search_analyzer",
                "search_quote_analyzer",
                "fielddata",
                "eager_global_ordinals",
            }
        ),
    ),
)
register_field_type("match_only_text", FieldType(_COMMON | {"fields", "copy_to"}))
register_field_type("keyword", FieldType(_KEYWORD_PARAMS))
register_field_type("constant_keyword", FieldType(_COMMON | {"value"}))
register_field_type("wildcard", FieldType(_COMMON | {"ignore_above", "null_value", "copy_to", "fields"}))
register_field_type("version", FieldType(_COMMON | {"copy_to", "fields"}))
register_field_type("ip", FieldType(_COMMON | _STORED | _SCRIPTED | {"ignore_malformed", "null_value"}))
register_field_type("boolean", FieldType(_COMMON | _STORED | _SCRIPTED | {"null_value", "ignore_malformed"}))
for _name in ("date", "date_nanos"):
    register_field_type(
        _name,
        FieldType(
            _COMMON
            | _STORED
            | _SCRIPTED
            | {"format", "locale", "ignore_malformed", "null_value", "print_format"}
        ),
    )
register_field_type("binary", FieldType(_COMMON | {"doc_values", "store"}))
register_field_type(
    "flattened",
    FieldType(
        _COMMON
        | {"depth_limit", "doc_values", "eager_global_ordinals", "ignore_above", "index", "index_options"}
        | {"null_value", "similarity", "split_queries_on_whitespace", "time_series_dimensions"}
    ),
)
register_field_type(
    "geo_point",
    FieldType(_COMMON | _STORED | _SCRIPTED | {"ignore_malformed", "ignore_z_value", "null_value"}),
)
register_field_type("alias", FieldType(frozenset({"type", "path"})))
register_field_type("rank_feature", FieldType(_COMMON | {"positive_score_impact"}))
register_field_type("rank_features", FieldType(_COMMON | {"positive_score_impact"}))
register_field_type("sparse_vector", FieldType(_COMMON | {"store", "index_options"}))
register_field_type(
    "dense_vector",
    FieldType(
        _COMMON | {"dims", "element_type", "index", "index_options", "similarity"},
        updatable=frozenset({"meta", "index_options"}),
        normalize=_normalize_dense_vector,
    ),
)
# The inference subsystem replaces this with its own checks (register_field_type(..., replace=True)).
register_field_type(
    "semantic_text",
    FieldType(
        _COMMON
        | {
            "inference_id",
            "search_inference_id",
            "model_settings",
            "chunking_settings",
            "index_options",
            "copy_to",
            "fields",
        },
        updatable=frozenset(
            {"meta", "search_inference_id", "inference_id", "model_settings", "chunking_settings", "fields"}
        ),
    ),
)


# --- merging ---------------------------------------------------------------------------------------


def merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Put-mapping semantics (MapperService.merge): new fields are added; an existing field keeps its
    type, and parameters its type does not let change must be given again unchanged. `update` is a
    normalized mapping (defaults filled by the same release, so they compare equal)."""
    merged = copy.deepcopy(current)
    for key, value in update.items():
        if key == "properties":
            merged["properties"] = _merge_properties(merged.get("properties", {}), value, "")
        else:
            merged[key] = value
    validate_mapping(merged)
    return merged


# index_options a dense_vector may move to (DenseVectorFieldMapper.IndexOptions.updatableTo)
_INDEX_OPTIONS_UPGRADES = {
    "flat": set(_INDEX_OPTION_TYPES),
    "int8_flat": {"int8_flat", "int4_flat", "bbq_flat", "hnsw", "int8_hnsw", "int4_hnsw", "bbq_hnsw"},
    "int4_flat": {"int4_flat", "bbq_flat", "int4_hnsw", "bbq_hnsw"},
    "bbq_flat": {"bbq_flat", "bbq_hnsw"},
    "hnsw": {"hnsw", "int8_hnsw", "int4_hnsw", "bbq_hnsw"},
    "int8_hnsw": {"int8_hnsw", "int4_hnsw", "bbq_hnsw"},
    "int4_hnsw": {"int4_hnsw", "bbq_hnsw"},
    "bbq_hnsw": {"bbq_hnsw"},
}


def _merge_properties(current: dict[str, Any], update: dict[str, Any], prefix: str) -> dict[str, Any]:
    for name, spec in update.items():
        path = f"{prefix}{name}"
        if name not in current:
            current[name] = spec
            continue
        old = current[name]
        old_type, new_type = field_type_of(old), field_type_of(spec)
        if old_type in OBJECT_TYPES and new_type in OBJECT_TYPES:
            if old_type != new_type:
                raise illegal_argument(f"can't merge a non-nested mapping [{path}] with a nested mapping")
            for param, value in spec.items():
                if param == "properties":
                    old["properties"] = _merge_properties(old.get("properties", {}), value, f"{path}.")
                else:
                    old[param] = value
            continue
        if old_type in OBJECT_TYPES or new_type in OBJECT_TYPES:
            raise illegal_argument(f"can't merge a non object mapping [{path}] with an object mapping")
        if old_type != new_type:
            raise illegal_argument(
                f"mapper [{path}] cannot be changed from type [{old_type}] to [{new_type}]"
            )
        current[name] = _merge_field(path, old, spec)
    return current


def _merge_field(path: str, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    field_type = FIELD_TYPES.get(field_type_of(old))
    updatable = field_type.updatable if field_type else frozenset()
    conflicts = []
    merged: dict[str, Any] = {"type": old["type"]}
    for param in dict.fromkeys([*old, *new]):
        if param == "type":
            continue
        before, after = old.get(param), new.get(param)
        if param == "fields":
            merged["fields"] = _merge_properties(copy.deepcopy(before or {}), after or {}, f"{path}.")
            continue
        if param == "dims":  # learnt once, from null (DenseVectorFieldMapper's merge validator)
            if before is not None and before != after:
                conflicts.append(param)
        elif param == "index_options" and before is not None and after is not None:
            if after.get("type") not in _INDEX_OPTIONS_UPGRADES.get(before.get("type"), {before.get("type")}):
                conflicts.append(param)
        elif param not in updatable and before != after:
            conflicts.append(param)
        if after is not None:
            merged[param] = after
        elif param not in updatable and before is not None:
            merged[param] = before
    if conflicts:
        lines = "".join(
            f"\n\tCannot update parameter [{p}] from [{java_str(old.get(p))}] to [{java_str(new.get(p))}]"
            for p in conflicts
        )
        raise illegal_argument(f"Mapper for [{path}] conflicts with existing mapper:{lines}")
    return merged


def field_type_of(spec: dict[str, Any]) -> str:
    return spec.get("type", "object")


# --- lookup ----------------------------------------------------------------------------------------


def lookup(mappings: dict[str, Any], path: str) -> dict[str, Any] | None:
    """The mapping of a field by dotted path, multi-fields included ("title.keyword")."""
    container = mappings.get("properties", {})
    parts = path.split(".")
    spec: dict[str, Any] | None = None
    i = 0
    while i < len(parts):
        # A dotted leaf name is rare but legal; try the longest match first.
        for j in range(len(parts), i, -1):
            candidate = ".".join(parts[i:j])
            if candidate in container:
                spec, i = container[candidate], j
                break
        else:
            return None
        container = {**spec.get("properties", {}), **spec.get("fields", {})}
    return spec


def count_fields(mappings: dict[str, Any]) -> int:
    """Fields counted against index.mapping.total_fields.limit (objects and multi-fields count)."""

    def count(props: dict[str, Any]) -> int:
        total = 0
        for spec in props.values():
            total += 1 + count(spec.get("properties", {})) + count(spec.get("fields", {}))
        return total

    return count(mappings.get("properties", {}))


def is_object_valued(mappings: dict[str, Any], path: str) -> bool:
    spec = lookup(mappings, path)
    return spec is not None and spec.get("type") in OBJECT_VALUED_TYPES


# --- dynamic mapping and value checks while indexing ----------------------------------------------------------------


# Top-level keys of a stored source that are metadata fields, never mapped (the inference subsystem
# registers `_inference_fields`, where semantic_text keeps its chunks).
METADATA_SOURCE_KEYS: set[str] = set()


def map_document(
    mappings: dict[str, Any], source: dict[str, Any], doc_id: str | None, *, version: Version = LATEST
) -> dict[str, Any] | None:
    """Check `source` against the mapping; return the updated mapping when new fields were added
    dynamically or a dense_vector learnt its dims (None when nothing changed). Raises
    document_parsing_exception on bad values. `version` is the release that created the index."""
    dynamic = mappings.get("dynamic", True)
    props = mappings.get("properties", {})
    if METADATA_SOURCE_KEYS:
        source = {k: v for k, v in source.items() if k.split(".", 1)[0] not in METADATA_SOURCE_KEYS}
    new_props = _DocumentMapper(doc_id, version).map_object(props, source, "", dynamic)
    if new_props is None:
        return None
    updated = dict(mappings)
    updated["properties"] = new_props
    return updated


@dataclass(frozen=True)
class _DocumentMapper:
    doc_id: str | None
    version: Version

    def map_object(self, props: dict[str, Any], obj: dict[str, Any], prefix: str, dynamic: Any):
        changed: dict[str, Any] | None = None
        for name, value in obj.items():
            path = f"{prefix}{name}"
            if "." in name and name not in props:
                head, _, rest = name.partition(".")
                value, name = {rest: value}, head
                path = f"{prefix}{name}"
            spec = (changed or props).get(name)
            if spec is None:
                if value is None or value == []:
                    continue
                new_spec = self.dynamic_spec(value, path, dynamic)
                if new_spec is None:
                    continue
                changed = dict(changed or props)
                changed[name] = new_spec
                continue
            ftype = field_type_of(spec)
            if ftype in OBJECT_TYPES:
                sub_dynamic = spec.get("dynamic", dynamic)
                for item in value if isinstance(value, list) else [value]:
                    if item is None:
                        continue
                    if not isinstance(item, dict):
                        raise document_parsing(
                            f"object mapping for [{path}] tried to parse field [{name}] as object, but found a concrete "
                            "value"
                        )
                    sub = self.map_object(spec.get("properties", {}), item, f"{path}.", sub_dynamic)
                    if sub is not None:
                        new_spec = dict(spec)
                        new_spec["properties"] = sub
                        spec = new_spec
                        changed = dict(changed or props)
                        changed[name] = new_spec
                continue
            new_spec = check_value(spec, value, path, self.doc_id, version=self.version)
            if new_spec is not None:
                changed = dict(changed or props)
                changed[name] = new_spec
        return changed

    def dynamic_spec(self, value: Any, path: str, dynamic: Any) -> dict[str, Any] | None:
        if dynamic in (False, "false", "runtime"):
            return None
        if dynamic in ("strict",):
            leaf = path.rsplit(".", 1)
            within = leaf[0] if len(leaf) == 2 else "_doc"
            raise EsError(
                400,
                "strict_dynamic_mapping_exception",
                f"[1:2] mapping set to strict, dynamic introduction of [{leaf[-1]}] within [{within}] is not allowed",
            )
        if isinstance(value, list):
            if self._looks_like_a_vector(value):
                spec = {"type": "dense_vector", "dims": len(value)}
                _normalize_dense_vector(path, spec, ParseContext(self.version))
                check_value(spec, value, path, self.doc_id, version=self.version)
                return spec
            first = next((v for v in value if v is not None), None)
            return None if first is None else self.dynamic_spec(first, path, dynamic)
        if isinstance(value, bool):
            return {"type": "boolean"}
        if isinstance(value, int):
            return {"type": "long"}
        if isinstance(value, float):
            return {"type": "float"}
        if isinstance(value, str):
            if _DATE_RE.match(value):
                return {"type": "date"}
            return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
        if isinstance(value, dict):
            sub = self.map_object({}, value, f"{path}.", dynamic)
            return {"properties": sub or {}}
        return None

    def _looks_like_a_vector(self, value: list[Any]) -> bool:
        """An unmapped array of 128 to 4096 floats maps to dense_vector from 8.11 (DocumentParser)."""
        return (
            self.version >= (8, 11, 0)
            and 128 <= len(value) <= 4096
            and isinstance(value[0], float)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        )


def check_value(
    spec: dict[str, Any], value: Any, path: str, doc_id: str | None, *, version: Version = LATEST
) -> dict[str, Any] | None:
    """Reject values a mapped field cannot take; a dense_vector without dims learns them here
    (and the index options that depend on them): the updated spec is returned then."""
    ftype = field_type_of(spec)
    if value is None:
        return None
    if ftype in OBJECT_VALUED_TYPES:
        if ftype in ("sparse_vector", "rank_features") and not isinstance(value, dict | list):
            raise document_parsing(
                f"[1:2] failed to parse field [{path}] of type [{ftype}] in {_doc_ref(doc_id)}. "
                f"Preview of field's value: '{value}'",
                caused_by={
                    "type": "illegal_argument_exception",
                    "reason": f"[{ftype}] fields must be json objects, expected a START_OBJECT but got: VALUE_STRING",
                },
            )
        return None
    if ftype == "dense_vector":
        return _check_vector(spec, value, path, doc_id, version)
    for item in value if isinstance(value, list) else [value]:
        if item is None:
            continue
        if isinstance(item, dict) and ftype not in OBJECT_TYPES:
            raise document_parsing(
                f"[1:2] failed to parse field [{path}] of type [{ftype}] in {_doc_ref(doc_id)}. "
                "Preview of field's value: '" + java_str(item) + "'",
                caused_by={
                    "type": "illegal_state_exception",
                    "reason": "Can't get text on a START_OBJECT at 1:2",
                },
            )
        if ftype in NUMERIC_TYPES and not _coerces_to_number(item, ftype):
            raise document_parsing(
                f"[1:2] failed to parse field [{path}] of type [{ftype}] in {_doc_ref(doc_id)}. "
                f"Preview of field's value: '{item}'",
                caused_by={"type": "number_format_exception", "reason": f'For input string: "{item}"'},
            )
        if ftype == "boolean" and item not in (True, False, "true", "false", ""):
            raise document_parsing(
                f"[1:2] failed to parse field [{path}] of type [boolean] in {_doc_ref(doc_id)}. "
                f"Preview of field's value: '{item}'",
                caused_by={
                    "type": "illegal_argument_exception",
                    "reason": f"Failed to parse value [{item}] as only [true] or [false] are allowed.",
                },
            )
        if ftype == "date" and not isinstance(item, int | float) and not _DATE_VALUE_RE.match(str(item)):
            raise document_parsing(
                f"[1:2] failed to parse field [{path}] of type [date] in {_doc_ref(doc_id)}. "
                f"Preview of field's value: '{item}'",
                caused_by={
                    "type": "illegal_argument_exception",
                    "reason": f"failed to parse date field [{item}] with format [strict_date_optional_time||epoch_millis]",
                },
            )
    return None


def _check_vector(
    spec: dict[str, Any], value: Any, path: str, doc_id: str | None, version: Version
) -> dict[str, Any] | None:
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        raise document_parsing(
            f"[1:2] failed to parse field [{path}] of type [dense_vector] in {_doc_ref(doc_id)}. "
            f"Preview of field's value: '{java_str(value)}'"
        )
    dims = spec.get("dims")
    if dims is not None and len(value) != dims:
        reason = (
            f"The [dense_vector] field [{path}] in doc [{_doc_ref(doc_id)}] has a different number of dimensions "
            f"[{len(value)}] than defined in the mapping [{dims}]"
        )
        raise document_parsing(reason, caused_by={"type": "illegal_argument_exception", "reason": reason})
    problem = vector_problem(value, spec.get("similarity"), spec.get("element_type", "float"))
    if problem:
        raise document_parsing(
            f"[1:2] failed to parse: {problem}",
            caused_by={"type": "illegal_argument_exception", "reason": problem},
        )
    if dims is None:
        learned = dict(spec)
        learned["dims"] = len(value)
        fill_dense_vector_defaults(learned, version)
        return learned
    return None


def vector_problem(vector: list[float], similarity: str | None, element_type: str = "float") -> str | None:
    """ElementType.checkVectorMagnitude: what a similarity refuses in a vector (None: nothing)."""
    squared = sum(float(v) * float(v) for v in vector)
    if similarity == "cosine" and squared == 0.0:
        problem = "The [cosine] similarity does not support vectors with zero magnitude."
    elif similarity == "dot_product" and element_type == "float" and abs(squared - 1.0) > 1e-4:
        problem = "The [dot_product] similarity can only be used with unit-length vectors."
    else:
        return None
    shown = ", ".join(java_float(v) for v in vector[:5]) + (", ..." if len(vector) >= 5 else "")
    return f"{problem} Preview of invalid vector: [{shown}]"


def java_float(value: float) -> str:
    """A number stored as float32, printed as Java's Float.toString prints it: the shortest digits
    that read back as the same float32, in plain notation from 1e-3 to 1e7, else as 1.0E-5."""
    bits = struct.pack(">f", value)
    as_float32 = struct.unpack(">f", bits)[0]
    if as_float32 != as_float32 or as_float32 in (float("inf"), float("-inf")):
        return {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[str(as_float32)]
    if as_float32 == 0.0:
        return "-0.0" if bits[0] & 0x80 else "0.0"
    for precision in range(1, 10):
        digits = f"{as_float32:.{precision}e}" if precision > 1 else f"{as_float32:.0e}"
        if struct.pack(">f", float(digits)) == bits:
            break
    mantissa, _, exponent = digits.partition("e")
    sign = "-" if mantissa.startswith("-") else ""
    figures = mantissa.lstrip("-").replace(".", "").rstrip("0") or "0"
    power = int(exponent)
    if -3 <= power < 7:
        if power >= 0:
            whole, frac = figures[: power + 1].ljust(power + 1, "0"), figures[power + 1 :]
        else:
            whole, frac = "0", "0" * (-power - 1) + figures
        return f"{sign}{whole}.{frac or '0'}"
    return f"{sign}{figures[0]}.{figures[1:] or '0'}E{power}"


def _coerces_to_number(value: Any, ftype: str) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        number = float(str(value))
    except ValueError:
        return False
    return ftype not in INTEGER_TYPES or number == int(number)


def _doc_ref(doc_id: str | None) -> str:
    return f"document with id '{doc_id}'" if doc_id is not None else "document"
