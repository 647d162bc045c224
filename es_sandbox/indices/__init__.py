"""Indices: the IndexStore subsystem (store.py: indices, settings, mappings, aliases and documents;
index.py: one index and its document writes; names.py, settings.py: the rules) and the index-level
endpoints (api.py)."""

from es_sandbox.indices.index import Doc, Index
from es_sandbox.indices.names import now_ms, random_id
from es_sandbox.indices.store import IndexStore

__all__ = ["Doc", "Index", "IndexStore", "now_ms", "random_id"]
