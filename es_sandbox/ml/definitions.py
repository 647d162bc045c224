"""Inline model definitions (`definition` / `compressed_definition` of a PUT): trees and ensembles as
TrainedModelDefinition, Tree, TreeNode and Ensemble check them, their operation estimates, their
compressed form, and their evaluation for `_infer` and the inference processor.

Where the check happens decides the error (as in ES):
- while parsing the body (a missing or empty structure): 400 `x_content_parse_exception`
  "[trained_model_config] failed to parse field [definition]" caused by the IllegalArgumentException;
- in `validate()` after parsing: 400 `status_exception` "Definition for [id] has validation
  failures." caused by the status_exception naming the problem (TransportPutTrainedModelAction).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import math
import zlib
from dataclasses import dataclass
from typing import Any

from es_sandbox.dotted import flatten_dotted
from es_sandbox.errors import EsError, status_exception

DECISION_TYPES = ("lte", "lt", "gt", "gte")
AGGREGATORS = {  # name -> target types it can aggregate for
    "weighted_sum": ("regression",),
    "weighted_mode": ("classification", "regression"),
    "logistic_regression": ("classification", "regression"),
    "exponent": ("regression",),
}


class DefinitionProblem(Exception):
    """A validate() failure: the status_exception ES puts under "has validation failures"."""


def parse_failure(
    field: str, cause_type: str, cause: str, *, parser: str = "trained_model_config"
) -> EsError:
    """ObjectParser's wrapping of an exception raised while parsing `field` (position not modelled)."""
    return EsError(
        400,
        "x_content_parse_exception",
        f"[1:1] [{parser}] failed to parse field [{field}]",
        caused_by={"type": cause_type, "reason": cause},
    )


def unknown_named_object(field: str, name: str) -> EsError:
    """`field` holds an object named `name` that no parser is registered for (NamedXContentRegistry)."""
    return parse_failure(field, "named_object_not_found_exception", f"[1:1] unknown field [{name}]")


def _required(body: dict[str, Any], key: str, where: str) -> Any:
    if body.get(key) is None:
        raise parse_failure(
            "definition", "illegal_argument_exception", f"[{key}] must not be null.", parser=where
        )
    return body[key]


@dataclass
class Node:
    index: int
    leaf_value: list[float] | None
    split_feature: int
    threshold: float
    left: int
    right: int
    decision_type: str
    default_left: bool

    @property
    def is_leaf(self) -> bool:
        return self.left < 0


def _node(raw: dict[str, Any]) -> Node:
    leaf = raw.get("leaf_value")
    if leaf is not None and not isinstance(leaf, list):
        leaf = [leaf]
    decision = str(raw.get("decision_type", "lte")).lower()
    if decision not in DECISION_TYPES:
        raise parse_failure(
            "definition",
            "illegal_argument_exception",
            f"No enum constant org.elasticsearch.xpack.core.ml.inference.trainedmodel.tree.Operator.{decision.upper()}",
        )
    return Node(
        index=int(_required(raw, "node_index", "tree_node")),
        leaf_value=[float(v) for v in leaf] if leaf is not None else None,
        split_feature=int(raw.get("split_feature", -1)),
        threshold=float(raw.get("threshold", math.nan)),
        left=int(raw.get("left_child", -1)),
        right=int(raw.get("right_child", -1)),
        decision_type=decision,
        default_left=bool(raw.get("default_left", True)),
    )


