"""What `validate_settings` checks of the endpoint a semantic_text run names, before anything is
written or downloaded: a preconfigured id the cluster lists, and an existing endpoint that embeds
with the run's model (the model behind an alias counts) and can feed a semantic_text field."""

from __future__ import annotations

from typing import Any

from es_embedding.endpoint import known
from es_embedding.endpoint.ensure import read_endpoint
from es_embedding.errors import SettingsError
from es_embedding.settings import InferenceSettings, ModelSettings, RunSettings, format_problem


def model_behind(stage: Any, model_id: str) -> str:
    """The model id itself, or the model a model alias points at (GET _ml/trained_models/<alias>
    answers with the model's own config)."""
    found = stage.get_or_none(
        f"reading model [{model_id}]", stage.es.ml.get_trained_models, model_id=model_id
    )
    configs = (found or {}).get("trained_model_configs") or []
    return configs[0].get("model_id", model_id) if configs else model_id


def check_endpoint_choice(stage: Any, settings: RunSettings) -> None:
    inference = settings[InferenceSettings]
    inference_id = inference.inference_id
    if not inference.semantic_text or inference_id is None:
        return  # the endpoint this run creates is named after its model: ensure_endpoint checks it
    endpoint = read_endpoint(stage, inference_id)
    problem = None
    if endpoint is None and known.is_preconfigured(inference_id):
        problem = (
            "an endpoint this cluster has (ids starting with '.' are Elasticsearch's preconfigured ones, "
            "which it cannot create), or another id to create"
        )
    elif endpoint is not None:
        model_id = model_behind(stage, settings[ModelSettings].model_id)
        if reason := known.endpoint_problem(endpoint, model_id):
            problem = f"an endpoint for the run's model: {reason}"
    if problem:
        raise SettingsError(format_problem("embedding_inference", "inference_id", inference_id, problem))
