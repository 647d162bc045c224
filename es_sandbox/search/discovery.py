"""APIs that describe what can be searched: `_field_caps`, `GET _mapping/field/{fields}` and
`_resolve/index`, answered from the indices' mappings and aliases as Elasticsearch shapes them."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox import mappings as mp
from es_sandbox.errors import index_not_found, validation_failed
from es_sandbox.http import Router, bool_param, json_body
from es_sandbox.indices.api import resolve_sorted

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()

# Metadata fields field_caps lists for patterns that match them: (type, searchable, aggregatable).
_METADATA_FIELDS = {
    "_id": ("_id", True, False),
    "_index": ("_index", True, True),
    "_ignored": ("_ignored", True, True),
    "_routing": ("_routing", True, False),
    "_seq_no": ("_seq_no", True, True),
    "_source": ("_source", False, False),
    "_version": ("_version", False, True),
}
# Types whose values are not aggregatable (no doc values) whatever the mapping says.
_NOT_AGGREGATABLE = {
    "text",
    "match_only_text",
    "semantic_text",
    "dense_vector",
    "sparse_vector",
    "rank_features",
    "binary",
}


def _leaves(props: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every field of a mapping with its spec: objects, their fields and multi-fields."""
    out = []
    for name, spec in props.items():
        path = f"{prefix}{name}"
        out.append((path, spec))
        out += _leaves(spec.get("properties", {}), f"{path}.")
        for sub, sub_spec in spec.get("fields", {}).items():
            out.append((f"{path}.{sub}", sub_spec))
    return out


def _capabilities(spec: dict[str, Any]) -> tuple[str, bool, bool]:
    ftype = mp.field_type_of(spec)
    if ftype in mp.OBJECT_TYPES:
        return ftype, False, False
    searchable = spec.get("index", True) is not False
    if ftype == "text":
        aggregatable = bool(spec.get("fielddata"))
    else:
        aggregatable = ftype not in _NOT_AGGREGATABLE and spec.get("doc_values", True) is not False
    return ftype, searchable, aggregatable


# --- _field_caps -------------------------------------------------------------------------------------


@router.route("/_field_caps", "GET", "POST")
@router.route("/{index}/_field_caps", "GET", "POST")
async def field_caps(request: Request, cluster: Cluster):
    body = await json_body(request)
    raw = request.query_params.get("fields") or body.get("fields")
    patterns = raw.split(",") if isinstance(raw, str) else list(raw or [])
    if not patterns:
        raise validation_failed("specified fields can't be null or empty")
    wanted_types = request.query_params.get("types") or body.get("types")
    if isinstance(wanted_types, str):
        wanted_types = wanted_types.split(",")
    include_unmapped = bool_param(request, "include_unmapped")
    indices = resolve_sorted(request, cluster, request.path_params.get("index"), level="read")
    # field -> type -> index name -> (searchable, aggregatable, metadata)
    seen: dict[str, dict[str, dict[str, tuple[bool, bool, bool]]]] = {}
    for index in indices:
        fields = [(p, s, False) for p, s in _leaves(index.mappings.get("properties", {}))]
        fields += [(name, None, True) for name in _METADATA_FIELDS]
        for path, spec, metadata in fields:
            if not any(fnmatch.fnmatchcase(path, p.strip()) for p in patterns):
                continue
            if metadata:
                ftype, searchable, aggregatable = _METADATA_FIELDS[path]
            else:
                ftype, searchable, aggregatable = _capabilities(spec)
            seen.setdefault(path, {}).setdefault(ftype, {})[index.name] = (searchable, aggregatable, metadata)
    names = [i.name for i in indices]
    if include_unmapped:
        for types in seen.values():
            mapped = {name for per_index in types.values() for name in per_index}
            for name in names:
                if name not in mapped:
                    types.setdefault("unmapped", {})[name] = (False, False, False)
    out: dict[str, Any] = {}
    for path in sorted(seen):
        for ftype, per_index in seen[path].items():
            if wanted_types and ftype not in wanted_types:
                continue
            out.setdefault(path, {})[ftype] = _merge_caps(ftype, per_index, len(seen[path]) > 1)
    return {"indices": names, "fields": out}


