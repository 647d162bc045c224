"""The `_cat` APIs: the table machinery (table.py), the columns (columns.py), the endpoints (api.py)."""

from es_sandbox.cat.api import router

__all__ = ["router"]
