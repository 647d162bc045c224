"""What the sandbox knows without a download: the packaged models Elastic publishes at
ml-models.elastic.co, and the built-in `lang_ident_model_1`.

Sizes, checksums and package create times are illustrative (the reference notes mark them
UNVERIFIED); the structure follows ModelPackageConfig and TrainedModelConfig.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

MODEL_REPOSITORY = "https://ml-models.elastic.co"
NATIVE_DEFINITION_INDEX = ".ml-inference-native-000002"
PART_SIZE = 1 << 20  # the package loader streams definitions in 1 MiB parts
ELSER_MEMORY_BYTES = 2004 * (1 << 20)  # StartTrainedModelDeploymentAction.ELSER_1_OR_2_MEMORY_USAGE
MODEL_MEMORY_OVERHEAD = 240 * (1 << 20)  # StartTrainedModelDeploymentAction.MEMORY_OVERHEAD


def default_tokenization(kind: str = "bert", **overrides: Any) -> dict[str, Any]:
    """Tokenization.toXContent with its defaults (do_lower_case false, 512, truncate first, no span)."""
    body = {
        "do_lower_case": False,
        "with_special_tokens": True,
        "max_sequence_length": 512,
        "truncate": "first",
        "span": -1,
    }
    body.update(overrides)
    return {kind: body}


def vocabulary() -> dict[str, str]:
    return {"index": NATIVE_DEFINITION_INDEX}


@dataclass(frozen=True)
class Package:
    packaged_model_id: str
    description: str
    size: int
    inference_config: dict[str, Any]
    create_time: int
    minimum_version: str = "11.0.0"
    platform_architecture: str | None = None
    tags: list[str] = field(default_factory=list)
    prefix_strings: dict[str, str] | None = None  # put before inputs by search or ingest inference

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.packaged_model_id.encode()).hexdigest()

    @property
    def total_parts(self) -> int:
        return -(-self.size // PART_SIZE)

    def model_package(self) -> dict[str, Any]:
        """The `model_package` object as stored with the config (resetPackageOnlyFields cleared the rest)."""
        return {
            "packaged_model_id": self.packaged_model_id,
            "model_repository": MODEL_REPOSITORY,
            "minimum_version": self.minimum_version,
            "create_time": self.create_time,
            "size": self.size,
            "sha256": self.sha256,
            "metadata": {},
            "tags": [],
            "vocabulary_file": f"{self.packaged_model_id}.vocab.json",
        }


def _elser(packaged_id: str, description: str, size: int, arch: str | None) -> Package:
    return Package(
        packaged_model_id=packaged_id,
        description=description,
        size=size,
        create_time=1695731584000,
        platform_architecture=arch,
        inference_config={
            "text_expansion": {
                "vocabulary": vocabulary(),
                "tokenization": default_tokenization("bert", do_lower_case=True),
            }
        },
    )


def _e5(packaged_id: str, description: str, arch: str | None) -> Package:
    return Package(
        packaged_model_id=packaged_id,
        description=description,
        size=470142944,
        create_time=1699985722000,
        minimum_version="12.0.0",
        platform_architecture=arch,
        inference_config={
            "text_embedding": {
                "vocabulary": vocabulary(),
                "tokenization": default_tokenization("xlm_roberta"),
                "embedding_size": 384,
            }
        },
        prefix_strings={"search": "query: ", "ingest": "passage: "},  # E5 expects them (its model card)
    )


def _rerank() -> Package:
    """Elastic Rerank (the model behind the `.rerank-v1-elasticsearch` endpoint): a DeBERTa v2 cross
    encoder that scores text pairs (text_similarity)."""
    return Package(
        packaged_model_id="rerank-v1",
        description="Elastic Rerank v1",
        size=565212208,
        create_time=1731429283000,
        minimum_version="12.0.0",
        inference_config={
            "text_similarity": {
                "vocabulary": vocabulary(),
                "tokenization": default_tokenization("deberta_v2"),
            }
        },
    )


PACKAGES: dict[str, Package] = {
    ".elser_model_2": _elser("elser_model_2", "Elastic Learned Sparse EncodeR v2", 438123914, None),
    ".elser_model_2_linux-x86_64": _elser(
        "elser_model_2_linux-x86_64",
        "Elastic Learned Sparse EncodeR v2, optimized for linux-x86_64",
        274756282,
        "linux-x86_64",
    ),
    ".multilingual-e5-small": _e5("multilingual-e5-small", "E5 small multilingual", None),
    ".multilingual-e5-small_linux-x86_64": _e5(
        "multilingual-e5-small_linux-x86_64",
        "E5 small multilingual optimized for linux-x86_64",
        "linux-x86_64",
    ),
    ".rerank-v1": _rerank(),
}

LANG_IDENT_ID = "lang_ident_model_1"

LANG_IDENT_CONFIG: dict[str, Any] = {
    "model_id": LANG_IDENT_ID,
    "model_type": "lang_ident",
    "created_by": "_xpack",
    "version": "7.6.0",
    "create_time": 1575548914594,
    "model_size_bytes": 1053992,
    "estimated_operations": 39629,
    "license_level": "basic",
    "description": "Model used for identifying language from arbitrary input text.",
    "tags": ["lang_ident", "prepackaged"],
    "input": {"field_names": ["text"]},
    "inference_config": {
        "classification": {
            "num_top_classes": 0,
            "top_classes_results_field": "top_classes",
            "results_field": "predicted_value",
            "num_top_feature_importance_values": 0,
            "prediction_field_type": "string",
        }
    },
}
