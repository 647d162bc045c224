"""Inference endpoints of the `elasticsearch` service: their configuration, how PUT bodies parse into
it (ElasticsearchInternalService.parseRequestConfig, ElasticsearchInternalServiceSettings), how they
render (ModelConfigurations.toXContent), and the preconfigured endpoints
(ElasticsearchInternalService.defaultConfigs)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from es_sandbox.errors import EsError, illegal_argument, status_exception
from es_sandbox.inference.chunking import (
    DEFAULT_SETTINGS,
    ChunkingSettings,
    parse_chunking_settings,
    validation_exception,
)
from es_sandbox.java import java_str
from es_sandbox.ml.assignments import adaptive_problems
from es_sandbox.ml.deployments import adaptive_xcontent

SERVICE = "elasticsearch"
OLD_ELSER_SERVICE = "elser"
TASK_TYPES = ("text_embedding", "sparse_embedding", "rerank", "completion", "any", "chat_completion")
SERVICE_TASK_TYPES = ("rerank", "text_embedding", "sparse_embedding")
ELSER_V2, ELSER_V2_X86 = ".elser_model_2", ".elser_model_2_linux-x86_64"
ELSER_IDS = (".elser_model_1", ELSER_V2, ELSER_V2_X86)
E5, E5_X86 = ".multilingual-e5-small", ".multilingual-e5-small_linux-x86_64"
E5_IDS = (E5, E5_X86)
RERANKER = ".rerank-v1"
DEFAULT_ELSER_ID = ".elser-2-elasticsearch"
DEFAULT_E5_ID = ".multilingual-e5-small-elasticsearch"
DEFAULT_RERANK_ID = ".rerank-v1-elasticsearch"
PRECONFIGURED_IDS = (DEFAULT_ELSER_ID, DEFAULT_E5_ID, DEFAULT_RERANK_ID)
DEFAULT_ADAPTIVE = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 32}
E5_DIMENSIONS = 384
SIMILARITIES = ("cosine", "dot_product", "l2_norm")  # SimilarityMeasure
EMBEDDING_ELEMENT_TYPES = ("byte", "float")  # what a custom eland text_embedding endpoint may say
# The trained model task (its inference_config) behind each endpoint task type.
MODEL_TASK_OF = {
    "sparse_embedding": "text_expansion",
    "text_embedding": "text_embedding",
    "rerank": "text_similarity",
}
ENDPOINT_TASK_OF = {model: endpoint for endpoint, model in MODEL_TASK_OF.items()}


@dataclass
class Endpoint:
    inference_id: str
    task_type: str
    model_id: str
    num_threads: int
    num_allocations: int | None = None
    adaptive_allocations: dict[str, Any] | None = None
    deployment_id: str | None = None  # set when the endpoint uses a deployment it did not create
    chunking: ChunkingSettings | None = None
    task_settings: dict[str, Any] = field(default_factory=dict)
    service: str = SERVICE
    preconfigured: bool = False
    # A custom (eland) text_embedding model's vectors (CustomElandInternalTextEmbeddingServiceSettings):
    # similarity and element type as the PUT says (cosine and float by default), dimensions learnt from
    # a probe inference when the endpoint is created. None for the other endpoints.
    dimensions: int | None = None
    similarity: str | None = None
    element_type: str | None = None

    @property
    def custom_embedding(self) -> bool:
        return self.task_type == "text_embedding" and self.model_id not in E5_IDS

    def embedding_settings(self) -> tuple[int | None, str, str]:
        """(dimensions, similarity, element type) of a text_embedding endpoint's vectors: E5's are fixed
        (MultilingualE5SmallInternalServiceSettings), a custom model's are the endpoint's."""
        if not self.custom_embedding:
            return E5_DIMENSIONS, "cosine", "float"
        return self.dimensions, self.similarity or "cosine", self.element_type or "float"

    @property
    def deployment_name(self) -> str:
        """mlNodeDeploymentId: the deployment the endpoint infers with."""
        return self.deployment_id or self.inference_id

    @property
    def creates_deployment(self) -> bool:
        return self.deployment_id is None

    def service_settings(self, live_allocations: int | None = None) -> dict[str, Any]:
        """ElasticsearchInternalServiceSettings.toXContent; GET replaces num_allocations by the live
        deployment's (updateModelsWithDynamicFields)."""
        allocations = self.num_allocations if live_allocations is None else live_allocations
        body: dict[str, Any] = {}
        if allocations is not None:
            body["num_allocations"] = allocations
        body["num_threads"] = self.num_threads
        body["model_id"] = self.model_id
        if self.adaptive_allocations is not None:
            body["adaptive_allocations"] = adaptive_xcontent(self.adaptive_allocations)
        if self.deployment_id is not None:
            body["deployment_id"] = self.deployment_id
        if self.custom_embedding:
            dimensions, similarity, element_type = self.embedding_settings()
            if dimensions is not None:
                body["dimensions"] = dimensions
            body["similarity"] = similarity
            body["element_type"] = element_type
        return body

    def to_xcontent(self, live_allocations: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "inference_id": self.inference_id,
            "task_type": self.task_type,
            "service": self.service,
            "service_settings": self.service_settings(live_allocations),
        }
        if self.task_settings:
            body["task_settings"] = copy.deepcopy(self.task_settings)
        if self.chunking is not None:
            body["chunking_settings"] = self.chunking.to_xcontent()
        return body

    # --- persistence -----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        state = self.to_xcontent()
        state["num_allocations"] = self.num_allocations
        return state

    @classmethod
    def restore(cls, state: dict[str, Any]) -> Endpoint:
        settings = state["service_settings"]
        return cls(
            inference_id=state["inference_id"],
            task_type=state["task_type"],
            model_id=settings["model_id"],
            num_threads=settings["num_threads"],
            num_allocations=state.get("num_allocations"),
            adaptive_allocations=settings.get("adaptive_allocations"),
            deployment_id=settings.get("deployment_id"),
            chunking=parse_chunking_settings(state.get("chunking_settings"), default_when_empty=False),
            task_settings=state.get("task_settings") or {},
            service=state.get("service", SERVICE),
            dimensions=settings.get("dimensions"),
            similarity=settings.get("similarity"),
            element_type=settings.get("element_type"),
        )


