"""Trained model configurations and the state of their definitions (parts and vocabulary)."""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, field
from typing import Any

from es_sandbox.errors import EsError
from es_sandbox.ml import catalog
from es_sandbox.ml.errors import bad_request, invalid

NLP_TASK_TYPES = (
    "text_expansion",
    "text_embedding",
    "text_classification",
    "zero_shot_classification",
    "fill_mask",
    "ner",
    "pass_through",
    "question_answering",
    "text_similarity",
)
MODEL_TYPES = ("tree_ensemble", "lang_ident", "pytorch")
_MODEL_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?$")


def config_version(es_version: str) -> str:
    """MlConfigVersion: 11.0.0 up to 8.11, 12.0.0 after (illustrative for 9.x)."""
    major, minor = (int(p) for p in es_version.split(".")[:2])
    return "11.0.0" if (major, minor) <= (8, 11) else "12.0.0"


def validate_model_id(model_id: str) -> None:
    if not model_id.startswith(".") and not _MODEL_ID_RE.match(model_id):
        raise invalid(
            f"Invalid model_id; '{model_id}' can contain lowercase alphanumeric (a-z and 0-9), hyphens or "
            "underscores; must start and end with alphanumeric"
        )


def normalize_nlp_config(inference_config: dict[str, Any]) -> dict[str, Any]:
    """Fill the defaults ES renders for an NLP config: vocabulary location and full tokenization."""
    if not isinstance(inference_config, dict) or len(inference_config) != 1:
        raise bad_request("[inference_config] must contain exactly one inference configuration")
    ((task, body),) = inference_config.items()
    if task not in NLP_TASK_TYPES and task not in ("classification", "regression"):
        raise unknown_inference_config(task)
    if task in ("classification", "regression"):
        return copy.deepcopy(inference_config)
    body = dict(body or {})
    if "vocabulary" in body:
        raise bad_request("illegal setting [vocabulary] on inference model creation")
    tokenization = body.pop("tokenization", None) or {"bert": {}}
    ((kind, settings),) = tokenization.items()
    normalized = {
        "vocabulary": catalog.vocabulary(),
        "tokenization": catalog.default_tokenization(kind, **(settings or {})),
    }
    normalized.update(body)
    return {task: normalized}


def unknown_inference_config(task: str) -> EsError:
    return EsError(
        400,
        "x_content_parse_exception",
        "[1:1] [trained_model_config] failed to parse field [inference_config]",
        caused_by={"type": "named_object_not_found_exception", "reason": f"[1:1] unknown field [{task}]"},
    )


@dataclass
class Definition:
    """The definition parts stored for a model (lengths only: the sandbox runs no real model)."""

    total_length: int
    total_parts: int
    part_lengths: dict[int, int] = field(default_factory=dict)

    @property
    def stored_length(self) -> int:
        return sum(self.part_lengths.values())

    @property
    def complete(self) -> bool:
        return self.total_length > 0 and self.stored_length == self.total_length


