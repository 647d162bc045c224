"""ensure_model with a model alias (issue 11): the run embeds with the model the alias points at
now, says so, and pushes both, so that later stages deploy, map and report the model itself."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from es_embedding.model import EnsureModelOperator
from tests.unit.fakes import FakeEs, FakeHook, context, settings, with_hook


def test_an_alias_resolves_to_the_model_behind_it():
    behind = {
        "model_id": "my-e5-v2",
        "fully_defined": True,
        "create_time": 1,
        "metadata": {"model_aliases": ["my-dense"]},
    }
    client = FakeEs(**{"ml.get_trained_models": [{"count": 1, "trained_model_configs": [behind]}]})
    operator = with_hook(
        EnsureModelOperator(
            task_id="ensure_model", settings=settings(embedding_model={"model_id": "my-dense"})
        ),
        FakeHook(client),
    )
    ctx = context(dag_run=SimpleNamespace(start_date=datetime(2026, 11, 28, tzinfo=UTC)))
    assert operator.execute(ctx) == {"model_id": "my-e5-v2", "model_alias": "my-dense"}
    assert ctx["ti"].pushed == {"model_id": "my-e5-v2", "model_alias": "my-dense"}
    assert not client.called("ml.put_trained_model")
