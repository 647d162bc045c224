"""Maps with dotted keys, as Elasticsearch's Settings hold them: a nested map flattened to
`a.b.c` keys (`flat_settings=true`), and flat keys nested again (Settings.toXContent)."""

from __future__ import annotations

from typing import Any


def flatten_dotted(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}, "c": 2} -> {"a.b": 1, "c": 2}: every leaf under its dotted path."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten_dotted(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def nest_dotted(flat: dict[str, Any]) -> dict[str, Any]:
    """{"a.b": 1, "c": 2} -> {"a": {"b": 1}, "c": 2}, keys in sorted order (Settings are a sorted map)."""
    nested: dict[str, Any] = {}
    for key in sorted(flat):
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = flat[key]
    return nested
