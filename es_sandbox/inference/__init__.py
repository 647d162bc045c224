"""Inference endpoints (`_inference`), chunking, and the `semantic_text` field type."""

from es_sandbox.inference.api import router
from es_sandbox.inference.service import InferenceService

__all__ = ["InferenceService", "router"]
