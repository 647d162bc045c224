"""Index templates: composable templates (`_index_template`), the component templates they are composed
of (`_component_template`) and legacy templates (`_template`), kept with the indices' metadata, checked
as MetadataIndexTemplateService checks them, and applied when an index is created
(MetadataCreateIndexService: the matching composable template of highest priority, else the legacy
templates that match, lowest order first; the request's own settings, mappings and aliases last)."""

from __future__ import annotations

import copy
import fnmatch
from typing import Any

from es_sandbox import mappings as mp
from es_sandbox.dotted import nest_dotted
from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.indices.settings import check_settings, flatten_settings
from es_sandbox.java import java_str

_COMPOSABLE_KEYS = {
    "index_patterns",
    "template",
    "composed_of",
    "priority",
    "version",
    "_meta",
    "data_stream",
    "allow_auto_create",
    "ignore_missing_component_templates",
    "deprecated",
}
_COMPONENT_KEYS = {"template", "version", "_meta", "deprecated"}
_LEGACY_KEYS = {"index_patterns", "order", "version", "settings", "mappings", "aliases"}
_TEMPLATE_KEYS = {"settings", "mappings", "aliases", "lifecycle", "data_stream_options"}


def _unknown_field(parser: str, keys: set[str], allowed: set[str]) -> None:
    unknown = sorted(keys - allowed)
    if unknown:
        raise EsError(400, "x_content_parse_exception", f"[1:2] [{parser}] unknown field [{unknown[0]}]")


def _patterns(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Objects merged key by key, anything else replaced: how templates' mappings and aliases compose."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def patterns_overlap(a: str, b: str) -> bool:
    """Whether two index patterns can match a common name (the literal text before and after each `*`
    must agree), the question ES answers with automata."""
    if fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a):
        return True
    a_head, b_head = a.split("*")[0], b.split("*")[0]
    a_tail, b_tail = a.split("*")[-1], b.split("*")[-1]
    if "*" not in a or "*" not in b:
        return False
    heads = a_head.startswith(b_head) or b_head.startswith(a_head)
    tails = a_tail.endswith(b_tail) or b_tail.endswith(a_tail)
    return heads and tails


def _template_part(spec: dict[str, Any] | None) -> dict[str, Any]:
    """A template's `template` object checked and stored as ES shows it: settings nested under
    `index`, mappings normalized, aliases as given."""
    spec = spec or {}
    _unknown_field("template", set(spec), _TEMPLATE_KEYS)
    out: dict[str, Any] = {}
    if spec.get("settings") is not None:
        flat = flatten_settings(spec["settings"])
        check_settings(flat)
        out["settings"] = nest_dotted(flat)
    if spec.get("mappings") is not None:
        out["mappings"] = mp.normalize(spec["mappings"])
    if spec.get("aliases") is not None:
        out["aliases"] = copy.deepcopy(spec["aliases"])
    return out


