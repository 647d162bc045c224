"""Query-time inference: the text of a query turned into token weights or a vector, once per search,
by the pre-search steps of `text_expansion`, `sparse_vector` and `knn.query_vector_builder`.

`infer_query_text` is the one resolution function: it asks the registered providers first (the
inference subsystem registers one that answers for inference endpoint ids), then the ML subsystem,
which accepts a trained model id, a deployment id or a model alias.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal

from es_sandbox.errors import EsError, illegal_argument

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

Task = Literal["sparse_embedding", "text_embedding"]
# (cluster, id, text, task) -> token weights (sparse) or a vector (dense); None when the id is not
# the provider's, so the next provider (and finally the ML subsystem) is asked.
QueryModelProvider = Callable[["Cluster", str, str, Task], Awaitable[dict[str, float] | list[float] | None]]

_PROVIDERS: list[QueryModelProvider] = []


def register_query_model_provider(provider: QueryModelProvider) -> None:
    """Let another subsystem answer query-time inference for the ids it owns (tried in order)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


async def infer_query_text(
    cluster: Cluster, model_id: str, text: str, task: Task
) -> dict[str, float] | list[float]:
    for provider in _PROVIDERS:
        result = await provider(cluster, model_id, text, task)
        if result is not None:
            return result
    return await _infer_with_trained_model(cluster, model_id, text, task)


async def infer_sparse(cluster: Cluster, model_id: str, text: str) -> dict[str, float]:
    result = await infer_query_text(cluster, model_id, text, "sparse_embedding")
    assert isinstance(result, dict)
    return result


async def infer_dense(cluster: Cluster, model_id: str, text: str) -> list[float]:
    result = await infer_query_text(cluster, model_id, text, "text_embedding")
    assert isinstance(result, list)
    return result


async def _infer_with_trained_model(
    cluster: Cluster, model_id: str, text: str, task: Task
) -> dict[str, float] | list[float]:
    input_field = "text_field"
    try:
        input_field = cluster.ml.input_field(model_id)
    except EsError:
        pass  # infer() below answers for an unknown id
    results = await cluster.ml.infer(model_id, [{input_field: text}])
    predicted = results[0].get("predicted_value") if results else None
    if task == "sparse_embedding":
        if not isinstance(predicted, dict):
            raise illegal_argument(
                f"model [{model_id}] must be a sparse embedding (text_expansion) model to be used by this query"
            )
        return {str(k): float(v) for k, v in predicted.items()}
    if not isinstance(predicted, list) or not all(isinstance(v, int | float) for v in predicted):
        raise EsError(
            500,
            "illegal_state_exception",
            f"expected a result of type [text_embedding_result] received [{_result_name(results[0])}]. "
            f"Is [{model_id}] a text embedding model?",
        )
    return [float(v) for v in predicted]


def _result_name(result: dict[str, Any]) -> str:
    """The writeable name of an inference result of the shape `_infer` gives."""
    predicted = result.get("predicted_value")
    for key, name in (
        ("entities", "ner_result"),
        ("sequence", "fill_mask_result"),
        ("start_offset", "question_answering"),
        ("prediction_score", "classification"),
    ):
        if key in result:
            return name
    if isinstance(predicted, dict):
        return "text_expansion_result"
    if isinstance(predicted, list):
        return "pass_through_result"
    if isinstance(predicted, str):
        return "nlp_classification"
    return "text_similarity"
