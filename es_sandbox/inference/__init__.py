"""Inference endpoints (`_inference`), chunking, and the `semantic_text` field type.

service.py endpoints.py api.py   the `_inference` API: endpoints, their deployments, inference
segmentation.py chunking.py      ICU boundaries and Elasticsearch's chunkers
semantic_text.py                 the field type: mapping, `_inference_fields` storage
ingestion.py                     the write step that chunks and embeds semantic_text values
queries.py                       semantic / match / sparse_vector / exists, the semantic highlighter
"""

from es_sandbox.inference import queries  # noqa: F401  (registers the query types and the highlighter)
from es_sandbox.inference.api import router
from es_sandbox.inference.service import InferenceService

__all__ = ["InferenceService", "router"]
