"""The publish family: what makes a complete destination the one users query, and tidies after it.

- verify: `verify_embeddings` (counts, embeddings, a semantic query)
- alias: `swap_alias` (atomic, between this package's indices only)
- announce: `announce_ready` (the alias's Asset event; the Assets: es_embedding.assets)
- retention: `apply_retention` (the alias's older indices beyond keep_indices)
"""

from es_embedding.publish.alias import SwapAliasOperator
from es_embedding.publish.announce import AnnounceReadyOperator
from es_embedding.publish.retention import ApplyRetentionOperator
from es_embedding.publish.verify import VerifyEmbeddingsOperator

__all__ = ["AnnounceReadyOperator", "ApplyRetentionOperator", "SwapAliasOperator", "VerifyEmbeddingsOperator"]
