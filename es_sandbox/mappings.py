"""Index mappings: validation of explicit mappings, merging (put mapping), dynamic mapping of new
fields while indexing, value checks against mapped types, and field-type lookup for queries.

Mappings are kept in Elasticsearch's own shape, {"properties": {...}, "dynamic"?: ...}, so GET
answers them as stored.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from es_sandbox.errors import EsError, illegal_argument

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


# --- explicit mappings ---------------------------------------------------------------------------


def normalize(mappings: dict[str, Any] | None) -> dict[str, Any]:
    """Validate a create-index / put-mapping body and return it in stored shape."""
    if not mappings:
        return {}
    if not isinstance(mappings, dict):
        raise mapper_parsing("Failed to parse mapping: mapping must be an object")
    body = dict(mappings)
    if "_doc" in body and isinstance(body["_doc"], dict) and len(body) == 1:
        raise mapper_parsing(
            "The mapping definition cannot be nested under a type [_doc] unless include_type_name is set to true."
        )
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "properties":
            out["properties"] = _normalize_properties(value, "")
        elif key in (
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
        ):
            out[key] = value
        else:
            raise mapper_parsing(
                f"Root mapping definition has unsupported parameters:  [{key} : {_java_str(value)}]"
            )
    return out


def _normalize_properties(props: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(props, dict):
        raise mapper_parsing(
            f"Expected map for property [properties] on field [{prefix or '_doc'}] but got a class java.lang.String"
        )
    out: dict[str, Any] = {}
    for name, spec in props.items():
        if "." in name:  # "a.b": {...} is shorthand for a: {properties: {b: {...}}}
            head, _, rest = name.partition(".")
            nested = _normalize_properties({rest: spec}, f"{prefix}{head}.")
            existing = out.setdefault(head, {"properties": {}})
            existing.setdefault("properties", {}).update(nested)
            continue
        out[name] = _normalize_field(name, spec, f"{prefix}{name}")
    return out


def _normalize_field(name: str, spec: Any, path: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise mapper_parsing(
            f"Expected map for property [fields] on field [{name}] but got a class java.lang.String"
        )
    spec = dict(spec)
    ftype = spec.get("type")
    if ftype is None:
        ftype = "object" if "properties" in spec or "type" not in spec else None
    if ftype not in LEAF_TYPES and ftype not in OBJECT_TYPES:
        raise mapper_parsing(f"No handler for type [{ftype}] declared on field [{name}]")
    if ftype in OBJECT_TYPES:
        if "properties" in spec:
            spec["properties"] = _normalize_properties(spec["properties"], f"{path}.")
        return spec
    if "fields" in spec:
        if not isinstance(spec["fields"], dict):
            raise mapper_parsing(f"Expected map for property [fields] on field [{name}]")
        spec["fields"] = {
            sub: _normalize_field(sub, sub_spec, f"{path}.{sub}") for sub, sub_spec in spec["fields"].items()
        }
    if ftype == "dense_vector":
        _normalize_dense_vector(name, spec)
    return spec


def _normalize_dense_vector(name: str, spec: dict[str, Any]) -> None:
    dims = spec.get("dims")
    if dims is not None and (not isinstance(dims, int) or not 1 <= dims <= 4096):
        raise mapper_parsing(
            f"Failed to parse mapping: The number of dimensions should be in the range [1, 4096] but was [{dims}]"
        )
    similarity = spec.get("similarity")
    if similarity is not None and similarity not in ("l2_norm", "dot_product", "cosine", "max_inner_product"):
        raise mapper_parsing(
            f"Failed to parse mapping: Unknown value [{similarity}] for field [similarity] - accepted values are "
            "[l2_norm, dot_product, cosine, max_inner_product]"
        )
    # Since 8.11 dense vectors are indexed by default, and the index/similarity are shown in GET mapping.
    spec.setdefault("index", True)
    if spec["index"]:
        spec.setdefault("similarity", "cosine")


def _java_str(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_java_str(v)}" for k, v in value.items()) + "}"
    return str(value)


# --- merging ---------------------------------------------------------------------------------------


def merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Put-mapping semantics: new fields are added, existing ones must keep their type."""
    merged = copy.deepcopy(current)
    for key, value in update.items():
        if key == "properties":
            merged["properties"] = _merge_properties(merged.get("properties", {}), value, "")
        else:
            merged[key] = value
    return merged


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
            if "properties" in spec:
                old["properties"] = _merge_properties(
                    old.get("properties", {}), spec["properties"], f"{path}."
                )
            continue
        if old_type in OBJECT_TYPES or new_type in OBJECT_TYPES:
            raise illegal_argument(f"can't merge a non object mapping [{path}] with an object mapping")
        if old_type != new_type:
            raise illegal_argument(
                f"mapper [{path}] cannot be changed from type [{old_type}] to [{new_type}]"
            )
        for param, value in spec.items():
            if param == "fields":
                old["fields"] = _merge_properties(old.get("fields", {}), value, f"{path}.")
            elif param == "dims" and old.get("dims") not in (None, value):
                raise illegal_argument(
                    f"Mapper for [{path}] conflicts with existing mapper:\n\tCannot update parameter [dims] from [{old['dims']}] to [{value}]"
                )
            else:
                old[param] = value
    return current


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


