"""IndexStore: the indices subsystem's state (cluster.indices): every index with its settings,
mappings, aliases and documents, and the changes the index APIs make to them.

Contract used by the other subsystems:
    exists(name) / get(name) -> Index           a concrete index or an alias naming exactly one
    write_index(name, auto_create=True) -> Index where a document write to `name` lands
    resolve(expression, ...) -> list[Index]     comma lists, wildcards, exclusions, aliases, _all
    scan(expression, query) -> (index, id, source) over a snapshot of the matching documents
    add_document(name, source) -> (Index, id, Doc)   store a document as a system component does
                                                    (no pipeline, no write step: ML audit notes)
The store holds no other subsystem's state: search contexts, tasks and pipelines reset themselves
through the cluster's subsystem contract (es_sandbox.cluster).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from es_sandbox import mappings as mp
from es_sandbox.errors import EsError, illegal_argument, index_not_found
from es_sandbox.indices import blocks, date_math
from es_sandbox.indices.index import Doc, Index
from es_sandbox.indices.names import (
    invalid_alias_name,
    invalid_index_name,
    name_problem,
    now_ms,
    random_id,
    validate_index_name,
)
from es_sandbox.indices.settings import (
    INTERNAL_SETTINGS,
    check_new_index,
    check_settings,
    flatten_settings,
    is_static,
)
from es_sandbox.indices.stats import IndexStats
from es_sandbox.indices.templates import Templates, deep_merge
from es_sandbox.versions import BuildInfo

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster


MAX_TOMBSTONES = 500  # cluster.indices.tombstone.max_size


@dataclass
class AliasAction:
    """One parsed action of POST _aliases: `add`, `remove` or `remove_index`."""

    kind: str
    indices: list[str]
    aliases: list[str]
    props: dict[str, Any]
    must_exist: bool = True


class IndexStore:
    """Subsystem holding every index (cluster.indices)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.indices: dict[str, Index] = {}
        self.tombstones: list[dict[str, Any]] = []  # the index graveyard: the indices deleted lately
        self.templates = Templates()
        self.changes = 0  # indices created and deleted: with their metadata versions, the state version

    # -- subsystem contract --
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def reset(self) -> None:
        self.templates.reset()
        self.indices.clear()
        self.tombstones.clear()
        self.changes = 0

    def snapshot(self) -> dict[str, Any]:
        """Index metadata; documents are streamed as JSON lines by persistence (iter_docs)."""
        return {
            "indices": [index.meta() for index in self.indices.values()],
            "tombstones": self.tombstones,
            "changes": self.changes,
            "templates": self.templates.snapshot(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.indices = {meta["name"]: Index.from_meta(meta) for meta in state.get("indices", [])}
        self.tombstones = list(state.get("tombstones", []))
        self.changes = int(state.get("changes", 0))
        self.templates.restore(state.get("templates", {}))

    @property
    def state_version(self) -> int:
        """Moves with every change of the indices' metadata (the cluster state's version)."""
        return self.changes + sum(index.versions["version"] for index in self.indices.values())

    def on_node_restart(self) -> None:
        """Indices and documents are stored and survive; their statistics live in node memory. Every
        primary is allocated again, under a new primary term."""
        for index in self.indices.values():
            index.stats = IndexStats()
            index.reallocated()

    # -- lookups (the contract other modules use) --
    def exists(self, name: str) -> bool:
        return name in self.indices or any(name in index.aliases for index in self.indices.values())

    def get(self, name: str) -> Index:
        """A concrete index, or an alias that resolves to exactly one index (date math resolved)."""
        name = date_math.resolve(name)
        index = self.indices.get(name)
        if index is not None:
            return index
        holders = self._holders(name)
        if len(holders) == 1:
            return holders[0]
        if len(holders) > 1:
            raise illegal_argument(
                f"alias [{name}] has more than one index associated with it "
                f"[{', '.join(sorted(i.name for i in holders))}], can't execute a single index op"
            )
        raise index_not_found(name)

    def is_alias(self, name: str) -> bool:
        return bool(self._holders(name))

    def _holders(self, alias: str) -> list[Index]:
        return [i for i in self.indices.values() if alias in i.aliases]

    def write_index(self, name: str, *, auto_create: bool = True) -> Index:
        """The index a document write to `name` lands in: the index, an alias's write index, or a new
        index created on the fly when action.auto_create_index lets it."""
        name = date_math.resolve(name)
        index = self.indices.get(name)
        if index is not None:
            return index
        holders = self._holders(name)
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
        self.cluster.settings.check_auto_create(name)
        return self.create(name, {})

    def resolve(
        self,
        expression: str | list[str] | None,
        *,
        ignore_unavailable: bool = False,
        allow_no_indices: bool = True,
        aliases: bool = True,
        level: str | None = None,
    ) -> list[Index]:
        """Comma lists, wildcards (which skip hidden and dot-prefixed indices unless the pattern starts
        with a dot), `-exclusions`, aliases, date math and _all (IndexNameExpressionResolver).
        With allow_no_indices=false every wildcard must match something. With aliases=false (DELETE
        index), wildcards do not match aliases and an alias named outright is refused.
        With level="read" (searches) wildcards skip closed indices, and a closed or read-blocked index
        named outright is refused (skipped with ignore_unavailable)."""
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
                pattern = date_math.resolve(part[1:])
                for name in [n for n in chosen if fnmatch.fnmatchcase(n, pattern)]:
                    del chosen[name]
                continue
            if part in ("_all", "*") or "*" in part:
                saw_wildcard = True
                pattern = "*" if part == "_all" else part
                hits = [
                    index
                    for index in self.indices.values()
                    if (
                        self._wildcard_hit(index, index.name, pattern)
                        or (aliases and any(self._wildcard_hit(index, a, pattern) for a in index.aliases))
                    )
                    and not (level and index.closed)
                ]
                if not hits and not allow_no_indices:
                    raise index_not_found(part)
                for index in hits:
                    chosen.setdefault(index.name, index)
                continue
            name = date_math.resolve(part)
            if name in self.indices:
                chosen.setdefault(name, self.indices[name])
                continue
            holders = self._holders(name)
            if holders and not aliases and not ignore_unavailable:
                raise illegal_argument(
                    f"The provided expression [{name}] matches an alias, specify the corresponding concrete indices "
                    "instead."
                )
            if not holders or not aliases:
                if ignore_unavailable:
                    continue
                raise index_not_found(name)
            for index in holders:
                chosen.setdefault(index.name, index)
        if level:
            if ignore_unavailable:
                chosen = {name: index for name, index in chosen.items() if not index.closed}
            for index in chosen.values():
                blocks.check(index, level)
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

        for index in self.resolve(expression, level="read"):
            matcher = compile_query(query, self.cluster, index=index)
            docs = index.docs
            for doc_id in list(docs):
                doc = docs.get(doc_id)
                if doc is not None and matcher(doc_id, doc.source) is not None:
                    yield index.name, doc_id, doc.source

    # -- documents written by the cluster itself --
    def add_document(self, name: str, source: dict[str, Any]) -> tuple[Index, str, Doc]:
        """Store a document under a new id in `name` (created if missing), as a system component's
        own writes do: no ingest pipeline, no write step."""
        index = self.write_index(name)
        doc_id = random_id()
        doc, _ = index.put(doc_id, source)
        return index, doc_id, doc

    # -- indices --
    def create(self, expression: str, body: dict[str, Any] | None) -> Index:
        """A new index named by `expression` (a name, or date math like `<logs-{now/d}>`)."""
        name = date_math.resolve(expression)
        validate_index_name(name)
        if name in self.indices:
            existing = self.indices[name]
            raise EsError(
                400,
                "resource_already_exists_exception",
                f"index [{name}/{existing.uuid}] already exists",
                extra={"index_uuid": existing.uuid, "index": name},
            )
        if self._holders(name):
            raise invalid_index_name(name, "already exists as alias")
        body = body or {}
        unknown = set(body) - {"settings", "mappings", "aliases"}
        if unknown:
            key = sorted(unknown)[0]
            raise EsError(400, "parse_exception", f"unknown key [{key}] for create index")
        flat = flatten_settings(body.get("settings"))
        check_settings(flat)
        given = self.templates.for_new_index(name)  # the request's own settings, mappings, aliases win
        if given is not None:
            flat = {**given["settings"], **flat}
            body = {
                **body,
                "mappings": deep_merge(given["mappings"], body.get("mappings") or {}),
                "aliases": {**given["aliases"], **(body.get("aliases") or {})},
            }
        flat = {k: v for k, v in flat.items() if k not in INTERNAL_SETTINGS and v is not None}
        check_new_index(flat)
        mappings = mp.normalize(
            body.get("mappings"), version=mp.release_of(self._index_version()), cluster=self.cluster
        )
        uuid = random_id(16)[:22]
        created = now_ms()
        settings = {
            "index.number_of_shards": "1",
            "index.number_of_replicas": "1",
            "index.routing.allocation.include._tier_preference": "data_content",
            **flat,
            "index.uuid": uuid,
            "index.creation_date": str(created),
            "index.provided_name": expression,
            "index.version.created": self._index_version(),
        }
        index = Index(name, uuid, created, settings, mappings)
        for expression_alias, props in (body.get("aliases") or {}).items():
            alias = date_math.resolve(expression_alias)  # date math in alias names, as at create since 7.13
            self.validate_alias_name(alias, index_names={name})
            index.aliases[alias] = alias_props(props or {})
        self.indices[name] = index
        self.changes += 1
        return index

    def _index_version(self) -> str:
        """`index.version.created`: the node's IndexVersion id, the cluster state's max_index_version."""
        return str(BuildInfo(self.cluster.config.version).index_version)

    def delete(self, names: list[str]) -> None:
        for name in names:
            index = self.indices.pop(name, None)
            if index is None:
                continue
            self.changes += 1 + index.versions["version"]
            self.tombstones.append(
                {
                    "index": {"index_name": index.name, "index_uuid": index.uuid},
                    "delete_date_in_millis": now_ms(),
                }
            )
            del self.tombstones[:-MAX_TOMBSTONES]

    def delete_expression(
        self, expression: str, *, ignore_unavailable: bool, allow_no_indices: bool
    ) -> list[str]:
        """DELETE /{index} (TransportDeleteIndexAction): no wildcard or _all while
        action.destructive_requires_name holds; wildcards match indices only; an alias named outright
        is refused; all or nothing. Returns the names deleted."""
        parts = [p.strip() for p in expression.split(",") if p.strip()]
        if self.cluster.settings.destructive_requires_name and parts != ["*", "-*"]:
            if not parts or any(p == "_all" or "*" in p for p in parts):
                raise illegal_argument("Wildcard expressions or all indices are not allowed")
        found = self.resolve(
            parts, ignore_unavailable=ignore_unavailable, allow_no_indices=allow_no_indices, aliases=False
        )
        names = [index.name for index in found]
        self.delete(names)
        return names

    def put_mapping(self, indices: list[Index], update: dict[str, Any]) -> None:
        """Merge a mapping update into every index, or into none if one of them refuses it."""
        merged = [(index, mp.merge(index.mappings, update)) for index in indices]
        for index, mapping in merged:
            if mapping != index.mappings:
                index.mappings = mapping
                index.changed("mapping")

    def put_settings(self, indices: list[Index], flat: dict[str, Any]) -> None:
        """Dynamic settings only (MetadataUpdateSettingsService: known names, then static ones refused,
        then the values); a null value removes the setting."""
        check_settings(flat, values=False)
        static = sorted(k for k in flat if is_static(k))
        if static and any(not i.closed for i in indices):
            names = ", ".join(f"[{i.name}/{i.uuid}]" for i in indices)
            raise illegal_argument(
                f"Can't update non dynamic settings [[{', '.join(static)}]] for open indices [{names}]"
            )
        check_settings(flat)
        for index in indices:
            before = dict(index.flat_settings)
            for key, value in flat.items():
                if value is None:
                    index.flat_settings.pop(key, None)
                else:
                    index.flat_settings[key] = value
            if index.flat_settings != before:
                index.changed("settings")

    # -- aliases --
    def validate_alias_name(self, alias: str, *, index_names: set[str]) -> None:
        problem = name_problem(alias)
        if problem:
            raise invalid_alias_name(alias, f", {problem}")
        if alias in self.indices or alias in index_names:
            raise invalid_alias_name(
                alias, ": an index or data stream exists with the same name as the alias"
            )

    def update_aliases(self, actions: list[AliasAction]) -> None:
        """POST _aliases: every action is validated before any is applied (the update is atomic)."""
        plan: list[tuple[str, Index, str | None, dict[str, Any]]] = []
        for action in actions:
            indices = [i for expr in action.indices for i in self.resolve(expr, allow_no_indices=False)]
            if action.kind == "remove_index":
                plan += [("remove_index", i, None, {}) for i in indices]
                continue
            for index in indices:
                for alias in action.aliases:
                    if action.kind == "add":
                        self.validate_alias_name(alias, index_names=set())
                        plan.append(("add", index, alias, action.props))
                    else:
                        matching = [a for a in index.aliases if fnmatch.fnmatchcase(a, alias)]
                        if not matching and action.must_exist:
                            raise aliases_not_found(alias)
                        plan += [("remove", index, a, {}) for a in matching]
        for kind, index, alias, props in plan:
            if kind == "add":
                index.aliases[alias] = props
                index.changed("aliases")
            elif kind == "remove":
                index.aliases.pop(alias, None)
                index.changed("aliases")
            else:
                self.delete([index.name])
        self._check_write_indices()

    def put_aliases(self, indices: list[Index], aliases: list[str], props: dict[str, Any]) -> None:
        for alias in aliases:
            self.validate_alias_name(alias, index_names=set())
            for index in indices:
                index.aliases[alias] = alias_props(props)
                index.changed("aliases")
        self._check_write_indices()

    def delete_aliases(self, indices: list[Index], patterns: list[str]) -> None:
        removed = False
        for index in indices:
            for alias in [
                a
                for a in index.aliases
                if any(fnmatch.fnmatchcase(a, p) for p in patterns) or "_all" in patterns
            ]:
                del index.aliases[alias]
                index.changed("aliases")
                removed = True
        if not removed:
            raise aliases_not_found(",".join(patterns))

    def _check_write_indices(self) -> None:
        writers: dict[str, list[str]] = {}
        for index in self.indices.values():
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


def aliases_not_found(expression: str) -> EsError:
    return EsError(
        404,
        "aliases_not_found_exception",
        f"aliases [{expression}] missing",
        extra={"resource.type": "aliases", "resource.id": expression},
    )


def alias_props(props: dict[str, Any]) -> dict[str, Any]:
    """An alias's stored properties from the body that adds it (`routing` sets both routings)."""
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
