"""Cluster settings (cluster.settings): the dynamic cluster-wide settings the sandbox honours, with
`GET/PUT _cluster/settings` (ClusterUpdateSettingsRequest, SettingsUpdater).

    action.destructive_requires_name   true: deleting indices by wildcard or _all is refused
    action.auto_create_index           true | false | patterns (+a*,-b*): which writes create indices

Other dynamic settings users commonly set (recovery throughput, allocation, disk watermarks, breakers,
search limits, ML limits, loggers) are accepted with their values checked by type and shown back; a
one-node in-memory sandbox has nothing for them to change. Persistent settings survive a restart
(--data-dir), transient ones do not (and, as in Elasticsearch, setting one answers a deprecation
warning). Any other setting is refused as Elasticsearch refuses a setting it does not know.
"""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.dotted import flatten_dotted, nest_dotted
from es_sandbox.errors import EsError, illegal_argument, index_not_found, validation_failed
from es_sandbox.http import Router, bool_param, json_body, json_response
from es_sandbox.versions import BuildInfo

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()

DESTRUCTIVE_REQUIRES_NAME = "action.destructive_requires_name"
AUTO_CREATE_INDEX = "action.auto_create_index"
DEFAULTS = {DESTRUCTIVE_REQUIRES_NAME: "true", AUTO_CREATE_INDEX: "true"}
SCOPES = ("persistent", "transient")
TRANSIENT_DEPRECATION = (
    "[transient settings removal] Updating cluster settings through transient settings is deprecated. Some "
    "Elastic products may make use of transient settings and those should not be changed. Any custom use of "
    "transient settings should be replaced by persistent settings."
)
# Dynamic cluster settings accepted without effect, by the kind of value each takes.
ACCEPTED = {
    "indices.recovery.max_bytes_per_sec": "bytes",
    "indices.recovery.max_concurrent_file_chunks": "int",
    "indices.recovery.max_concurrent_operations": "int",
    "cluster.routing.allocation.enable": "text",
    "cluster.routing.rebalance.enable": "text",
    "cluster.routing.allocation.disk.threshold_enabled": "bool",
    "cluster.routing.allocation.disk.watermark.low": "text",
    "cluster.routing.allocation.disk.watermark.high": "text",
    "cluster.routing.allocation.disk.watermark.flood_stage": "text",
    "cluster.info.update.interval": "time",
    "cluster.max_shards_per_node": "int",
    "search.max_buckets": "int",
    "search.default_search_timeout": "time",
    "search.allow_expensive_queries": "bool",
    "indices.breaker.total.limit": "text",
    "indices.breaker.request.limit": "text",
    "indices.breaker.fielddata.limit": "text",
    "script.max_compilations_rate": "text",
    "ingest.geoip.downloader.enabled": "bool",
    "xpack.ml.max_model_memory_limit": "bytes",
    "xpack.ml.max_lazy_ml_nodes": "int",
    "xpack.ml.max_machine_memory_percent": "int",
    "xpack.ml.use_auto_machine_memory_percent": "bool",
}
LOG_LEVELS = ("OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL")


def _setting_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_setting_text(v) for v in value)
    return str(value)


def _known(key: str) -> bool:
    return key in DEFAULTS or key in ACCEPTED or key.startswith("logger.")


def _check_kind(key: str, value: str) -> None:
    kind = "level" if key.startswith("logger.") else ACCEPTED.get(key)
    if kind == "bool" and value not in ("true", "false"):
        raise illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")
    if kind == "int" and not re.fullmatch(r"-?\d+", value):
        raise illegal_argument(f"Failed to parse value [{value}] for setting [{key}]")
    if kind == "bytes" and not re.fullmatch(r"-1|\d+(\.\d+)?\s*(b|kb|mb|gb|tb|pb)", value, re.IGNORECASE):
        raise illegal_argument(
            f"failed to parse setting [{key}] with value [{value}] as a size in bytes: unit is missing or unrecognized"
        )
    if kind == "time" and not re.fullmatch(r"-1|\d+(nanos|micros|ms|s|m|h|d)", value):
        raise illegal_argument(
            f"failed to parse setting [{key}] with value [{value}] as a time value: unit is missing or unrecognized"
        )
    if kind == "level" and value.upper() not in LOG_LEVELS:
        raise illegal_argument(f"No enum constant org.apache.logging.log4j.Level.{value.upper()}")


def _check(key: str, value: str) -> None:
    if key == DESTRUCTIVE_REQUIRES_NAME and value not in ("true", "false"):
        raise illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")
    if key == AUTO_CREATE_INDEX and value not in ("true", "false"):
        for pattern in value.split(","):
            if not pattern.strip() or pattern.strip() in ("+", "-"):
                raise illegal_argument(
                    f"Can't parse [{value}] for setting [{AUTO_CREATE_INDEX}] must be either [true, false, or a "
                    "comma separated list of index patterns]"
                )


