"""Ingest pipelines: storage, processors, execution, _simulate and ingest statistics."""

from es_sandbox.ingest.api import router
from es_sandbox.ingest.service import IngestService

__all__ = ["IngestService", "router"]
