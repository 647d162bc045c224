"""Airflow Assets announcing embedded indices: one Asset per alias, emitted when its index is ready.

Aliases are Params, known only at run time, so the announcing task (`announce_ready`,
es_embedding.publish.announce) declares the AssetAlias `READY` as its outlet and adds the alias's
Asset to it. A downstream DAG schedules on `ready_asset("<alias>")` (URI
`elasticsearch://<conn_id>/<alias>`), or on `READY` for every alias.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

from es_embedding.hooks import DEFAULT_CONN_ID

READY = AssetAlias(name="es_embedding_ready", group="es_embedding")


def ready_asset(alias: str, conn_id: str = DEFAULT_CONN_ID) -> Asset:
    """The Asset of an alias on the cluster of `conn_id` (its name is its URI)."""
    uri = f"elasticsearch://{conn_id}/{alias}"
    return Asset(name=uri, uri=uri, group="es_embedding")
