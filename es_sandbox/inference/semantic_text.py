"""The `semantic_text` field type: where its fields are in a mapping and which endpoint they use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

TYPE = "semantic_text"
DEFAULT_INFERENCE_ID = ".elser-2-elasticsearch"


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


def endpoint_ids(spec: dict[str, Any]) -> set[str]:
    ids = {spec.get("inference_id") or DEFAULT_INFERENCE_ID}
    if spec.get("search_inference_id"):
        ids.add(spec["search_inference_id"])
    return ids


def indices_using(cluster: Cluster, inference_id: str) -> list[str]:
    """SemanticTextInfoExtractor: the indices with a semantic_text field that uses the endpoint."""
    return sorted(
        index.name
        for index in cluster.indices.indices.values()
        if any(inference_id in endpoint_ids(spec) for _, spec in semantic_fields(index.mappings))
    )
