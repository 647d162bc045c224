"""Indices: the IndexStore subsystem (indices, their settings, mappings, aliases and documents) and
the index-level endpoints (create, delete, exists, get, mappings, settings, refresh, aliases).

Documents are stored per index as `Doc` objects that are replaced, never mutated, on every write, so
a point in time, a scroll or a scan can hold references to them without copying sources.
"""

from __future__ import annotations

import base64
import fnmatch
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from es_sandbox import mappings as mp
from es_sandbox.errors import EsError, illegal_argument, index_not_found
from es_sandbox.http import PRODUCT_HEADERS, Router, bool_param, json_body

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()

MAX_INDEX_NAME_BYTES = 255
# Strings.INVALID_FILENAME_CHARS as Elasticsearch prints it.
INVALID_FILENAME_CHARS = '[ , ", *, \\, <, |, ,, >, /, ?]'
_INVALID_CHARS = set(' "*\\<|,>/?')

# Settings a user may give; others are refused as unknown (prefixes end with a dot).
_KNOWN_SETTINGS = {
    "index.number_of_shards",
    "index.number_of_replicas",
    "index.default_pipeline",
    "index.final_pipeline",
    "index.refresh_interval",
    "index.max_result_window",
    "index.hidden",
    "index.auto_expand_replicas",
    "index.codec",
    "index.priority",
    "index.max_inner_result_window",
    "index.max_terms_count",
    "index.number_of_routing_shards",
    "index.mode",
    "index.write.wait_for_active_shards",
    "index.knn",
    "index.uuid",
    "index.creation_date",
    "index.provided_name",
    "index.version.created",
}
_KNOWN_PREFIXES = (
    "index.analysis.",
    "index.blocks.",
    "index.routing.",
    "index.mapping.",
    "index.lifecycle.",
    "index.sort.",
    "index.similarity.",
    "index.translog.",
    "index.merge.",
    "index.search.",
    "index.query.",
    "index.store.",
    "index.shard.",
    "index.indexing.",
    "index.unassigned.",
    "index.highlight.",
    "index.version.",
    "index.soft_deletes.",
)
_STATIC_SETTINGS = {"index.number_of_shards", "index.number_of_routing_shards", "index.codec", "index.mode"}
_INTERNAL_SETTINGS = {"index.uuid", "index.creation_date", "index.provided_name", "index.version.created"}


def random_id(n_bytes: int = 15) -> str:
    """URL-safe base64 ids: 15 random bytes give Elasticsearch's 20-character auto ids."""
    return base64.urlsafe_b64encode(os.urandom(n_bytes)).decode().rstrip("=")


def now_ms() -> int:
    return int(time.time() * 1000)


# --- names -----------------------------------------------------------------------------------------


def invalid_index_name(name: str, reason: str) -> EsError:
    return EsError(
        400,
        "invalid_index_name_exception",
        f"Invalid index name [{name}], {reason}",
        extra={"index_uuid": "_na_", "index": name},
    )


def _name_problem(name: str) -> str | None:
    """MetadataCreateIndexService.validateIndexOrAliasName, in its order (shared by indices and aliases)."""
    if not name:
        return "must not be empty"
    if any(c in _INVALID_CHARS for c in name):
        return f"must not contain the following characters {INVALID_FILENAME_CHARS}"
    if "#" in name:
        return "must not contain '#'"
    if ":" in name:
        return "must not contain ':'"
    if name[0] in "_-+":
        return "must not start with '_', '-', or '+'"
    size = len(name.encode())
    if size > MAX_INDEX_NAME_BYTES:
        return f"index name is too long, ({size} > {MAX_INDEX_NAME_BYTES})"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    return None


def validate_index_name(name: str) -> None:
    problem = _name_problem(name) or ("must be lowercase" if name.lower() != name else None)
    if problem:
        raise invalid_index_name(name, problem)


# --- settings --------------------------------------------------------------------------------------


