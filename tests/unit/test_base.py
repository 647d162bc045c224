"""The base of every stage (es_embedding.base.EsStage): cluster errors leave as EmbeddingErrors that
name the action and never a secret, a 404 read is None, results are pushed key by key, and a stage
without a settings snapshot says so."""

from __future__ import annotations

import elastic_transport
import pytest

from es_embedding.base import EsStage
from es_embedding.errors import AuthenticationError, ClusterRequestError, SettingsError, TransientClusterError
from es_embedding.settings import ReindexSettings, snapshot_from
from tests.unit.fakes import FakeEs, FakeHook, api_error, context, not_found, settings, with_hook


def stage(client: FakeEs, **kwargs) -> EsStage:
    return with_hook(EsStage(task_id="stage", **kwargs), FakeHook(client, secrets=("s3cr3t-key",)))


@pytest.mark.parametrize(
    ("raised", "error", "message"),
    [
        (
            api_error(400, "illegal_argument_exception", "bad s3cr3t-key"),
            ClusterRequestError,
            "reading x failed: HTTP 400 illegal_argument_exception: bad ***",
        ),
        (
            api_error(429, "es_rejected_execution_exception", "rejected"),
            TransientClusterError,
            "reading x failed: HTTP 429 es_rejected_execution_exception: rejected",
        ),
        (
            elastic_transport.ConnectionError("connection refused"),
            TransientClusterError,
            "reading x failed: ConnectionError: connection refused",
        ),
    ],
)
def test_cluster_errors_name_the_action_and_no_secret(raised, error, message):
    client = FakeEs(**{"info": [raised]})
    with pytest.raises(error) as caught:
        with stage(client).calling("reading x"):
            client.info()
    assert type(caught.value) is error and str(caught.value) == message


def test_a_refused_key_names_the_connection():
    client = FakeEs(**{"info": [api_error(401, "security_exception", "unable to authenticate")]})
    with pytest.raises(
        AuthenticationError,
        match=r"the cluster refused the credentials of connection 'elasticsearch_default'",
    ):
        with stage(client).calling("reading x"):
            client.info()


def test_a_404_read_is_none_and_other_errors_still_raise():
    client = FakeEs(**{"indices.get_alias": [not_found("alias [a] missing"), api_error(500, "x", "boom")]})
    es_stage = stage(client)
    assert es_stage.get_or_none("reading alias [a]", client.indices.get_alias, name="a") is None
    with pytest.raises(TransientClusterError):
        es_stage.get_or_none("reading alias [a]", client.indices.get_alias, name="a")


def test_a_result_is_pushed_key_by_key_and_returned():
    ctx = context()
    assert stage(FakeEs()).publish(ctx, a=1, b=[2]) == {"a": 1, "b": [2]}
    assert ctx["ti"].pushed == {"a": 1, "b": [2]}


def test_the_settings_argument_is_templated_and_read_as_the_snapshot():
    assert "settings" in EsStage.template_fields
    assert EsStage(task_id="s", settings=snapshot_from("validate_settings")).settings.startswith(
        "{{ ti.xcom_pull("
    )
    snapshot = settings(embedding_reindex={"slices": 3})
    assert stage(FakeEs(), settings=snapshot.to_json()).run_settings[ReindexSettings].slices == 3


def test_a_stage_without_a_snapshot_says_so():
    with pytest.raises(SettingsError, match=r"^no settings snapshot"):
        _ = stage(FakeEs()).run_settings