def preconfigured_endpoints(linux_x86: bool) -> dict[str, Endpoint]:
    """The ML-node default endpoints: listed before first use, deployed on first inference, scaling
    between 0 and 32 allocations."""
    elser = ELSER_V2_X86 if linux_x86 else ELSER_V2
    e5 = E5_X86 if linux_x86 else E5
    specs = (
        (DEFAULT_ELSER_ID, "sparse_embedding", elser, DEFAULT_SETTINGS),
        (DEFAULT_E5_ID, "text_embedding", e5, DEFAULT_SETTINGS),
        (DEFAULT_RERANK_ID, "rerank", RERANKER, None),
    )
    return {
        inference_id: Endpoint(
            inference_id=inference_id,
            task_type=task_type,
            model_id=model_id,
            num_threads=1,
            adaptive_allocations=dict(DEFAULT_ADAPTIVE),
            chunking=chunking,
            task_settings={"return_documents": True} if task_type == "rerank" else {},
            preconfigured=True,
        )
        for inference_id, task_type, model_id, chunking in specs
    }


# --- parsing a PUT body ----------------------------------------------------------------------------


def parse_task_type(name: Any) -> str:
    """TaskType.fromStringOrStatusException."""
    if name is None:
        raise status_exception(400, "Task type must not be null")
    value = java_str(name).strip().lower()
    if value not in TASK_TYPES:
        raise status_exception(400, f"Unknown task_type [{java_str(name)}]")
    return value


def resolve_task_type(url_task_type: str, body_task_type: Any) -> str:
    """ServiceUtils.resolveTaskType: the body may name it when the URL does not, never differently."""
    if body_task_type is None:
        if url_task_type == "any":
            raise status_exception(400, "model is missing required setting [task_type]")
        return url_task_type
    parsed = parse_task_type(body_task_type)
    if parsed == "any":
        raise status_exception(400, "task_type [any] is not valid type for inference")
    if url_task_type not in ("any", parsed):
        raise status_exception(
            400,
            f"Cannot resolve conflicting task_type parameter in the request URL [{url_task_type}] and the "
            f"request body [{java_str(body_task_type)}]",
        )
    return parsed


def unknown_settings(settings: dict[str, Any], service: str = SERVICE) -> EsError:
    return status_exception(
        400, f"Configuration contains settings [{java_str(settings)}] unknown to the [{service}] service"
    )


def unsupported_task_type(task_type: str, service: str = SERVICE) -> EsError:
    return status_exception(400, f"The [{service}] service does not support task type [{task_type}]")


@dataclass
class ServiceSettings:
    """What ElasticsearchInternalServiceSettings.fromRequestMap takes from `service_settings`."""

    num_threads: int
    num_allocations: int | None
    adaptive_allocations: dict[str, Any] | None
    model_id: str | None
    deployment_id: str | None


def parse_embedding_settings(settings: dict[str, Any]) -> tuple[str | None, str | None]:
    """CustomElandInternalTextEmbeddingServiceSettings.commonFieldsFromMap: the optional similarity and
    element type of a custom text_embedding model (consumed from `settings`)."""
    problems: list[str] = []
    similarity = _one_of(settings, "similarity", SIMILARITIES, problems)
    element_type = _one_of(settings, "element_type", EMBEDDING_ELEMENT_TYPES, problems)
    if problems:
        raise validation_exception(*problems)
    return similarity, element_type