# --- dynamic mapping while indexing ----------------------------------------------------------------


def map_document(
    mappings: dict[str, Any], source: dict[str, Any], doc_id: str | None
) -> dict[str, Any] | None:
    """Check `source` against the mapping; return the updated mapping when new fields were added
    dynamically (None when nothing changed). Raises document_parsing_exception on bad values."""
    dynamic = mappings.get("dynamic", True)
    props = mappings.get("properties", {})
    new_props = _map_object(props, source, "", dynamic, doc_id)
    if new_props is None:
        return None
    updated = dict(mappings)
    updated["properties"] = new_props
    return updated


def _map_object(props: dict[str, Any], obj: dict[str, Any], prefix: str, dynamic: Any, doc_id: str | None):
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
            new_spec = _dynamic_spec(value, path, dynamic, doc_id)
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
                        f"object mapping for [{path}] tried to parse field [{name}] as object, but found a concrete value"
                    )
                sub = _map_object(spec.get("properties", {}), item, f"{path}.", sub_dynamic, doc_id)
                if sub is not None:
                    new_spec = dict(spec)
                    new_spec["properties"] = sub
                    spec = new_spec
                    changed = dict(changed or props)
                    changed[name] = new_spec
            continue
        new_spec = check_value(spec, value, path, doc_id)
        if new_spec is not None:
            changed = dict(changed or props)
            changed[name] = new_spec
    return changed


def _dynamic_spec(value: Any, path: str, dynamic: Any, doc_id: str | None) -> dict[str, Any] | None:
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
        first = next((v for v in value if v is not None), None)
        return None if first is None else _dynamic_spec(first, path, dynamic, doc_id)
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
        sub = _map_object({}, value, f"{path}.", dynamic, doc_id)
        return {"properties": sub or {}}
    return None


def check_value(spec: dict[str, Any], value: Any, path: str, doc_id: str | None) -> dict[str, Any] | None:
    """Reject values a mapped field cannot take; a dense_vector without dims learns them here."""
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
        if not isinstance(value, list) or not all(isinstance(v, int | float) for v in value):
            raise document_parsing(
                f"[1:2] failed to parse field [{path}] of type [dense_vector] in {_doc_ref(doc_id)}. "
                f"Preview of field's value: '{value}'"
            )
        dims = spec.get("dims")
        if dims is None:
            learned = dict(spec)
            learned["dims"] = len(value)
            return learned
        if len(value) != dims:
            raise document_parsing(
                f"The [dense_vector] field [{path}] in doc [{_doc_ref(doc_id)}] has a different number of dimensions "
                f"[{len(value)}] than defined in the mapping [{dims}]"
            )
        return None
    for item in value if isinstance(value, list) else [value]:
        if item is None:
            continue
        if isinstance(item, dict) and ftype not in OBJECT_TYPES:
            raise document_parsing(
                f"[1:2] failed to parse field [{path}] of type [{ftype}] in {_doc_ref(doc_id)}. "
                "Preview of field's value: '" + _java_str(item) + "'",
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
