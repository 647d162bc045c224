"""Trained model configurations and the state of their definitions (parts and vocabulary)."""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass, field
from typing import Any

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.ml import catalog
from es_sandbox.ml.definitions import InlineDefinition, parse_definition, parse_failure, unknown_named_object
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
ID_LENGTH_LIMIT = 64  # MlStrings.ID_LENGTH_LIMIT
DEFAULT_INPUTS = {"pytorch": {"field_names": ["input"]}}  # TrainedModelType's default inputs


def config_version(es_version: str) -> str:
    """MlConfigVersion: 11.0.0 up to 8.11, 12.0.0 after (illustrative for 9.x)."""
    major, minor = (int(p) for p in es_version.split(".")[:2])
    return "11.0.0" if (major, minor) <= (8, 11) else "12.0.0"


def validate_model_id(model_id: str) -> None:
    problems = _id_problems(model_id)
    if problems:
        raise invalid(*problems)


def _id_problems(model_id: str) -> list[str]:
    problems = []
    if not model_id.startswith(".") and not _MODEL_ID_RE.match(model_id):
        problems.append(
            f"Invalid model_id; '{model_id}' can contain lowercase alphanumeric (a-z and 0-9), hyphens or "
            "underscores; must start and end with alphanumeric"
        )
    if len(model_id) > ID_LENGTH_LIMIT:
        problems.append(
            f"Invalid model_id; '{model_id}' cannot contain more than {ID_LENGTH_LIMIT} characters."
        )
    return problems


def creation_problems(model_id: str, body: dict[str, Any]) -> list[str]:
    """TrainedModelConfig.Builder.validate(forCreation=true), problem for problem and in its order."""
    problems = []
    has_definition = body.get("definition") is not None or body.get("compressed_definition") is not None
    if not model_id.startswith("."):
        if has_definition and body.get("location") is not None:
            problems.append("[definition] and [location] are both defined but only one can be used.")
        if not has_definition and body.get("model_type") is None:
            problems.append("[model_type] must be set if [definition] is not defined.")
        if body.get("inference_config") is None:
            problems.append("[inference_config] must not be null.")
    problems += _id_problems(model_id)
    tags = list(body.get("tags") or [])
    bad_tags = [t for t in tags if not _MODEL_ID_RE.match(str(t)) or len(str(t)) > ID_LENGTH_LIMIT]
    if bad_tags:
        problems.append(
            f"Invalid tags [{', '.join(map(str, bad_tags))}]; must only can contain lowercase alphanumeric (a-z and "
            "0-9), hyphens or underscores, must start and end with alphanumeric, and must be less than "
            f"{ID_LENGTH_LIMIT} characters."
        )
    if model_id in tags:
        problems.append("none of the tags must equal the model_id")
    names = (body.get("input") or {}).get("field_names") if isinstance(body.get("input"), dict) else None
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        if not names:
            problems.append("[input.field_names] must not be empty")
        if any(part == "" for name in names if "." in name for part in name.split(".")):
            problems.append("[input.field_names] must only contain valid dot delimited field names")
    for setting in ("version", "created_by", "create_time", "license_level", "location"):
        if body.get(setting) is not None:
            problems.append(f"illegal to set [{setting}] at inference model creation")
    metadata = body.get("metadata") or {}
    for key in ("total_feature_importance", "model_aliases"):
        if isinstance(metadata, dict) and metadata.get(key) is not None:
            problems.append(f"illegal to set [metadata.{key}] at inference model creation")
    if body.get("model_package") is not None:
        problems.append("illegal to set [model_package] at inference model creation")
    return problems


MASK_TOKENS = {
    "bert": "[MASK]",
    "bert_ja": "[MASK]",
    "mpnet": "<mask>",
    "roberta": "<mask>",
    "xlm_roberta": "<mask>",
}


def normalize_nlp_config(inference_config: dict[str, Any]) -> dict[str, Any]:
    """The config as ES stores and renders it: defaults filled in, the vocabulary location and the
    full tokenization for NLP tasks. Problems found here are parse errors, as in ES's parser."""
    if not isinstance(inference_config, dict) or len(inference_config) != 1:
        raise bad_request("[inference_config] must contain exactly one inference configuration")
    ((task, body),) = inference_config.items()
    if task not in NLP_TASK_TYPES and task not in ("classification", "regression"):
        raise unknown_named_object("inference_config", task)
    body = dict(body or {})
    if task == "regression":
        return {task: {"results_field": "predicted_value", "num_top_feature_importance_values": 0, **body}}
    if task == "classification":
        defaults = {
            "num_top_classes": 0,
            "top_classes_results_field": "top_classes",
            "results_field": "predicted_value",
            "num_top_feature_importance_values": 0,
        }
        return {task: {**defaults, **body}}
    if "vocabulary" in body:
        raise bad_request("illegal setting [vocabulary] on inference model creation")
    tokenization = body.pop("tokenization", None) or {"bert": {}}
    ((kind, settings),) = tokenization.items()
    normalized = {
        "vocabulary": catalog.vocabulary(),
        "tokenization": catalog.default_tokenization(kind, **(settings or {})),
    }
    if task == "text_classification":
        labels = body.get("classification_labels")
        if labels is None or len(labels) < 2:
            shown = "null" if labels is None else "[" + ", ".join(map(str, labels)) + "]"
            raise config_failure(
                "status_exception",
                f"[text_classification] requires at least 2 [classification_labels]; provided {shown}",
            )
    if task == "fill_mask":
        expected = MASK_TOKENS.get(kind, "[MASK]")
        asked = body.get("mask_token", expected)
        if asked != expected:
            raise config_failure(
                "illegal_argument_exception",
                f"Mask token requested was [{asked}] but must be [{expected}] for this model",
            )
        body["mask_token"] = expected
    normalized.update(body)
    return {task: normalized}