def _one_of(settings: dict[str, Any], name: str, allowed: tuple[str, ...], problems: list[str]) -> str | None:
    """ServiceUtils.extractOptionalEnum: a value of the enum, matched case-insensitively."""
    value = settings.pop(name, None)
    if value is None:
        return None
    text = java_str(value)
    if text.lower() not in allowed:
        problems.append(
            f"[service_settings] Invalid value [{text}] received. [{name}] must be one of "
            f"[{', '.join(sorted(allowed))}]"
        )
        return None
    return text.lower()


def _positive_int(settings: dict[str, Any], name: str, problems: list[str], *, required: bool) -> int | None:
    value = settings.pop(name, None)
    if value is None:
        if required:
            problems.append(f"[service_settings] does not contain the required setting [{name}]")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(
            f"field [{name}] is not of the expected type. The value [{java_str(value)}] cannot be converted "
            "to a [Integer]"
        )
        return None
    if value <= 0:
        problems.append(f"[service_settings] Invalid value [{value}]. [{name}] must be a positive integer")
        return None
    return value


def _optional_string(settings: dict[str, Any], name: str, problems: list[str]) -> str | None:
    value = settings.pop(name, None)
    if value is None:
        return None
    if not isinstance(value, str):
        problems.append(
            f"field [{name}] is not of the expected type. The value [{java_str(value)}] cannot be converted "
            "to a [String]"
        )
        return None
    if value == "":
        problems.append(f"[service_settings] Invalid value empty string. [{name}] must be a non-empty string")
        return None
    return value


def _adaptive(settings: dict[str, Any], problems: list[str]) -> dict[str, Any] | None:
    """ServiceUtils.removeAsAdaptiveAllocationsSettings."""
    value = settings.pop("adaptive_allocations", None)
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append(
            "field [adaptive_allocations] is not of the expected type. The value "
            f"[{java_str(value)}] cannot be converted to a [Map]"
        )
        return None
    given = dict(value)
    parsed: dict[str, Any] = {}
    enabled = given.pop("enabled", None)
    if enabled is not None:
        if not isinstance(enabled, bool):
            problems.append(
                f"field [enabled] is not of the expected type. The value [{java_str(enabled)}] cannot be "
                "converted to a [Boolean]"
            )
        parsed["enabled"] = enabled
    for name in ("min_number_of_allocations", "max_number_of_allocations"):
        number = given.pop(name, None)
        if number is not None:
            if isinstance(number, bool) or not isinstance(number, int):
                problems.append(
                    f"field [{name}] is not of the expected type. The value [{java_str(number)}] cannot be "
                    "converted to a [Integer]"
                )
                continue
            parsed[name] = number
    if given:
        problems.append(
            f"Configuration contains unknown settings [{java_str(given)}] while parsing field "
            "[adaptive_allocations] for settings [service_settings]"
        )
    problems.extend(adaptive_problems(parsed))
    return parsed


def parse_service_settings(settings: dict[str, Any]) -> ServiceSettings:
    """fromRequestMap: threads required, allocations or adaptive allocations required; keys are
    consumed from `settings`, so what is left is unknown to the service."""
    problems: list[str] = []
    allocations = _positive_int(settings, "num_allocations", problems, required=False)
    threads = _positive_int(settings, "num_threads", problems, required=True)
    adaptive = _adaptive(settings, problems)
    model_id = _optional_string(settings, "model_id", problems)
    if allocations is None and adaptive is None:
        problems.append(
            "[service_settings] does not contain one of the required settings [num_allocations, adaptive_allocations]"
        )
    deployment_id = _optional_string(settings, "deployment_id", problems)
    if problems:
        raise validation_exception(*problems)
    assert threads is not None
    return ServiceSettings(threads, allocations, adaptive, model_id, deployment_id)


@dataclass
class PutRequest:
    """A PUT body, split as parseRequestConfig splits it."""

    service_settings: dict[str, Any]
    task_settings: dict[str, Any]
    chunking: ChunkingSettings | None
    service: str


def split_put_body(task_type: str, body: dict[str, Any]) -> PutRequest:
    config = dict(body)
    service = config.pop("service")
    settings = config.pop("service_settings", None)
    if settings is None:
        raise status_exception(400, "Missing required field [service_settings]")
    if not isinstance(settings, dict):
        raise illegal_argument(f"[service_settings] must be an object, found [{java_str(settings)}]")
    task_settings = config.pop("task_settings", None) or {}
    chunking = None
    if task_type in ("text_embedding", "sparse_embedding"):
        chunking = parse_chunking_settings(config.pop("chunking_settings", None), default_when_empty=True)
    if config:
        raise unknown_settings(config)
    return PutRequest(dict(settings), dict(task_settings), chunking, service)
