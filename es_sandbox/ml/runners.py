"""What computes a deployed model's output: the uploaded TorchScript model itself when `torch` is
installed and this run holds its bytes and vocabulary (torchscript.py), else the deterministic
stand-ins (encoders.py). Loaded models are kept per model id until a new part or vocabulary
arrives, or the model goes."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from es_sandbox.ml import encoders

if TYPE_CHECKING:
    from es_sandbox.ml.models import TrainedModel

log = logging.getLogger("es_sandbox.ml")

Infer = Callable[[str, dict[str, Any], str], dict[str, Any]]


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


class ModelRunners:
    def __init__(self) -> None:
        self._loaded: dict[str, tuple[Infer, bool]] = {}

    def forget(self, model_id: str) -> None:
        self._loaded.pop(model_id, None)

    def clear(self) -> None:
        self._loaded.clear()

    def runner(self, model: TrainedModel) -> tuple[Infer, bool]:
        """(how to infer, whether it is the real model)."""
        known = self._loaded.get(model.model_id)
        if known is None:
            torchscript = self._torchscript(model)
            known = self._loaded[model.model_id] = (
                (torchscript, True) if torchscript else (encoders.infer, False)
            )
        return known

    def _torchscript(self, model: TrainedModel) -> Infer | None:
        if model.model_type != "pytorch" or model.model_package is not None or not model.vocabulary:
            return None
        definition = model.definition.assembled() if model.definition else None
        config = model.inference_config or {}
        tokenization = next(iter(config.values()), {}).get("tokenization") or {}
        if (
            definition is None
            or not definition.startswith(b"PK")  # a TorchScript archive is a zip file
            or next(iter(tokenization), "bert") not in ("bert", "mpnet")
            or not torch_available()
        ):
            return None
        from es_sandbox.ml.torchscript import TorchScriptModel

        try:
            loaded = TorchScriptModel(definition, model.vocabulary, config)
        except Exception as exc:  # not TorchScript: the stand-in answers, as before torch was installed
            log.warning("model [%s] could not be loaded with torch: %s", model.model_id, exc)
            return None
        return loaded.infer