def config_failure(cause_type: str, reason: str) -> EsError:
    return parse_failure("inference_config", cause_type, reason)


@dataclass
class Definition:
    """The definition parts stored for a model: their lengths (persisted), and the bytes of parts
    uploaded in this run (kept in memory only, for a real run of a TorchScript model)."""

    total_length: int
    total_parts: int
    part_lengths: dict[int, int] = field(default_factory=dict)
    part_bytes: dict[int, bytes] = field(default_factory=dict, repr=False)

    def assembled(self) -> bytes | None:
        """The whole definition, when every part's bytes are here."""
        if not self.complete or len(self.part_bytes) != len(self.part_lengths):
            return None
        return b"".join(self.part_bytes[i] for i in sorted(self.part_bytes))

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
    vocabulary: list[str] | None = None  # what eland uploaded (kept in memory, for a real run)
    inline: InlineDefinition | None = None  # a tree or ensemble given in the PUT
    compressed_unparsed: str | None = None  # a compressed_definition put with defer_definition_decompression

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
        self,
        *,
        definition_status: bool = False,
        exclude_generated: bool = False,
        include_definition: bool = False,
        decompress_definition: bool = True,
        aliases: list[str] | None = None,
    ) -> dict[str, Any]:
        """TrainedModelConfig.toXContent, field for field and in its order; `aliases` go into
        metadata.model_aliases as the GET API puts them."""
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
        if include_definition and self.inline is not None:
            if decompress_definition:
                body["definition"] = copy.deepcopy(self.inline.raw)
            else:
                body["compressed_definition"] = self.inline.compressed()
        elif include_definition and self.compressed_unparsed is not None and not decompress_definition:
            body["compressed_definition"] = self.compressed_unparsed
        body["tags"] = list(self.tags)
        metadata = copy.deepcopy(self.metadata)
        if aliases:
            metadata = {**(metadata or {}), "model_aliases": sorted(aliases)}
        if metadata is not None:
            body["metadata"] = metadata
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
    """A config PUT of a model of one's own: parsed, then validated, then built, as
    PutTrainedModelAction.Request.parseRequest does (each step's errors before the next's)."""
    model_type = body.get("model_type")
    if model_type is not None and str(model_type).strip().lower() not in MODEL_TYPES:
        raise parse_failure(
            "model_type",
            "illegal_argument_exception",
            f"No enum constant org.elasticsearch.xpack.core.ml.inference.TrainedModelType.{str(model_type).strip().upper()}",
        )
    if body.get("definition") is not None and body.get("compressed_definition") is not None:
        raise parse_failure(
            "compressed_definition",
            "illegal_argument_exception",
            "both [compressed_definition] and [definition] cannot be set.",
        )
    inline = parse_definition(body["definition"]) if body.get("definition") is not None else None
    if body.get("inference_config") is not None:
        inference_config = normalize_nlp_config(body["inference_config"])
    else:
        inference_config = None
    problems = creation_problems(model_id, body)
    if problems:
        raise invalid(*problems)
    model_type = str(model_type).strip().lower() if model_type is not None else None
    model_input = body.get("input")
    if model_input is None and model_type is not None:
        model_input = DEFAULT_INPUTS.get(model_type)
    if model_input is None:
        raise illegal_argument("[input] must not be null.")
    names = model_input.get("field_names")
    model_input = {"field_names": [names] if isinstance(names, str) else list(names)}
    return TrainedModel(
        model_id=model_id,
        model_type=model_type,
        input=model_input,
        inference_config=inference_config,
        version=version,
        model_size_bytes=int(body.get("model_size_bytes") or 0),
        description=body.get("description"),
        tags=list(body.get("tags") or []),
        metadata=copy.deepcopy(body.get("metadata")),
        default_field_map=body.get("default_field_map"),
        platform_architecture=body.get("platform_architecture"),
        prefix_strings=body.get("prefix_strings"),
        inline=inline,
        compressed_unparsed=body.get("compressed_definition"),
    )