class Tree:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.feature_names: list[str] = list(_required(raw, "feature_names", "tree"))
        structure = _required(raw, "tree_structure", "tree")
        if not structure:
            raise parse_failure(
                "definition", "illegal_argument_exception", "[tree_structure] must not be empty"
            )
        self.nodes = [_node(n) for n in sorted(structure, key=lambda n: n.get("node_index", 0))]
        self.target_type = str(raw.get("target_type", "regression"))
        self.labels: list[str] | None = raw.get("classification_labels")

    def validate(self) -> None:
        """Tree.validate, check for check."""
        max_feature = max(n.split_feature for n in self.nodes)
        if max_feature >= len(self.feature_names):
            raise DefinitionProblem(
                f"feature index [{max_feature}] is out of bounds for the [feature_names] array"
            )
        if len(self.nodes) > 1 and not self.feature_names:
            raise DefinitionProblem(
                f"[feature_names] is empty and the tree has > 1 nodes; num nodes [{len(self.nodes)}]. "
                "The model Must have features if tree is not a stump"
            )
        if self.labels is not None and self.target_type != "classification":
            raise DefinitionProblem(
                "[target_type] should be [classification] if [classification_labels] are provided"
            )
        if self.target_type != "classification" and any(
            n.leaf_value and len(n.leaf_value) > 1 for n in self.nodes
        ):
            raise DefinitionProblem(
                "[target_type] should be [classification] if leaf nodes have multiple values"
            )
        missing = [c for n in self.nodes for c in (n.left, n.right) if c >= len(self.nodes)]
        if missing:
            raise DefinitionProblem(f"[tree] contains missing nodes [{', '.join(map(str, missing))}]")
        seen: set[int] = set()
        queue = [0]
        while queue:
            index = queue.pop(0)
            if index in seen:
                raise DefinitionProblem(f"[tree] contains cycle at node {index}")
            seen.add(index)
            node = self.nodes[index]
            queue += [c for c in (node.left, node.right) if c >= 0]
        lengths = {len(n.leaf_value or []) for n in self.nodes if n.is_leaf}
        if len(lengths) > 1:
            raise DefinitionProblem(
                "[tree.tree_structure] all leaf nodes must have the same number of values"
            )

    def estimated_operations(self) -> int:
        return math.ceil(math.log(len(self.nodes))) + len(self.feature_names)

    def evaluate(self, features: dict[str, Any]) -> list[float]:
        values = [features.get(name) for name in self.feature_names]
        node = self.nodes[0]
        while not node.is_leaf:
            value = values[node.split_feature] if node.split_feature >= 0 else None
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                go_left = node.default_left
            else:
                go_left = {
                    "lte": value <= node.threshold,
                    "lt": value < node.threshold,
                    "gt": value > node.threshold,
                    "gte": value >= node.threshold,
                }[node.decision_type]
            node = self.nodes[node.left if go_left else node.right]
        return node.leaf_value or [0.0]


class Ensemble:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.feature_names: list[str] = list(raw.get("feature_names") or [])
        self.models = [trained_model(m) for m in _required(raw, "trained_models", "ensemble")]
        aggregate = raw.get("aggregate_output") or {"weighted_sum": {}}
        ((self.aggregator, settings),) = aggregate.items()
        self.weights: list[float] | None = (settings or {}).get("weights")
        self.target_type = str(raw.get("target_type", "regression"))
        self.labels: list[str] | None = raw.get("classification_labels")
        self.class_weights: list[float] | None = raw.get("classification_weights")

    def validate(self) -> None:
        """Ensemble.validate, check for check."""
        if not self.models:
            raise DefinitionProblem("[trained_models] must not be empty")
        if self.target_type not in AGGREGATORS.get(self.aggregator, ()):
            raise DefinitionProblem(
                f"aggregate_output [{self.target_type}] is not compatible with target_type [{self.aggregator}]"
            )
        if self.weights is not None and len(self.weights) != len(self.models):
            raise DefinitionProblem(
                f"[aggregate_output] expects value array of size [{len(self.weights)}] but number of models is "
                f"[{len(self.models)}]"
            )
        if (
            self.labels is not None or self.class_weights is not None
        ) and self.target_type != "classification":
            raise DefinitionProblem(
                "[target_type] should be [classification] if [classification_labels] or [classification_weights] "
                "are provided"
            )
        if (
            self.labels is not None
            and self.class_weights is not None
            and len(self.labels) != len(self.class_weights)
        ):
            raise DefinitionProblem(
                "[classification_weights] and [classification_labels] should be the same length if both are provided"
            )
        for model in self.models:
            model.validate()

    def estimated_operations(self) -> int:
        average = sum(m.estimated_operations() for m in self.models) / len(self.models)
        return math.ceil(average) + 2 * (len(self.models) - 1)

    def evaluate(self, features: dict[str, Any]) -> list[float]:
        outputs = [m.evaluate(features)[0] for m in self.models]
        weights = self.weights or [1.0] * len(outputs)
        weighted = [o * w for o, w in zip(outputs, weights, strict=True)]
        if self.aggregator == "weighted_sum":
            return [sum(weighted)]
        if self.aggregator == "exponent":
            return [math.exp(sum(weighted))]
        if self.aggregator == "logistic_regression":
            p = 1.0 / (1.0 + math.exp(-sum(weighted)))
            return [1.0 - p, p] if self.target_type == "classification" else [p]
        votes: dict[int, float] = {}  # weighted_mode
        for output, weight in zip(outputs, weights, strict=True):
            votes[int(output)] = votes.get(int(output), 0.0) + weight
        size = max(votes) + 1
        total = sum(votes.values()) or 1.0
        return [votes.get(i, 0.0) / total for i in range(size)]


