"""ensure_model (EnsureModelOperator): which model id, and what it does with a model that exists, is
absent, half-downloaded or to be downloaded again. Scripted cluster answers, Elasticsearch's shapes."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from es_embedding.errors import ClusterRequestError
from es_embedding.model import EnsureModelOperator
from tests.unit.fakes import FakeEs, FakeHook, api_error, context, not_found, settings, with_hook

ELSER_X86 = ".elser_model_2_linux-x86_64"
RUN_START = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)


def ensure(client: FakeEs, **model: object) -> EnsureModelOperator:
    operator = EnsureModelOperator(task_id="ensure_model", settings=settings(embedding_model=model))
    return with_hook(operator, FakeHook(client))


def run(operator: EnsureModelOperator) -> dict:
    return operator.execute(context(dag_run=SimpleNamespace(start_date=RUN_START)))


def config(model_id: str, fully_defined: bool, created: datetime) -> dict:
    entry = {
        "model_id": model_id,
        "fully_defined": fully_defined,
        "create_time": int(created.timestamp() * 1000),
    }
    return {"count": 1, "trained_model_configs": [entry]}


X86_CLUSTER = {"ml.info": [{"defaults": {"model_platform_variant": "linux-x86_64"}}]}


def test_an_absent_model_is_put_as_elsers_x86_build_on_x86_ml_nodes():
    client = FakeEs(
        **X86_CLUSTER, **{"ml.get_trained_models": [not_found("no model")], "ml.put_trained_model": [{}]}
    )
    assert run(ensure(client)) == {"model_id": ELSER_X86}
    assert client.calls["ml.put_trained_model"] == [
        {"model_id": ELSER_X86, "input": {"field_names": ["text_field"]}}
    ]


def test_on_other_or_mixed_ml_nodes_the_cross_platform_model_is_used():
    nodes = {
        "a": {"roles": ["ml"], "os": {"name": "Linux", "arch": "amd64"}},
        "b": {"roles": ["ml"], "os": {"name": "Linux", "arch": "aarch64"}},
        "c": {"roles": ["data"], "os": {"name": "Linux", "arch": "amd64"}},
    }
    client = FakeEs(
        **{
            "ml.info": [{"defaults": {}}],
            "nodes.info": [{"nodes": nodes}],
            "ml.get_trained_models": [not_found("no model")],
            "ml.put_trained_model": [{}],
        }
    )
    assert run(ensure(client)) == {"model_id": ".elser_model_2"}


def test_an_existing_model_is_left_alone():
    client = FakeEs(**X86_CLUSTER, **{"ml.get_trained_models": [config(ELSER_X86, True, RUN_START)]})
    assert run(ensure(client)) == {"model_id": ELSER_X86}
    assert "ml.put_trained_model" not in client.calls and "ml.delete_trained_model" not in client.calls


def test_a_model_put_meanwhile_by_another_run_is_left_to_it():
    exists = api_error(
        400, "resource_already_exists_exception", f"Model with id [{ELSER_X86}] already exists"
    )
    client = FakeEs(
        **X86_CLUSTER, **{"ml.get_trained_models": [not_found("no model")], "ml.put_trained_model": [exists]}
    )
    assert run(ensure(client)) == {"model_id": ELSER_X86}


def test_another_refusal_of_the_put_is_an_error():
    refused = api_error(400, "illegal_argument_exception", "unknown model platform")
    client = FakeEs(
        **X86_CLUSTER, **{"ml.get_trained_models": [not_found("no model")], "ml.put_trained_model": [refused]}
    )
    with pytest.raises(ClusterRequestError, match=rf"^putting model \[{ELSER_X86}\] failed: HTTP 400"):
        run(ensure(client))


def test_a_half_downloaded_model_without_its_download_is_deleted_and_put_again():
    long_ago = datetime.fromtimestamp(time.time() - 60, UTC)
    client = FakeEs(
        **X86_CLUSTER,
        **{
            "ml.get_trained_models": [config(ELSER_X86, False, long_ago)],
            "tasks.list": [{"nodes": {}}],
            "ml.delete_trained_model": [{"acknowledged": True}],
            "ml.put_trained_model": [{}],
        },
    )
    run(ensure(client))
    assert client.calls["ml.delete_trained_model"] == [{"model_id": ELSER_X86, "force": True}]
    assert len(client.calls["ml.put_trained_model"]) == 1


def test_a_fresh_put_of_another_run_is_not_mistaken_for_a_failed_download():
    just_now = datetime.fromtimestamp(time.time(), UTC)
    client = FakeEs(**X86_CLUSTER, **{"ml.get_trained_models": [config(ELSER_X86, False, just_now)]})
    run(ensure(client))  # within the grace: no task list read, nothing deleted
    assert dict(client.calls).keys() == {"ml.info", "ml.get_trained_models"}


def test_force_download_deletes_a_model_created_before_the_run_only():
    before = FakeEs(
        **X86_CLUSTER,
        **{
            "ml.get_trained_models": [config(ELSER_X86, True, datetime(2026, 1, 1, tzinfo=UTC))],
            "ml.delete_trained_model": [{"acknowledged": True}],
            "ml.put_trained_model": [{}],
        },
    )
    run(ensure(before, force_download=True))
    assert (
        len(before.calls["ml.delete_trained_model"]) == 1 and len(before.calls["ml.put_trained_model"]) == 1
    )
    # A retry of the same run finds the model this run put: it is not downloaded a third time.
    during = FakeEs(**X86_CLUSTER, **{"ml.get_trained_models": [config(ELSER_X86, True, datetime.now(UTC))]})
    run(ensure(during, force_download=True))
    assert "ml.delete_trained_model" not in during.calls
