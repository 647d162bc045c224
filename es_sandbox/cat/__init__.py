"""The `_cat` APIs: the table machinery (table.py), the columns (columns.py, ml_columns.py), the
endpoints (api.py: indices, count, health, nodes, tasks, aliases, trained models; cluster_tables.py:
shards, allocation, recovery, templates and the node tables; ml_tables.py: the ML and transform
tables)."""

from es_sandbox.cat import cluster_tables, ml_tables
from es_sandbox.cat.api import router as _main

router = _main.include(cluster_tables.router, ml_tables.router)

__all__ = ["router"]
