"""--data-dir: stored state (indices, pipelines, models) survives a restart; running work does not."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster


def load(cluster: Cluster) -> None:
    pass


def save(cluster: Cluster) -> None:
    pass
