"""What an inference endpoint of the `elasticsearch` service is, from what the cluster answers: the
preconfigured endpoints every 8.16+ cluster lists, the task type a model embeds as, the deployment
behind an endpoint, and the name this package gives the endpoints it creates. Pure functions."""

from __future__ import annotations

from typing import Any

from es_embedding.model.known import PLATFORM_SPECIFIC
from es_embedding.naming import slug

SERVICE = "elasticsearch"
ENDPOINT_PREFIX = "es-embedding-"
# The task types a semantic_text field can embed with, by the trained model's inference_config.
EMBEDDING_TASKS = {"text_expansion": "sparse_embedding", "text_embedding": "text_embedding"}
# The ML-node endpoints Elasticsearch preconfigures (ElasticsearchInternalService.defaultConfigs):
# id -> the model they deploy (its platform-specific build where every ML node is linux-x86_64).
PRECONFIGURED = {
    ".elser-2-elasticsearch": ".elser_model_2",
    ".multilingual-e5-small-elasticsearch": ".multilingual-e5-small",
}


def base_model(model_id: str) -> str:
    """The model without its platform suffix: `.elser_model_2_linux-x86_64` is `.elser_model_2`."""
    return model_id.removesuffix(f"_{PLATFORM_SPECIFIC}")


def default_inference_id(model_id: str) -> str:
    """`es-embedding-<model>` for the model the run embeds with (behind an alias: the model itself,
    so that pointing the alias at a new model makes a new endpoint, never changes the old one)."""
    return f"{ENDPOINT_PREFIX}{slug(base_model(model_id))}"


def is_preconfigured(inference_id: str) -> bool:
    """Elasticsearch reserves ids that start with a dot for the endpoints it preconfigures."""
    return inference_id.startswith(".")


def task_type_for(model_config: dict) -> str | None:
    """The endpoint task type a trained model embeds as (sparse_embedding for ELSER and other
    text_expansion models, text_embedding for E5 and other dense ones); None for any other model."""
    for kind, task_type in EMBEDDING_TASKS.items():
        if kind in (model_config.get("inference_config") or {}):
            return task_type
    return None


def endpoint_model(endpoint: dict) -> str | None:
    return (endpoint.get("service_settings") or {}).get("model_id")


def deployment_of(endpoint: dict) -> str | None:
    """The ML deployment an endpoint of the elasticsearch service infers with: the one it attached to
    (`deployment_id`), else the one it started, named after the endpoint. None for other services
    (EIS `elastic`, hosted APIs), which infer outside the cluster's ML nodes."""
    if endpoint.get("service") != SERVICE:
        return None
    return (endpoint.get("service_settings") or {}).get("deployment_id") or endpoint["inference_id"]


def endpoint_problem(endpoint: dict, model_id: str) -> str | None:
    """Why the run cannot embed with this existing endpoint for `model_id`, or None."""
    inference_id, task_type = endpoint.get("inference_id"), endpoint.get("task_type")
    if task_type not in EMBEDDING_TASKS.values():
        return (
            f"endpoint [{inference_id}] is a {task_type} endpoint; semantic_text embeds with "
            "sparse_embedding or text_embedding endpoints"
        )
    found = endpoint_model(endpoint)
    if endpoint.get("service") == SERVICE and found and base_model(found) != base_model(model_id):
        return (
            f"endpoint [{inference_id}] embeds with model [{found}], not [{model_id}] (Variable "
            "'embedding_model' key 'model_id'); an existing endpoint is used as it is, never changed: set "
            "another inference_id (or null: es-embedding-<model>), or model_id to the endpoint's model"
        )
    return None


def capacity_differences(endpoint: dict, wanted: dict[str, Any]) -> list[str]:
    """What an existing endpoint's service_settings do not share with the Variable's capacity (said,
    never changed: the endpoint serves the indices that use it as it is)."""
    settings = endpoint.get("service_settings") or {}
    return [
        f"{key} {settings.get(key)!r} (the Variable asks for {value!r})"
        for key, value in wanted.items()
        if value is not None and settings.get(key) != value
    ]
