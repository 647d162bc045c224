"""The announcement, `announce_ready`: an asset event for the alias once it points at a verified index
(the Assets themselves: es_embedding.assets)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from es_embedding.assets import READY, ready_asset
from es_embedding.base import EsStage


class AnnounceReadyOperator(EsStage):
    """After the alias points at a verified index: an asset event for the alias's Asset, its extra
    naming the index, the source, the run's mode and data interval. Pushes asset_uri."""

    template_fields: Sequence[str] = (
        *EsStage.template_fields,
        "alias",
        "dest_index",
        "source_index",
        "mode",
        "interval",
    )
    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        alias: str,
        dest_index: str,
        source_index: str,
        mode: str | None = None,
        interval: list | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(outlets=[READY], **kwargs)
        self.alias = alias
        self.dest_index = dest_index
        self.source_index = source_index
        self.mode = mode
        self.interval = interval

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