def _merge_caps(
    ftype: str, per_index: dict[str, tuple[bool, bool, bool]], several_types: bool
) -> dict[str, Any]:
    """FieldCapabilities.Builder.build: flags that hold for every index, and the indices that differ."""
    names = sorted(per_index)
    searchable = all(s for s, _, _ in per_index.values())
    aggregatable = all(a for _, a, _ in per_index.values())
    caps: dict[str, Any] = {
        "type": ftype,
        "metadata_field": any(m for _, _, m in per_index.values()),
        "searchable": searchable,
        "aggregatable": aggregatable,
    }
    if several_types:
        caps["indices"] = names
    if not searchable and any(s for s, _, _ in per_index.values()):
        caps["non_searchable_indices"] = [n for n in names if not per_index[n][0]]
    if not aggregatable and any(a for _, a, _ in per_index.values()):
        caps["non_aggregatable_indices"] = [n for n in names if not per_index[n][1]]
    return caps


# --- GET _mapping/field/{fields} ---------------------------------------------------------------------


@router.route("/_mapping/field/{fields}", "GET")
@router.route("/{index}/_mapping/field/{fields}", "GET")
async def field_mapping(request: Request, cluster: Cluster):
    patterns = request.path_params["fields"].split(",")
    out: dict[str, Any] = {}
    for index in resolve_sorted(request, cluster, request.path_params.get("index"), level="read"):
        found: dict[str, Any] = {}
        for path, spec in _leaves(index.mappings.get("properties", {})):
            if mp.field_type_of(spec) in mp.OBJECT_TYPES:
                continue  # objects are not field mappers
            if any(fnmatch.fnmatchcase(path, p) for p in patterns):
                found[path] = {"full_name": path, "mapping": {path.rsplit(".", 1)[-1]: spec}}
        out[index.name] = {"mappings": found}
    return out


# --- _resolve/index ----------------------------------------------------------------------------------


@router.route("/_resolve/index/{name}", "GET", "POST")
async def resolve_index(request: Request, cluster: Cluster):
    expand = set((request.query_params.get("expand_wildcards") or "open").split(","))
    show_hidden = bool(expand & {"all", "hidden"})
    all_indices = cluster.indices.indices
    alias_members: dict[str, list[str]] = {}
    for index in all_indices.values():
        for alias in index.aliases:
            alias_members.setdefault(alias, []).append(index.name)
    indices: set[str] = set()
    aliases: set[str] = set()
    for part in request.path_params["name"].split(","):
        part = part.strip()
        if part.startswith("-"):
            pattern = part[1:]
            indices = {n for n in indices if not fnmatch.fnmatchcase(n, pattern)}
            aliases = {n for n in aliases if not fnmatch.fnmatchcase(n, pattern)}
        elif "*" in part or part == "_all":
            pattern = "*" if part == "_all" else part
            for name, index in all_indices.items():
                visible = show_hidden or not (index.hidden or name.startswith(".")) or pattern.startswith(".")
                if visible and fnmatch.fnmatchcase(name, pattern):
                    indices.add(name)
            aliases |= {a for a in alias_members if fnmatch.fnmatchcase(a, pattern)}
        elif part in all_indices:
            indices.add(part)
        elif part in alias_members:
            aliases.add(part)
        elif not bool_param(request, "ignore_unavailable"):
            raise index_not_found(part)
    resolved = []
    for name in sorted(indices):
        index = all_indices[name]
        entry: dict[str, Any] = {"name": name}
        if index.aliases:
            entry["aliases"] = sorted(index.aliases)
        entry["attributes"] = ["hidden", "open"] if index.hidden else ["open"]
        if cluster.config.major >= 9:
            entry["mode"] = index.setting("mode", "standard")
        resolved.append(entry)
    return {
        "indices": resolved,
        "aliases": [{"name": a, "indices": sorted(alias_members[a])} for a in sorted(aliases)],
        "data_streams": [],
    }
