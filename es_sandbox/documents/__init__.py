"""Documents: the write path every document write takes (writes.py: DocumentService, the write-step
contract), `_bulk` parsing (parsing.py) and the document endpoints (api.py)."""

from es_sandbox.documents.writes import BulkAction, DocumentService, PendingWrite, WriteStep

__all__ = ["BulkAction", "DocumentService", "PendingWrite", "WriteStep"]