class ClusterSettings:
    """The subsystem holding persistent and transient cluster settings (cluster.settings)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.persistent: dict[str, str] = {}
        self.transient: dict[str, str] = {}

    # --- subsystem contract ----------------------------------------------------------------

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def reset(self) -> None:
        self.persistent.clear()
        self.transient.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"persistent": self.persistent}

    def restore(self, state: dict[str, Any]) -> None:
        self.persistent = dict(state.get("persistent", {}))

    def on_node_restart(self) -> None:
        self.transient.clear()  # transient settings do not survive a full cluster restart

    # --- reading ---------------------------------------------------------------------------

    def get(self, key: str) -> str:
        """Transient over persistent over the default."""
        return self.transient.get(key, self.persistent.get(key, DEFAULTS[key]))

    @property
    def destructive_requires_name(self) -> bool:
        return self.get(DESTRUCTIVE_REQUIRES_NAME) == "true"

    def check_auto_create(self, name: str) -> None:
        """AutoCreateIndex.shouldAutoCreate: refuse to create `name` by writing into it."""
        value = self.get(AUTO_CREATE_INDEX)
        if value == "true":
            return
        if value == "false":
            raise _auto_create_refused(name, f"[{AUTO_CREATE_INDEX}] is [false]")
        for pattern in (p.strip() for p in value.split(",")):
            include = not pattern.startswith("-")
            glob = pattern.lstrip("+-")
            if fnmatch.fnmatchcase(name, glob):
                if include:
                    return
                raise _auto_create_refused(
                    name,
                    f"[{AUTO_CREATE_INDEX}] contains [-{glob}] which forbids automatic creation of the index",
                )
        raise _auto_create_refused(name, f"[{AUTO_CREATE_INDEX}] ([{value}]) doesn't match")

    # --- changing --------------------------------------------------------------------------

    def update(self, body: dict[str, Any]) -> dict[str, dict[str, str]]:
        """Validates both scopes before applying either; returns what each scope applied."""
        changes = {scope: flatten_dotted(body.get(scope) or {}) for scope in SCOPES}
        if not changes["persistent"] and not changes["transient"]:
            raise validation_failed("no settings to update")
        for scope in ("transient", "persistent"):
            for key, value in changes[scope].items():
                if value is None and (_known(key) or key.endswith("*")):
                    continue
                if not _known(key):
                    raise illegal_argument(f"{scope} setting [{key}], not recognized")
                _check(key, _setting_text(value))
                _check_kind(key, _setting_text(value))
        applied: dict[str, dict[str, str]] = {}
        for scope in SCOPES:
            store = getattr(self, scope)
            applied[scope] = {}
            for key, value in changes[scope].items():
                if value is None:
                    for name in [n for n in store if fnmatch.fnmatchcase(n, key)]:
                        del store[name]
                else:
                    store[key] = applied[scope][key] = _setting_text(value)
        return applied


def _auto_create_refused(name: str, why: str) -> EsError:
    err = index_not_found(name)
    err.reason += f" and {why}"
    return err


@router.route("/_cluster/settings", "GET")
async def get_cluster_settings(request: Request, cluster: Cluster):
    flat = bool_param(request, "flat_settings")
    render = (lambda s: dict(sorted(s.items()))) if flat else nest_dotted
    settings = cluster.settings
    body: dict[str, Any] = {
        "persistent": render(settings.persistent),
        "transient": render(settings.transient),
    }
    if bool_param(request, "include_defaults"):
        chosen = {**settings.persistent, **settings.transient}
        body["defaults"] = render({k: v for k, v in DEFAULTS.items() if k not in chosen})
    return body


@router.route("/_cluster/settings", "PUT")
async def put_cluster_settings(request: Request, cluster: Cluster):
    body = await json_body(request, required=True)
    for key in body:
        if key not in SCOPES:
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[1:2] [cluster_update_settings_request] unknown field [{key}]",
            )
    applied = cluster.settings.update(body)
    flat = bool_param(request, "flat_settings")
    render = (lambda s: dict(sorted(s.items()))) if flat else nest_dotted
    answer = {
        "acknowledged": True,
        "persistent": render(applied["persistent"]),
        "transient": render(applied["transient"]),
    }
    if body.get("transient"):  # RestClusterUpdateSettingsAction warns on any transient setting
        return json_response(
            answer, headers=BuildInfo(cluster.config.version).deprecation_header(TRANSIENT_DEPRECATION)
        )
    return answer
