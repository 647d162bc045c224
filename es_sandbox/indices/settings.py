"""Index settings: the flat form the store keeps ("index.number_of_shards": "1"), the nested form
APIs show, and which settings a user may give or change."""

from __future__ import annotations

import re
from typing import Any

from es_sandbox.dotted import flatten_dotted
from es_sandbox.errors import illegal_argument

# Settings a user may give; others are refused as unknown (prefixes end with a dot).
KNOWN_SETTINGS = {
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
    "index.soft_deletes.enabled",
}
KNOWN_PREFIXES = (
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
STATIC_SETTINGS = {
    "index.number_of_shards",
    "index.number_of_routing_shards",
    "index.codec",
    "index.mode",
    "index.soft_deletes.enabled",
    "index.mapping.source.mode",
    "index.store.type",
    "index.routing_partition_size",
}
STATIC_PREFIXES = ("index.sort.", "index.analysis.")
INTERNAL_SETTINGS = {"index.uuid", "index.creation_date", "index.provided_name", "index.version.created"}


def flatten_settings(settings: dict[str, Any] | None) -> dict[str, Any]:
    """{"number_of_shards": 1, "index": {"default_pipeline": "p"}} -> {"index.number_of_shards": "1", ...}"""
    return {
        key if key.startswith("index.") else f"index.{key}": _setting_str(value)
        for key, value in flatten_dotted(settings or {}).items()
    }


def _setting_str(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return [_setting_str(v) for v in value]
    return str(value)


BOOLEAN_SETTINGS = {
    "index.hidden",
    "index.soft_deletes.enabled",
    "index.blocks.read_only",
    "index.blocks.read",
    "index.blocks.write",
    "index.blocks.metadata",
    "index.blocks.read_only_allow_delete",
    "index.knn",
}
TIME_SETTINGS = {
    "index.refresh_interval",
    "index.translog.sync_interval",
    "index.unassigned.node_left.delayed_timeout",
}
SOURCE_MODES = ("disabled", "stored", "synthetic")
# Integer settings (Setting.intSetting / longSetting) and their bounds: (minimum, maximum or None).
INTEGER_SETTINGS = {
    "index.number_of_shards": (1, 1024),
    "index.number_of_replicas": (0, None),
    "index.max_result_window": (1, None),
    "index.mapping.total_fields.limit": (0, None),
    "index.mapping.depth.limit": (1, None),
    "index.mapping.nested_fields.limit": (0, None),
    "index.mapping.nested_objects.limit": (0, None),
    "index.mapping.field_name_length.limit": (1, None),
}
_TIME_VALUE = re.compile(r"^-?\d+(\.\d+)?(nanos|micros|ms|s|m|h|d)$")


def is_static(key: str) -> bool:
    """A setting an open index cannot change (Can't update non dynamic settings)."""
    return key in STATIC_SETTINGS or key in INTERNAL_SETTINGS or key.startswith(STATIC_PREFIXES)


def check_new_index(flat: dict[str, Any]) -> None:
    """MetadataCreateIndexService's checks of the settings an index is created with."""
    if flat.get("index.soft_deletes.enabled") == "false":
        raise illegal_argument(
            "Creating indices with soft-deletes disabled is no longer supported. Please do not specify a value for "
            "setting [index.soft_deletes.enabled]."
        )


def check_settings(flat: dict[str, Any], *, values: bool = True) -> None:
    """IndexScopedSettings.validate: every setting known, and (with `values`) every value of its type."""
    for key in flat:
        if key not in KNOWN_SETTINGS and not key.startswith(KNOWN_PREFIXES):
            raise illegal_argument(
                f"unknown setting [{key}] please check that any required plugins are installed, or check the "
                "breaking changes documentation for removed settings"
            )
    if not values:
        return
    for key, value in flat.items():
        typed = key in INTEGER_SETTINGS or key in BOOLEAN_SETTINGS or key in TIME_SETTINGS
        if isinstance(value, list) and (typed or key == "index.mapping.source.mode"):
            raise illegal_argument(
                f"Found list type value for setting [{key}] but but did not expect a list for it."
            )
        if key in INTEGER_SETTINGS and value is not None:
            try:
                number = int(value)
            except ValueError:
                raise illegal_argument(f"Failed to parse value [{value}] for setting [{key}]") from None
            low, high = INTEGER_SETTINGS[key]
            if number < low:
                raise illegal_argument(
                    f"Failed to parse value [{value}] for setting [{key}] must be >= {low}"
                )
            if high is not None and number > high:
                raise illegal_argument(
                    f"Failed to parse value [{value}] for setting [{key}] must be <= {high}"
                )
        if value is None:
            continue
        if key in BOOLEAN_SETTINGS and value not in ("true", "false"):
            raise illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")
        if key in TIME_SETTINGS and value != "-1" and not _TIME_VALUE.match(str(value)):
            raise illegal_argument(
                f"failed to parse setting [{key}] with value [{value}] as a time value: unit is missing or unrecognized"
            )
        if key == "index.mapping.source.mode" and str(value).lower() not in SOURCE_MODES:
            raise illegal_argument(
                f"No enum constant org.elasticsearch.index.mapper.SourceFieldMapper.Mode.{str(value).upper()}"
            )