@dataclass
class TrainedModel:
    model_id: str
    model_type: str | None
    input: dict[str, Any]
    inference_config: dict[str, Any] | None
    created_by: str = "api_user"
    version: str = "12.0.0"
    create_time: int = field(default_factory=lambda: int(time.time() * 1000))
    model_size_bytes: int = 0
    estimated_operations: int = 0
    license_level: str = "platinum"
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] | None = None
    default_field_map: dict[str, str] | None = None
    location: dict[str, Any] | None = None
    model_package: dict[str, Any] | None = None
    platform_architecture: str | None = None
    prefix_strings: dict[str, str] | None = None
    definition: Definition | None = None
    has_vocabulary: bool = False

    @property
    def task_type(self) -> str | None:
        return next(iter(self.inference_config), None) if self.inference_config else None

    @property
    def input_field(self) -> str:
        names = (self.input or {}).get("field_names") or ["text_field"]
        return names[0]

    @property
    def fully_defined(self) -> bool | None:
        """Only models stored in an index have a definition status (TransportGetTrainedModelsAction)."""
        if self.location is None:
            return None
        return self.definition is not None and self.definition.complete

    @property
    def definition_length(self) -> int:
        return self.definition.total_length if self.definition else 0

    def to_xcontent(
        self, *, definition_status: bool = False, exclude_generated: bool = False
    ) -> dict[str, Any]:
        """TrainedModelConfig.toXContent, field for field and in its order."""
        body: dict[str, Any] = {"model_id": self.model_id}
        if self.model_type is not None:
            body["model_type"] = self.model_type
        if self.model_package is not None:
            body["model_package"] = copy.deepcopy(self.model_package)
        if not exclude_generated:
            body["created_by"] = self.created_by
            body["version"] = self.version
            body["create_time"] = self.create_time
            body["model_size_bytes"] = self.model_size_bytes
            body["estimated_operations"] = self.estimated_operations
            body["license_level"] = self.license_level
        if self.description is not None:
            body["description"] = self.description
        body["tags"] = list(self.tags)
        if self.metadata is not None:
            body["metadata"] = copy.deepcopy(self.metadata)
        body["input"] = copy.deepcopy(self.input)
        if self.default_field_map:
            body["default_field_map"] = dict(self.default_field_map)
        if self.inference_config is not None:
            body["inference_config"] = copy.deepcopy(self.inference_config)
        if self.location is not None:
            body["location"] = copy.deepcopy(self.location)
        if definition_status and self.fully_defined is not None:
            body["fully_defined"] = self.fully_defined
        if self.platform_architecture is not None:
            body["platform_architecture"] = self.platform_architecture
        if self.prefix_strings:
            body["prefix_strings"] = dict(self.prefix_strings)
        return body

    # --- persistence ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        state = self.to_xcontent()
        state["prefix_strings"] = self.prefix_strings
        state["default_field_map"] = self.default_field_map
        state["has_vocabulary"] = self.has_vocabulary
        if self.definition is not None:
            state["definition"] = {
                "total_length": self.definition.total_length,
                "total_parts": self.definition.total_parts,
                "part_lengths": {str(k): v for k, v in self.definition.part_lengths.items()},
            }
        return state

    @classmethod
    def restore(cls, state: dict[str, Any]) -> TrainedModel:
        state = dict(state)
        definition = state.pop("definition", None)
        model = cls(**{k: v for k, v in state.items() if k in cls.__dataclass_fields__})
        if definition:
            model.definition = Definition(
                definition["total_length"],
                definition["total_parts"],
                {int(k): v for k, v in definition["part_lengths"].items()},
            )
        return model


def lang_ident_model() -> TrainedModel:
    return TrainedModel(**copy.deepcopy(catalog.LANG_IDENT_CONFIG))


def packaged_model(
    model_id: str, package: catalog.Package, body: dict[str, Any], version: str
) -> TrainedModel:
    """setTrainedModelConfigFieldsFromPackagedModel: the package decides type, config, description."""
    model = TrainedModel(
        model_id=model_id,
        model_type="pytorch",
        input=body.get("input") or {"field_names": ["text_field"]},
        inference_config=copy.deepcopy(package.inference_config),
        version=version,
        description=package.description,
        tags=list(package.tags),
        metadata={},
        location={"index": {"name": catalog.NATIVE_DEFINITION_INDEX}},
        model_package=package.model_package(),
        platform_architecture=package.platform_architecture,
        prefix_strings=dict(package.prefix_strings) if package.prefix_strings else None,
    )
    model.definition = Definition(package.size, package.total_parts)
    return model


def custom_model(model_id: str, body: dict[str, Any], version: str) -> TrainedModel:
    """A config PUT without an inline definition, as eland sends it before the parts."""
    model_type = body.get("model_type")
    if model_type is not None and model_type not in MODEL_TYPES:
        raise bad_request(f"unknown model_type [{model_type}]; must be one of {list(MODEL_TYPES)}")
    if "input" not in body:
        raise invalid("[input] must not be null")
    inference_config = body.get("inference_config")
    if inference_config is None:
        raise invalid("[inference_config] must not be null")
    model_type = model_type or "tree_ensemble"
    location_index = catalog.NATIVE_DEFINITION_INDEX if model_type == "pytorch" else ".ml-inference-000005"
    return TrainedModel(
        model_id=model_id,
        model_type=model_type,
        input=copy.deepcopy(body["input"]),
        inference_config=normalize_nlp_config(inference_config),
        version=version,
        model_size_bytes=int(body.get("model_size_bytes") or 0),
        description=body.get("description"),
        tags=list(body.get("tags") or []),
        metadata=copy.deepcopy(body.get("metadata")),
        default_field_map=body.get("default_field_map"),
        location={"index": {"name": location_index}},
        platform_architecture=body.get("platform_architecture"),
        prefix_strings=body.get("prefix_strings"),
    )