class Templates:
    """The cluster's templates (IndexStore.templates)."""

    def __init__(self) -> None:
        self.composable: dict[str, dict[str, Any]] = {}
        self.components: dict[str, dict[str, Any]] = {}
        self.legacy: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        self.composable.clear()
        self.components.clear()
        self.legacy.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"composable": self.composable, "components": self.components, "legacy": self.legacy}

    def restore(self, state: dict[str, Any]) -> None:
        self.composable = dict(state.get("composable", {}))
        self.components = dict(state.get("components", {}))
        self.legacy = dict(state.get("legacy", {}))

    # -- composable templates --
    def check_composable(self, name: str, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
        _unknown_field("index_template", set(body), _COMPOSABLE_KEYS)
        if create and name in self.composable:
            raise illegal_argument(f"index template [{name}] already exists")
        if "index_patterns" not in body:
            raise EsError(400, "x_content_parse_exception", "[1:2] Required [index_patterns]")
        template: dict[str, Any] = {"index_patterns": _patterns(body["index_patterns"])}
        if body.get("template") is not None:
            template["template"] = _template_part(body["template"])
        template["composed_of"] = list(body.get("composed_of") or [])
        for key in ("priority", "version", "_meta", "data_stream", "allow_auto_create", "deprecated"):
            if body.get(key) is not None:
                template[key] = copy.deepcopy(body[key])
        ignored = set(body.get("ignore_missing_component_templates") or [])
        if ignored:
            template["ignore_missing_component_templates"] = sorted(ignored)
        missing = [c for c in template["composed_of"] if c not in self.components and c not in ignored]
        if missing:
            raise illegal_argument(
                f"index template [{name}] specifies component templates {java_str(missing)} that do not exist"
            )
        return template

    def overlapping(
        self, name: str, template: dict[str, Any], *, same_priority: bool
    ) -> dict[str, list[str]]:
        """Other composable templates whose patterns overlap (of the same priority only, if asked)."""
        priority = template.get("priority", 0)
        found = {}
        for other, spec in sorted(self.composable.items()):
            if other == name or (same_priority and spec.get("priority", 0) != priority):
                continue
            if any(
                patterns_overlap(a, b) for a in template["index_patterns"] for b in spec["index_patterns"]
            ):
                found[other] = spec["index_patterns"]
        return found

    def put_composable(self, name: str, body: dict[str, Any], *, create: bool) -> None:
        template = self.check_composable(name, body, create=create)
        clash = self.overlapping(name, template, same_priority=True)
        if clash:
            existing = ",".join(f"{n} => {java_str(p)}" for n, p in clash.items())
            raise illegal_argument(
                f"index template [{name}] has index patterns {java_str(template['index_patterns'])} matching "
                f"patterns from existing templates [{', '.join(clash)}] with patterns ({existing}) that have the "
                f"same priority [{template.get('priority', 0)}], multiple index templates may not match during "
                "index creation, please use a different priority"
            )
        self.composable[name] = template

    def delete_composable(self, expression: str) -> None:
        _delete_index_templates(self.composable, expression)

    # -- component templates --
    def put_component(self, name: str, body: dict[str, Any], *, create: bool) -> None:
        _unknown_field("component_template", set(body), _COMPONENT_KEYS)
        if create and name in self.components:
            raise illegal_argument(f"component template [{name}] already exists")
        if body.get("template") is None:
            raise EsError(400, "x_content_parse_exception", "[1:2] Required [template]")
        component: dict[str, Any] = {"template": _template_part(body["template"])}
        for key in ("version", "_meta", "deprecated"):
            if body.get(key) is not None:
                component[key] = copy.deepcopy(body[key])
        self.components[name] = component

    def delete_component(self, expression: str) -> None:
        names = matching_names(self.components, expression)
        if not names:
            raise EsError(404, "resource_not_found_exception", f"component_template [{expression}] missing")
        users = sorted(t for t, spec in self.composable.items() if set(spec["composed_of"]) & set(names))
        if users:
            raise illegal_argument(
                f"component templates {java_str(names)} cannot be removed as they are still in use by index "
                f"templates {java_str(users)}"
            )
        for name in names:
            del self.components[name]

    # -- legacy templates --
    def put_legacy(self, name: str, body: dict[str, Any], *, create: bool, order: int | None) -> None:
        _unknown_field("template", set(body), _LEGACY_KEYS)
        if create and name in self.legacy:
            raise illegal_argument(f"index_template [{name}] already exists")
        if not body.get("index_patterns"):
            raise EsError(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: index patterns are missing;",
            )
        flat = flatten_settings(body.get("settings"))
        check_settings(flat)
        template: dict[str, Any] = {
            "order": int(body.get("order", order or 0)),
            "index_patterns": _patterns(body["index_patterns"]),
            "settings": flat,
            "mappings": mp.normalize(body["mappings"]) if body.get("mappings") else {},
            "aliases": copy.deepcopy(body.get("aliases") or {}),
        }
        if body.get("version") is not None:
            template["version"] = body["version"]
        self.legacy[name] = template

    def delete_legacy(self, expression: str) -> None:
        _delete_index_templates(self.legacy, expression)

    # -- lookups and composition --
    def find_composable(self, index: str) -> tuple[str, dict[str, Any]] | None:
        """MetadataIndexTemplateService.findV2Template: the highest priority template matching."""
        hits = [
            (spec.get("priority", 0), name, spec)
            for name, spec in self.composable.items()
            if any(fnmatch.fnmatchcase(index, p) for p in spec["index_patterns"])
        ]
        if not hits:
            return None
        _, name, spec = max(hits, key=lambda h: (h[0], h[1]))
        return name, spec

    def compose(self, template: dict[str, Any]) -> dict[str, Any]:
        """A composable template's settings (flat), mappings and aliases: its components in order, then
        its own `template`."""
        settings: dict[str, Any] = {}
        mappings: dict[str, Any] = {}
        aliases: dict[str, Any] = {}
        parts = [
            self.components[c]["template"] for c in template.get("composed_of", []) if c in self.components
        ]
        for part in [*parts, template.get("template") or {}]:
            settings.update(flatten_settings(part.get("settings")))
            mappings = deep_merge(mappings, part.get("mappings") or {})
            aliases.update(copy.deepcopy(part.get("aliases") or {}))
        return {"settings": settings, "mappings": mappings, "aliases": aliases}

    def for_new_index(self, index: str) -> dict[str, Any] | None:
        """What templates give an index created now, or None when none matches."""
        found = self.find_composable(index)
        if found is not None:
            name, spec = found
            if spec.get("data_stream") is not None:
                raise illegal_argument(
                    f"cannot create index with name [{index}], because it matches with template [{name}] that "
                    "creates data streams only, use create data stream api instead"
                )
            return self.compose(spec)
        legacy = sorted(
            (spec["order"], name, spec)
            for name, spec in self.legacy.items()
            if any(fnmatch.fnmatchcase(index, p) for p in spec["index_patterns"])
        )
        if not legacy:
            return None
        settings: dict[str, Any] = {}
        mappings: dict[str, Any] = {}
        aliases: dict[str, Any] = {}
        for _, _, spec in legacy:
            settings.update(spec["settings"])
            mappings = deep_merge(mappings, spec["mappings"])
            aliases.update(copy.deepcopy(spec["aliases"]))
        return {"settings": settings, "mappings": mappings, "aliases": aliases}


def matching_names(store: dict[str, Any], expression: str | None) -> list[str]:
    """The names in `store` a comma list of names and wildcards matches (all without one), sorted."""
    patterns = (expression or "*").split(",")
    return sorted(n for n in store if any(fnmatch.fnmatchcase(n, p) for p in patterns))


def _delete_index_templates(store: dict[str, Any], expression: str) -> None:
    """Composable and legacy index templates are deleted alike: every match, or index_template_missing."""
    names = matching_names(store, expression)
    if not names:
        raise EsError(404, "index_template_missing_exception", f"index_template [{expression}] missing")
    for name in names:
        del store[name]