def trained_model(raw: dict[str, Any]) -> Tree | Ensemble:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise parse_failure(
            "definition", "illegal_argument_exception", "[trained_model] must have exactly one model"
        )
    ((kind, body),) = raw.items()
    if kind == "tree":
        return Tree(body or {})
    if kind == "ensemble":
        return Ensemble(body or {})
    raise unknown_named_object("definition", kind)


@dataclass
class InlineDefinition:
    """A parsed `definition`: the JSON as given, and the model built from it."""

    raw: dict[str, Any]
    model: Tree | Ensemble

    @property
    def target_type(self) -> str:
        return self.model.target_type

    def compressed(self) -> str:
        """InferenceToXContentCompressor: base64 of the gzipped JSON."""
        data = json.dumps(self.raw, separators=(",", ":")).encode()
        return base64.b64encode(gzip.compress(data, mtime=0)).decode()

    def size_estimate(self) -> int:
        """model_size_bytes: what the JVM holds for it; an estimate by node and feature count (the
        sandbox has no RamUsageEstimator)."""
        trees = self.model.models if isinstance(self.model, Ensemble) else [self.model]
        return 64 + sum(96 + 56 * len(t.nodes) + 48 * len(t.feature_names) for t in trees)


def parse_definition(raw: Any) -> InlineDefinition:
    if not isinstance(raw, dict):
        raise parse_failure("definition", "illegal_argument_exception", "[definition] must be an object")
    model = trained_model(_required(raw, "trained_model", "trained_model_definition"))
    return InlineDefinition(raw, model)


def decompress(model_id: str, compressed: str) -> InlineDefinition:
    """`compressed_definition` read as ES reads it; what fails fails as "Failed to parse definition"."""
    try:
        data = base64.b64decode(compressed, validate=True)
    except (binascii.Error, ValueError):
        raise parse_failure(
            "compressed_definition", "illegal_argument_exception", "Illegal base64 character"
        ) from None
    try:
        text = gzip.decompress(data)
        raw = json.loads(text)
    except gzip.BadGzipFile:
        raise _unparsable(model_id, "zip_exception", "Not in GZIP format") from None
    except (EOFError, zlib.error):
        raise _unparsable(model_id, "e_o_f_exception", "Unexpected end of ZLIB input stream") from None
    except ValueError as exc:
        raise _unparsable(model_id, "json_parse_exception", str(exc)) from None
    return parse_definition(raw)


def _unparsable(model_id: str, cause_type: str, cause: str) -> EsError:
    return status_exception(
        400, f"Failed to parse definition for [{model_id}]", caused_by={"type": cause_type, "reason": cause}
    )


def validate(model_id: str, definition: InlineDefinition) -> None:
    try:
        definition.model.validate()
    except DefinitionProblem as problem:
        raise status_exception(
            400,
            f"Definition for [{model_id}] has validation failures.",
            caused_by={"type": "status_exception", "reason": str(problem)},
        ) from None


def infer(
    definition: InlineDefinition, task_type: str, config: dict[str, Any], doc: dict[str, Any]
) -> dict[str, Any]:
    """A local model's answer (RegressionInferenceResults / ClassificationInferenceResults)."""
    field = config.get("results_field") or "predicted_value"
    outputs = definition.model.evaluate(flatten_dotted(doc))
    if task_type == "regression":
        return {field: outputs[0]}
    if len(outputs) == 1:  # a class index: certain of it
        index = int(outputs[0])
        probabilities = [0.0] * (index + 1)
        probabilities[index] = 1.0
    else:
        top = max(outputs)
        exps = [math.exp(v - top) for v in outputs]
        probabilities = [e / sum(exps) for e in exps]
    labels = definition.model.labels
    ranked = sorted(range(len(probabilities)), key=lambda i: -probabilities[i])

    def name(i: int) -> str:
        return labels[i] if labels and i < len(labels) else str(i)

    result: dict[str, Any] = {field: name(ranked[0])}
    wanted = int(config.get("num_top_classes") or 0)
    if wanted:
        chosen = ranked if wanted < 0 else ranked[:wanted]
        result[config.get("top_classes_results_field") or "top_classes"] = [
            {"class_name": name(i), "class_probability": probabilities[i], "class_score": probabilities[i]}
            for i in chosen
        ]
    result["prediction_probability"] = probabilities[ranked[0]]
    result["prediction_score"] = probabilities[ranked[0]]
    return result
