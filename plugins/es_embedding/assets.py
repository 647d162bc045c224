"""Airflow Assets announcing embedded indices: one Asset per alias, emitted when its index is ready.

Aliases are Params, known only at run time, so the announcing task declares the AssetAlias
`READY` as its outlet and adds the alias's Asset to it. A downstream DAG schedules on
`ready_asset("<alias>")` (URI `elasticsearch://<conn_id>/<alias>`), or on `READY` for every alias.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import Asset, AssetAlias, BaseOperator

from es_embedding.hooks import DEFAULT_CONN_ID

READY = AssetAlias(name="es_embedding_ready", group="es_embedding")


def ready_asset(alias: str, conn_id: str = DEFAULT_CONN_ID) -> Asset:
    """The Asset of an alias on the cluster of `conn_id` (its name is its URI)."""
    uri = f"elasticsearch://{conn_id}/{alias}"
    return Asset(name=uri, uri=uri, group="es_embedding")


class AnnounceReadyOperator(BaseOperator):
    """After the alias points at a verified index: an asset event for the alias's Asset, its extra
    naming the index, the source, the run's mode and data interval. Pushes asset_uri."""

    template_fields: Sequence[str] = ("alias", "dest_index", "source_index", "mode", "interval")
    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        alias: str,
        dest_index: str,
        source_index: str,
        mode: str | None = None,
        interval: list | None = None,
        es_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(outlets=[READY], **kwargs)
        self.alias = alias
        self.dest_index = dest_index
        self.source_index = source_index
        self.mode = mode
        self.interval = interval
        self.es_conn_id = es_conn_id

    def execute(self, context: Any) -> str:
        asset = ready_asset(self.alias, self.es_conn_id)
        extra = {
            "alias": self.alias,
            "index": self.dest_index,
            "source_index": self.source_index,
            "mode": self.mode or "full",
            "data_interval": self.interval or None,
        }
        context["outlet_events"][READY].add(asset, extra=extra)
        self.log.info("Announced %s: %s", asset.uri, extra)
        return asset.uri
