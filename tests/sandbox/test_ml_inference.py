"""_infer: the stand-in encoders, target resolution, errors, and the inference cost model."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from es_sandbox import SandboxConfig, SandboxProcess
from tests.sandbox.ml_support import (
    ELSER,
    TEXT_INPUT,
    api_error,
    arm_faults,
    assert_error,
    client_with_elser,
    deploy,
    deployment_stats,
    put_elser,
    strict,
)

INFERENCE_MS = 20.0


@pytest.fixture
def elser(es):
    put_elser(es, wait=True)
    deploy(es)
    return es


def tokens(es, text: str, model_id: str = ELSER) -> dict[str, float]:
    return es.ml.infer_trained_model(model_id=model_id, docs=[{"text_field": text}])["inference_results"][0][
        "predicted_value"
    ]


def test_elser_stand_in_is_a_deterministic_sparse_encoder(elser):
    es = elser
    first = tokens(es, "Quick brown Foxes jump")
    assert first == tokens(es, "Quick brown Foxes jump")
    assert {"quick", "brown", "foxes", "jump"} <= set(first)
    assert all(isinstance(w, float) and w > 0 for w in first.values())
    own = min(first[t] for t in ("quick", "brown", "foxes", "jump"))
    expansions = [w for t, w in first.items() if t not in ("quick", "brown", "foxes", "jump")]
    assert expansions and max(expansions) < own  # the input's own terms dominate

    def dot(a, b):
        return sum(w * b.get(t, 0.0) for t, w in a.items())

    query = tokens(es, "brown fox")
    related = tokens(es, "a brown dog and a fox")
    unrelated = tokens(es, "quarterly revenue statement")
    assert dot(query, related) > dot(query, unrelated)


def test_long_input_is_truncated(elser):
    result = elser.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "word " * 600}])[
        "inference_results"
    ][0]
    assert result["is_truncated"] is True
    short = elser.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "word"}])["inference_results"][
        0
    ]
    assert "is_truncated" not in short


def test_e5_gives_normalised_384_dimension_vectors(es):
    es.ml.put_trained_model(model_id=".multilingual-e5-small", input=TEXT_INPUT, wait_for_completion=True)
    deploy(es, ".multilingual-e5-small")

    def embed(text):
        return es.ml.infer_trained_model(model_id=".multilingual-e5-small", docs=[{"text_field": text}])[
            "inference_results"
        ][0]["predicted_value"]

    vector = embed("the cat sat on the mat")
    assert len(vector) == 384
    assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0, rel_tol=1e-5)
    assert vector == embed("the cat sat on the mat")
    cosine = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    assert cosine(vector, embed("a cat on a mat")) > cosine(vector, embed("stock market prices fell"))


def test_infer_by_deployment_id_and_legacy_path(elser):
    es = elser
    deploy(es, deployment_id="search-elser")
    assert tokens(es, "deployment id", "search-elser") == tokens(es, "deployment id")
    legacy = es.perform_request(
        "POST",
        "/_ml/trained_models/search-elser/deployment/_infer",
        headers={"accept": "application/json", "content-type": "application/json"},
        body={"docs": [{"text_field": "legacy path"}]},
    )
    assert "legacy" in legacy["inference_results"][0]["predicted_value"]


def test_several_docs_keep_their_order(elser):
    results = elser.ml.infer_trained_model(
        model_id=ELSER, docs=[{"text_field": "alpha"}, {"text_field": "beta"}, {"text_field": "gamma"}]
    )["inference_results"]
    assert ["alpha" in r["predicted_value"] for r in results] == [True, False, False]
    assert "gamma" in results[2]["predicted_value"]


def test_inference_config_overrides_the_results_field(elser):
    result = elser.ml.infer_trained_model(
        model_id=ELSER,
        docs=[{"text_field": "hello"}],
        inference_config={"text_expansion": {"results_field": "tokens"}},
    )["inference_results"][0]
    assert list(result) == ["tokens"]
    exc = api_error(
        lambda: elser.ml.infer_trained_model(
            model_id=ELSER, docs=[{"text_field": "hello"}], inference_config={"text_embedding": {}}
        )
    )
    assert_error(
        exc,
        400,
        "status_exception",
        "Inference config of type [text_expansion] can not be updated with a inference request of type [text_embedding]",
    )


def test_inference_errors(es):
    exc = api_error(lambda: es.ml.infer_trained_model(model_id="missing", docs=[{"text_field": "x"}]))
    assert_error(exc, 404, "resource_not_found_exception", "Could not find trained model [missing]")

    put_elser(es, wait=True)
    exc = api_error(lambda: es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "x"}]))
    assert_error(
        exc,
        409,
        "status_exception",
        f"Model [{ELSER}] must be deployed to use. Please deploy with the start trained model deployment API.",
    )

    deploy(es, wait_for="starting")
    exc = api_error(lambda: es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "x"}]))
    assert_error(
        exc, 409, "status_exception", f"Trained model deployment [{ELSER}] is not allocated to any nodes"
    )

    es.ml.stop_trained_model_deployment(model_id=ELSER)
    deploy(es)
    exc = api_error(lambda: es.ml.infer_trained_model(model_id=ELSER, docs=[{"other": "x"}]))
    assert_error(
        exc, 400, "status_exception", "Input field [text_field] does not exist in the source document"
    )


def test_lang_ident_needs_no_deployment(es):
    result = es.ml.infer_trained_model(model_id="lang_ident_model_1", docs=[{"text": "good morning"}])
    assert result["inference_results"][0]["predicted_value"] == "en"
    assert 0 < result["inference_results"][0]["prediction_probability"] <= 1


# --- the cost model ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[SandboxProcess]:
    """Inference that takes 20 ms on one thread, models that download at once, 16 ML processors."""
    proc = SandboxProcess(
        SandboxConfig(port=0, download_seconds=0.0, inference_ms=INFERENCE_MS, ml_processors=16)
    )
    yield proc
    proc.stop()


@pytest.fixture
def slow(slow_sandbox) -> Iterator[Elasticsearch]:
    client = client_with_elser(slow_sandbox.url, request_timeout=60)
    yield client
    client.close()


def docs_per_second(es, deployment_id: str, docs: int = 48) -> float:
    began = time.monotonic()
    es.ml.infer_trained_model(
        model_id=deployment_id, docs=[{"text_field": f"document {i}"} for i in range(docs)]
    )
    return docs / (time.monotonic() - began)


def test_throughput_grows_with_allocations_and_threads(slow):
    for allocations, threads in ((1, 1), (2, 1), (4, 1), (1, 4)):
        deploy(
            slow,
            deployment_id=f"a{allocations}-t{threads}",
            number_of_allocations=allocations,
            threads_per_allocation=threads,
        )
    one = docs_per_second(slow, "a1-t1")
    two = docs_per_second(slow, "a2-t1")
    four = docs_per_second(slow, "a4-t1")
    threaded = docs_per_second(slow, "a1-t4")

    assert one < 1000 / INFERENCE_MS * 1.1  # one allocation serves one request at a time
    assert two > 1.6 * one
    assert four > 1.5 * two
    assert threaded > 2.2 * one  # four threads speed one allocation up, sub-linearly
    assert threaded < four


def test_an_oversized_burst_is_rejected_and_counted(slow):
    deploy(slow, number_of_allocations=1, queue_capacity=5)
    # one in service, five queued: the other fourteen documents are rejected
    exc = api_error(
        lambda: slow.ml.infer_trained_model(
            model_id=ELSER, docs=[{"text_field": f"doc {i}"} for i in range(20)]
        )
    )
    assert_error(
        exc,
        429,
        "es_rejected_execution_exception",
        "inference process queue is full. Unable to execute command",
    )
    stats = deployment_stats(slow, ELSER)
    assert stats["rejected_execution_count"] == 14
    assert stats["inference_count"] == 6
    assert stats["nodes"][0]["rejected_execution_count"] == 14
    assert stats["nodes"][0]["inference_count"] == 6
    # within the queue, nothing is rejected
    slow.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": f"doc {i}"} for i in range(6)])
    assert deployment_stats(slow, ELSER)["rejected_execution_count"] == 14


def test_inference_timeout(slow):
    deploy(slow, number_of_allocations=1)
    exc = api_error(
        lambda: slow.ml.infer_trained_model(
            model_id=ELSER, docs=[{"text_field": f"doc {i}"} for i in range(10)], timeout="50ms"
        )
    )
    assert_error(exc, 408, "status_exception", "timeout [50ms] waiting for inference result")
    stats = deployment_stats(slow, ELSER)
    assert stats["timeout_count"] >= 7
    assert stats["nodes"][0]["timeout_count"] == stats["timeout_count"]


def test_inference_rejection_fault(elser):
    es = strict(elser)
    arm_faults(es, inference_rejection={"burst": 2})
    for _ in range(2):
        exc = api_error(lambda: es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "x"}]))
        assert_error(
            exc,
            429,
            "es_rejected_execution_exception",
            "inference process queue is full. Unable to execute command",
        )
    es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "x"}])
    stats = deployment_stats(es, ELSER)
    assert (stats["rejected_execution_count"], stats["inference_count"]) == (2, 1)

    arm_faults(es, inference_rejection={"fraction": 1.0})
    exc = api_error(lambda: es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "x"}]))
    assert exc.meta.status == 429