def flatten_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """{"number_of_shards": 1, "index": {"default_pipeline": "p"}} -> {"index.number_of_shards": "1", ...}"""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else key, sub)
        else:
            flat[prefix if prefix.startswith("index.") else f"index.{prefix}"] = _setting_str(value)

    walk("", settings or {})
    return flat


def _setting_str(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_setting_str(v) for v in value]
    return str(value)


def nest_settings(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key in sorted(flat):
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = flat[key]
    return nested


def _check_settings(flat: dict[str, Any]) -> None:
    for key, value in flat.items():
        if key not in _KNOWN_SETTINGS and not key.startswith(_KNOWN_PREFIXES):
            raise illegal_argument(
                f"unknown setting [{key}] please check that any required plugins are installed, or check the "
                "breaking changes documentation for removed settings"
            )
        if (
            key in ("index.number_of_shards", "index.number_of_replicas", "index.max_result_window")
            and value is not None
        ):
            try:
                number = int(value)
            except ValueError:
                raise illegal_argument(f"Failed to parse value [{value}] for setting [{key}]") from None
            low = 1 if key != "index.number_of_replicas" else 0
            if number < low:
                raise illegal_argument(
                    f"Failed to parse value [{value}] for setting [{key}] must be >= {low}"
                )
            if key == "index.number_of_shards" and number > 1024:
                raise illegal_argument(f"Failed to parse value [{value}] for setting [{key}] must be <= 1024")


# --- documents and indices -------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Doc:
    """One stored document version; a write replaces the Doc, so references stay a consistent view."""

    source: dict[str, Any]
    version: int
    seq_no: int
    primary_term: int = 1


@dataclass
class Index:
    name: str
    uuid: str
    creation_date: int
    flat_settings: dict[str, Any]
    mappings: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)
    docs: dict[str, Doc] = field(default_factory=dict)
    next_seq_no: int = 0
    deleted_docs: int = 0
    mutations: int = 0  # bumped on every change: persistence flushes indices whose count moved

    def __len__(self) -> int:
        return len(self.docs)

    @property
    def settings(self) -> dict[str, Any]:
        return nest_settings(self.flat_settings)

    def setting(self, key: str, default: Any = None) -> Any:
        return self.flat_settings.get(f"index.{key}", default)

    @property
    def default_pipeline(self) -> str | None:
        return self.setting("default_pipeline")

    @property
    def final_pipeline(self) -> str | None:
        return self.setting("final_pipeline")

    @property
    def number_of_shards(self) -> int:
        return int(self.setting("number_of_shards", "1"))

    @property
    def number_of_replicas(self) -> int:
        return int(self.setting("number_of_replicas", "1"))

    @property
    def hidden(self) -> bool:
        return self.setting("hidden") == "true"

    @property
    def max_result_window(self) -> int:
        return int(self.setting("max_result_window", "10000"))

    @property
    def health(self) -> str:
        # One data node: replicas can never be assigned, as on a single-node cluster.
        return "yellow" if self.number_of_replicas > 0 else "green"

    def shards_header(self) -> dict[str, int]:
        """`_shards` of a write: the primary succeeds, replicas are unassigned."""
        return {"total": 1 + self.number_of_replicas, "successful": 1, "failed": 0}

    def version_conflict(self, doc_id: str, reason: str) -> EsError:
        return EsError(
            409,
            "version_conflict_engine_exception",
            f"[{doc_id}]: version conflict, {reason}",
            extra={"index_uuid": self.uuid, "shard": "0", "index": self.name},
        )

    def apply_mapping(self, source: dict[str, Any], doc_id: str | None) -> None:
        """Check a document against the mapping and add its new fields (dynamic mapping)."""
        updated = mp.map_document(self.mappings, source, doc_id)
        if updated is not None:
            limit = int(self.setting("mapping.total_fields.limit", "1000"))
            total = mp.count_fields(updated)
            if total > limit:
                added = total - mp.count_fields(self.mappings)
                raise illegal_argument(
                    f"Limit of total fields [{limit}] has been exceeded while adding new fields [{added}]"
                )
            self.mappings = updated

    def put(
        self,
        doc_id: str,
        source: dict[str, Any],
        *,
        op_type: str = "index",
        if_seq_no: int | None = None,
        if_primary_term: int | None = None,
        version: int | None = None,
        version_type: str | None = None,
    ) -> tuple[Doc, str]:
        """Index or create a document; returns the stored Doc and `created` or `updated`."""
        current = self.docs.get(doc_id)
        if op_type == "create" and current is not None:
            raise self.version_conflict(
                doc_id, f"document already exists (current version [{current.version}])"
            )
        self.check_seq_no(doc_id, current, if_seq_no, if_primary_term)
        new_version = (current.version + 1) if current else 1
        if version is not None:
            new_version = self._external_version(doc_id, current, version, version_type)
        self.apply_mapping(source, doc_id)
        doc = Doc(source, new_version, self.next_seq_no)
        self.next_seq_no += 1
        self.docs.pop(doc_id, None)  # re-inserted at the end: _doc order follows the latest write
        self.docs[doc_id] = doc
        if current is not None:
            self.deleted_docs += 1
        self.mutations += 1
        return doc, "updated" if current else "created"

    def _external_version(
        self, doc_id: str, current: Doc | None, version: int, version_type: str | None
    ) -> int:
        if version_type not in ("external", "external_gte"):
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: internal versioning can not be used for optimistic concurrency control. "
                "Please use `if_seq_no` and `if_primary_term` instead;",
            )
        if current is not None:
            if version_type == "external" and version <= current.version:
                raise self.version_conflict(
                    doc_id,
                    f"current version [{current.version}] is higher or equal to the one provided [{version}]",
                )
            if version < current.version:
                raise self.version_conflict(
                    doc_id, f"current version [{current.version}] is higher than the one provided [{version}]"
                )
        return version

    def delete(
        self, doc_id: str, *, if_seq_no: int | None = None, if_primary_term: int | None = None
    ) -> tuple[int, int, bool]:
        """Returns (version, seq_no, found)."""
        current = self.docs.get(doc_id)
        self.check_seq_no(doc_id, current, if_seq_no, if_primary_term)
        seq_no = self.next_seq_no
        self.next_seq_no += 1
        self.mutations += 1
        if current is None:
            return 1, seq_no, False
        del self.docs[doc_id]
        self.deleted_docs += 1
        return current.version + 1, seq_no, True

    def check_seq_no(
        self, doc_id: str, current: Doc | None, if_seq_no: int | None, if_primary_term: int | None
    ) -> None:
        if if_seq_no is None and if_primary_term is None:
            return
        if current is None:
            raise self.version_conflict(
                doc_id,
                f"required seqNo [{if_seq_no}], primary term [{if_primary_term}]. but no document was found",
            )
        if current.seq_no != if_seq_no or current.primary_term != if_primary_term:
            raise self.version_conflict(
                doc_id,
                f"required seqNo [{if_seq_no}], primary term [{if_primary_term}]. current document has seqNo "
                f"[{current.seq_no}] and primary term [{current.primary_term}]",
            )

    def describe(self) -> dict[str, Any]:
        """GET /{index} body for this index."""
        settings = dict(self.flat_settings)
        return {
            "aliases": self.aliases_view(),
            "mappings": self.mappings,
            "settings": nest_settings(settings),
        }

    def aliases_view(self) -> dict[str, Any]:
        return {name: dict(props) for name, props in sorted(self.aliases.items())}

    def meta(self) -> dict[str, Any]:
        """Persisted metadata (documents are streamed separately)."""
        return {
            "name": self.name,
            "uuid": self.uuid,
            "creation_date": self.creation_date,
            "settings": self.flat_settings,
            "mappings": self.mappings,
            "aliases": self.aliases,
            "next_seq_no": self.next_seq_no,
            "deleted_docs": self.deleted_docs,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Index:
        return cls(
            name=meta["name"],
            uuid=meta["uuid"],
            creation_date=meta["creation_date"],
            flat_settings=meta["settings"],
            mappings=meta.get("mappings", {}),
            aliases=meta.get("aliases", {}),
            next_seq_no=meta.get("next_seq_no", 0),
            deleted_docs=meta.get("deleted_docs", 0),
        )


class IndexStore:
    """Subsystem holding every index (cluster.indices)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.indices: dict[str, Index] = {}
        self._flusher = None

    # -- subsystem contract --
    async def start(self) -> None:
        from es_sandbox import persistence

        self._flusher = persistence.start_flusher(self.cluster)

    async def stop(self) -> None:
        if self._flusher is not None:
            await self._flusher.stop()
            self._flusher = None

    def reset(self) -> None:
        self.indices.clear()

    def snapshot(self) -> dict[str, Any]:
        """Index metadata; documents are streamed as JSON lines by persistence (iter_docs)."""
        return {"indices": [index.meta() for index in self.indices.values()]}

    def restore(self, state: dict[str, Any]) -> None:
        self.indices = {meta["name"]: Index.from_meta(meta) for meta in state.get("indices", [])}

    def on_node_restart(self) -> None:
        pass

    # -- lookups (the contract other modules use) --
    def exists(self, name: str) -> bool:
        return name in self.indices or any(name in index.aliases for index in self.indices.values())

    def get(self, name: str) -> Index:
        """A concrete index, or an alias that resolves to exactly one index."""
        index = self.indices.get(name)
        if index is not None:
            return index
        holders = [i for i in self.indices.values() if name in i.aliases]
        if len(holders) == 1:
            return holders[0]
        if len(holders) > 1:
            raise illegal_argument(
                f"alias [{name}] has more than one index associated with it "
                f"[{', '.join(sorted(i.name for i in holders))}], can't execute a single index op"
            )
        raise index_not_found(name)

    def write_index(self, name: str, *, auto_create: bool = True) -> Index:
        """The index a document write to `name` lands in: the index, an alias's write index, or a new
        index created on the fly (action.auto_create_index defaults to true)."""
        index = self.indices.get(name)
        if index is not None:
            return index
        holders = [i for i in self.indices.values() if name in i.aliases]
        if holders:
            writers = [i for i in holders if i.aliases[name].get("is_write_index")]
            if len(writers) == 1:
                return writers[0]
            if len(holders) == 1 and holders[0].aliases[name].get("is_write_index") is not False:
                return holders[0]
            raise illegal_argument(
                f"no write index is defined for alias [{name}]. The write index may be explicitly disabled using "
                "is_write_index=false or the alias points to multiple indices without one being designated as a "
                "write index"
            )
        if not auto_create:
            raise index_not_found(name)
        return self.create(name, {})

    def resolve(
        self,
        expression: str | list[str] | None,
        *,
        ignore_unavailable: bool = False,
        allow_no_indices: bool = True,
    ) -> list[Index]:
        """Comma lists, wildcards (which skip hidden and dot-prefixed indices unless the pattern starts
        with a dot), `-exclusions`, aliases and _all."""
        if expression is None or expression == "" or expression == []:
            parts = ["_all"]
        elif isinstance(expression, list):
            parts = [p for e in expression for p in e.split(",")]
        else:
            parts = expression.split(",")
        chosen: dict[str, Index] = {}
        saw_wildcard = False
        for part in parts:
            part = part.strip()
            if not part:
                continue
            if part.startswith("-") and (saw_wildcard or chosen):
                pattern = part[1:]
                for name in [n for n in chosen if fnmatch.fnmatchcase(n, pattern)]:
                    del chosen[name]
                continue
            if part in ("_all", "*") or "*" in part:
                saw_wildcard = True
                pattern = "*" if part == "_all" else part
                for index in self.indices.values():
                    if self._wildcard_hit(index, index.name, pattern):
                        chosen.setdefault(index.name, index)
                    for alias in index.aliases:
                        if self._wildcard_hit(index, alias, pattern):
                            chosen.setdefault(index.name, index)
                continue
            found = (
                [self.indices[part]]
                if part in self.indices
                else [i for i in self.indices.values() if part in i.aliases]
            )
            if not found:
                if ignore_unavailable:
                    continue
                raise index_not_found(part)
            for index in found:
                chosen.setdefault(index.name, index)
        if not chosen and not allow_no_indices:
            raise index_not_found(expression if isinstance(expression, str) and expression else "_all")
        return list(chosen.values())

    @staticmethod
    def _wildcard_hit(index: Index, name: str, pattern: str) -> bool:
        if not fnmatch.fnmatchcase(name, pattern):
            return False
        if index.hidden or name.startswith("."):
            return pattern.startswith(".")
        return True

    def scan(
        self, expression: str | list[str] | None, query: dict[str, Any] | None = None
    ) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(index, _id, _source) of the matching documents, over a snapshot of the ids taken now.
        `query` must already be prepared (search.prepare_query) if it needs inference."""
        from es_sandbox.search import compile_query

        for index in self.resolve(expression):
            matcher = compile_query(query, self.cluster, index=index)
            docs = index.docs
            for doc_id in list(docs):
                doc = docs.get(doc_id)
                if doc is not None and matcher(doc_id, doc.source) is not None:
                    yield index.name, doc_id, doc.source

    # -- changes --
    def create(self, name: str, body: dict[str, Any] | None) -> Index:
        validate_index_name(name)
        if name in self.indices:
            existing = self.indices[name]
            raise EsError(
                400,
                "resource_already_exists_exception",
                f"index [{name}/{existing.uuid}] already exists",
                extra={"index_uuid": existing.uuid, "index": name},
            )
        if any(name in i.aliases for i in self.indices.values()):
            raise invalid_index_name(name, "already exists as alias")
        body = body or {}
        unknown = set(body) - {"settings", "mappings", "aliases"}
        if unknown:
            key = sorted(unknown)[0]
            raise EsError(400, "parse_exception", f"unknown key [{key}] for create index")
        flat = flatten_settings(body.get("settings"))
        _check_settings(flat)
        flat = {k: v for k, v in flat.items() if k not in _INTERNAL_SETTINGS and v is not None}
        mappings = mp.normalize(body.get("mappings"))
        uuid = random_id(16)[:22]
        created = now_ms()
        settings = {
            "index.number_of_shards": "1",
            "index.number_of_replicas": "1",
            "index.routing.allocation.include._tier_preference": "data_content",
            **flat,
            "index.uuid": uuid,
            "index.creation_date": str(created),
            "index.provided_name": name,
            "index.version.created": self._index_version(),
        }
        index = Index(name, uuid, created, settings, mappings)
        for alias, props in (body.get("aliases") or {}).items():
            self._validate_alias_name(alias, index_names={name})
            index.aliases[alias] = _alias_props(props or {})
        self.indices[name] = index
        return index

    def _index_version(self) -> str:
        major, minor, patch = (int(p) for p in self.cluster.config.version.split("."))
        return str(major * 1_000_000 + minor * 10_000 + patch * 100 + 99)

    def delete(self, names: list[str]) -> None:
        for name in names:
            self.indices.pop(name, None)

    def _validate_alias_name(self, alias: str, *, index_names: set[str]) -> None:
        problem = _name_problem(alias)
        if problem:
            raise EsError(
                400,
                "invalid_alias_name_exception",
                f"Invalid alias name [{alias}], {problem}",
                extra={"index_uuid": "_na_", "index": alias},
            )
        if alias in self.indices or alias in index_names:
            raise EsError(
                400,
                "invalid_alias_name_exception",
                f"Invalid alias name [{alias}]: an index or data stream exists with the same name as the alias",
                extra={"index_uuid": "_na_", "index": alias},
            )


def _alias_props(props: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "filter" in props:
        out["filter"] = props["filter"]
    if "routing" in props:
        out["index_routing"] = out["search_routing"] = str(props["routing"])
    if "index_routing" in props:
        out["index_routing"] = str(props["index_routing"])
    if "search_routing" in props:
        out["search_routing"] = str(props["search_routing"])
    if "is_write_index" in props:
        out["is_write_index"] = bool(props["is_write_index"])
    if props.get("is_hidden"):
        out["is_hidden"] = True
    return out


# --- endpoints -------------------------------------------------------------------------------------


def _resolve_param(
    request: Request, cluster: Cluster, expression: str | None, *, default_allow_no: bool = True
) -> list[Index]:
    return cluster.indices.resolve(
        expression,
        ignore_unavailable=bool_param(request, "ignore_unavailable"),
        allow_no_indices=bool_param(request, "allow_no_indices", default_allow_no),
    )


@router.route("/{index}", "PUT")
async def create_index(request: Request, cluster: Cluster):
    name = request.path_params["index"]
    index = cluster.indices.create(name, await json_body(request))
    return {"acknowledged": True, "shards_acknowledged": True, "index": index.name}


@router.route("/{index}", "DELETE")
async def delete_index(request: Request, cluster: Cluster):
    expression = request.path_params["index"]
    if expression in ("_all", "*"):
        names = [i.name for i in cluster.indices.resolve(expression)]
    else:
        names = []
        for part in expression.split(","):
            if part in cluster.indices.indices:
                names.append(part)
            elif "*" in part:
                names += [i.name for i in cluster.indices.resolve(part)]
            elif any(part in i.aliases for i in cluster.indices.indices.values()):
                raise illegal_argument(
                    f"The provided expression [{part}] matches an alias, specify the corresponding concrete "
                    "indices instead."
                )
            elif not bool_param(request, "ignore_unavailable"):
                raise index_not_found(part)
    cluster.indices.delete(names)
    return {"acknowledged": True}


@router.route("/{index}", "HEAD")
async def index_exists(request: Request, cluster: Cluster):
    try:
        found = _resolve_param(request, cluster, request.path_params["index"], default_allow_no=False)
    except EsError:
        found = []
    return Response(status_code=200 if found else 404, headers=PRODUCT_HEADERS)


@router.route("/{index}", "GET")
async def get_index(request: Request, cluster: Cluster):
    found = _resolve_param(request, cluster, request.path_params["index"])
    return {index.name: index.describe() for index in sorted(found, key=lambda i: i.name)}


@router.route("/_mapping", "GET")
@router.route("/{index}/_mapping", "GET")
async def get_mapping(request: Request, cluster: Cluster):
    found = _resolve_param(request, cluster, request.path_params.get("index"))
    return {index.name: {"mappings": index.mappings} for index in sorted(found, key=lambda i: i.name)}


@router.route("/{index}/_mapping", "PUT", "POST")
async def put_mapping(request: Request, cluster: Cluster):
    found = _resolve_param(request, cluster, request.path_params["index"])
    update = mp.normalize(await json_body(request, required=True))
    merged = [(index, mp.merge(index.mappings, update)) for index in found]  # all or nothing
    for index, mapping in merged:
        index.mappings = mapping
        index.mutations += 1
    return {"acknowledged": True}


@router.route("/_settings", "GET")
@router.route("/{index}/_settings", "GET")
@router.route("/{index}/_settings/{name}", "GET")
async def get_settings(request: Request, cluster: Cluster):
    found = _resolve_param(request, cluster, request.path_params.get("index"))
    wanted = request.path_params.get("name")
    flat_output = bool_param(request, "flat_settings")
    out = {}
    for index in sorted(found, key=lambda i: i.name):
        flat = index.flat_settings
        if wanted:
            patterns = [w if w.startswith("index.") else f"index.{w}" for w in wanted.split(",")]
            flat = {k: v for k, v in flat.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)}
            if not flat:
                continue
        out[index.name] = {"settings": dict(sorted(flat.items())) if flat_output else nest_settings(flat)}
    return out


@router.route("/_settings", "PUT")
@router.route("/{index}/_settings", "PUT")
async def put_settings(request: Request, cluster: Cluster):
    found = _resolve_param(request, cluster, request.path_params.get("index"))
    body = await json_body(request, required=True)
    flat = flatten_settings(body.get("settings", body) if set(body) == {"settings"} else body)
    _check_settings(flat)
    static = sorted(k for k in flat if k in _STATIC_SETTINGS or k in _INTERNAL_SETTINGS)
    if static:
        names = ", ".join(f"[{i.name}/{i.uuid}]" for i in found)
        raise illegal_argument(
            f"Can't update non dynamic settings [[{', '.join(static)}]] for open indices [{names}]"
        )
    for index in found:
        for key, value in flat.items():
            if value is None:
                index.flat_settings.pop(key, None)
            else:
                index.flat_settings[key] = value
        index.mutations += 1
    return {"acknowledged": True}


@router.route("/_refresh", "POST", "GET")
@router.route("/{index}/_refresh", "POST", "GET")
async def refresh(request: Request, cluster: Cluster):
    found = _resolve_param(request, cluster, request.path_params.get("index"))
    shards = sum(i.number_of_shards for i in found)
    total = sum(i.number_of_shards * (1 + i.number_of_replicas) for i in found)
    return {"_shards": {"total": total, "successful": shards, "failed": 0}}


# --- aliases ---------------------------------------------------------------------------------------


def aliases_response_extras(cluster: Cluster) -> dict[str, Any]:
    """IndicesAliasesResponse carries `errors` since 8.12."""
    config = cluster.config
    return {"errors": False} if (config.major, config.minor) >= (8, 12) else {}


def _action_names(spec: dict[str, Any], single: str, plural: str) -> list[str]:
    names: list[str] = []
    if single in spec:
        names.append(spec[single])
    if plural in spec:
        value = spec[plural]
        names += value if isinstance(value, list) else [value]
    return names


@router.route("/_aliases", "POST")
async def update_aliases(request: Request, cluster: Cluster):
    body = await json_body(request, required=True)
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        raise EsError(
            400, "action_request_validation_exception", "Validation Failed: 1: no actions specified;"
        )
    store = cluster.indices
    plan: list[tuple[str, Index, str | None, dict[str, Any]]] = []
    for action in actions:
        if not isinstance(action, dict) or len(action) != 1:
            raise EsError(400, "x_content_parse_exception", "[aliases] failed to parse field [actions]")
        ((kind, spec),) = action.items()
        if kind not in ("add", "remove", "remove_index"):
            raise EsError(400, "x_content_parse_exception", f"[1:2] [alias_action] unknown field [{kind}]")
        index_exprs = _action_names(spec, "index", "indices")
        if not index_exprs:
            raise validation_error("One of [index] or [indices] is required")
        indices = [i for expr in index_exprs for i in store.resolve(expr, allow_no_indices=False)]
        if kind == "remove_index":
            plan += [("remove_index", i, None, {}) for i in indices]
            continue
        alias_names = _action_names(spec, "alias", "aliases")
        if not alias_names:
            raise validation_error("One of [alias] or [aliases] is required")
        for index in indices:
            for alias in alias_names:
                if kind == "add":
                    store._validate_alias_name(alias, index_names=set())
                    plan.append(("add", index, alias, _alias_props(spec)))
                else:
                    matching = [a for a in index.aliases if fnmatch.fnmatchcase(a, alias)]
                    if not matching and spec.get("must_exist", True) is not False:
                        raise EsError(
                            404,
                            "aliases_not_found_exception",
                            f"aliases [{alias}] missing",
                            extra={"resource.type": "aliases", "resource.id": alias},
                        )
                    plan += [("remove", index, a, {}) for a in matching]
    # Applied only once every action validated: the update is atomic.
    for kind, index, alias, props in plan:
        if kind == "add":
            index.aliases[alias] = props
        elif kind == "remove":
            index.aliases.pop(alias, None)
        else:
            store.indices.pop(index.name, None)
        index.mutations += 1
    _check_write_indices(store)
    return {"acknowledged": True, **aliases_response_extras(cluster)}


def validation_error(problem: str) -> EsError:
    return EsError(400, "action_request_validation_exception", f"Validation Failed: 1: {problem};")


def _check_write_indices(store: IndexStore) -> None:
    writers: dict[str, list[str]] = {}
    for index in store.indices.values():
        for alias, props in index.aliases.items():
            if props.get("is_write_index"):
                writers.setdefault(alias, []).append(index.name)
    for alias, names in writers.items():
        if len(names) > 1:
            raise EsError(
                500,
                "illegal_state_exception",
                f"alias [{alias}] has more than one write index [{','.join(sorted(names))}]",
            )


@router.route("/{index}/_alias/{name}", "PUT", "POST")
@router.route("/{index}/_aliases/{name}", "PUT", "POST")
async def put_alias(request: Request, cluster: Cluster):
    indices = cluster.indices.resolve(request.path_params["index"], allow_no_indices=False)
    body = await json_body(request)
    for alias in request.path_params["name"].split(","):
        cluster.indices._validate_alias_name(alias, index_names=set())
        for index in indices:
            index.aliases[alias] = _alias_props(body)
            index.mutations += 1
    _check_write_indices(cluster.indices)
    return {"acknowledged": True, **aliases_response_extras(cluster)}


@router.route("/{index}/_alias/{name}", "DELETE")
@router.route("/{index}/_aliases/{name}", "DELETE")
async def delete_alias(request: Request, cluster: Cluster):
    indices = cluster.indices.resolve(request.path_params["index"], allow_no_indices=False)
    patterns = request.path_params["name"].split(",")
    removed = False
    for index in indices:
        for alias in [
            a for a in index.aliases if any(fnmatch.fnmatchcase(a, p) for p in patterns) or "_all" in patterns
        ]:
            del index.aliases[alias]
            index.mutations += 1
            removed = True
    if not removed:
        raise EsError(
            404,
            "aliases_not_found_exception",
            f"aliases [{','.join(patterns)}] missing",
            extra={"resource.type": "aliases", "resource.id": ",".join(patterns)},
        )
    return {"acknowledged": True, **aliases_response_extras(cluster)}


def _alias_matches(alias: str, patterns: list[str] | None) -> bool:
    return patterns is None or any(p in ("_all", "*") or fnmatch.fnmatchcase(alias, p) for p in patterns)


def _get_aliases(request: Request, cluster: Cluster) -> tuple[int, dict[str, Any]]:
    index_expr = request.path_params.get("index")
    name = request.path_params.get("name")
    patterns = name.split(",") if name else None
    indices = _resolve_param(request, cluster, index_expr)
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for index in sorted(indices, key=lambda i: i.name):
        hits = {a: dict(p) for a, p in sorted(index.aliases.items()) if _alias_matches(a, patterns)}
        seen.update(hits)
        if hits or patterns is None:
            out[index.name] = {"aliases": hits}
    if patterns is not None:
        missing = [p for p in patterns if "*" not in p and p != "_all" and p not in seen]
        if missing:
            reason = (
                f"alias [{missing[0]}] missing"
                if len(missing) == 1
                else f"aliases [{','.join(missing)}] missing"
            )
            return 404, {"error": reason, "status": 404, **out}
    return 200, out


@router.route("/_alias", "GET")
@router.route("/_aliases", "GET")
@router.route("/_alias/{name}", "GET")
@router.route("/{index}/_alias", "GET")
@router.route("/{index}/_aliases", "GET")
@router.route("/{index}/_alias/{name}", "GET")
async def get_alias(request: Request, cluster: Cluster):
    return _get_aliases(request, cluster)


@router.route("/_alias/{name}", "HEAD")
@router.route("/{index}/_alias/{name}", "HEAD")
async def alias_exists(request: Request, cluster: Cluster):
    try:
        status, _ = _get_aliases(request, cluster)
    except EsError as err:
        status = err.status
    return Response(status_code=200 if status == 200 else 404, headers=PRODUCT_HEADERS)
