"""Translation of ES/transport errors, and the retry policy built on it."""

from __future__ import annotations

import elastic_transport
import pytest
from airflow.sdk import RetryAction

from es_embedding.errors import (
    AuthenticationError,
    ClusterRequestError,
    LicenseError,
    SettingsError,
    TransientClusterError,
    cluster_call,
    transient_only_retry_policy,
    translate,
)
from tests.unit.fakes import api_error


def test_api_error_keeps_status_type_and_reason_with_its_cause():
    exc = api_error(
        429,
        "status_exception",
        "Could not start deployment because no ML nodes with sufficient capacity were found",
        caused_by={"type": "illegal_state_exception", "reason": "no suitable nodes were found"},
    )
    translated = translate(exc, "starting deployment [d]")
    assert isinstance(translated, TransientClusterError)
    assert (translated.status, translated.error_type) == (429, "status_exception")
    assert str(translated) == (
        "starting deployment [d] failed: HTTP 429 status_exception: Could not start deployment because no ML "
        "nodes with sufficient capacity were found (caused by illegal_state_exception: no suitable nodes were found)"
    )


@pytest.mark.parametrize(
    ("status", "transient"),
    [(400, False), (404, False), (409, False), (408, True), (429, True), (500, True), (503, True)],
)
def test_which_statuses_are_transient(status, transient):
    translated = translate(api_error(status, "t", "r"), "x")
    assert isinstance(translated, ClusterRequestError)
    assert isinstance(translated, TransientClusterError) is transient


def test_a_deployment_not_allocated_after_a_node_restart_is_transient():
    exc = api_error(
        409, "status_exception", "Trained model deployment [elser-ingest] is not allocated to any nodes"
    )
    translated = translate(exc, "querying [dst] semantically")
    assert isinstance(translated, TransientClusterError) and translated.status == 409
    assert str(translated) == (
        "querying [dst] semantically failed: HTTP 409 status_exception: Trained model deployment [elser-ingest] "
        "is not allocated to any nodes; the deployment is being allocated (a node restart?): the task's retry "
        "waits for it"
    )


def test_connection_errors_are_transient_and_redacted():
    exc = elastic_transport.ConnectionError("cannot reach http://es:9200 with key SECRET-KEY")
    translated = translate(exc, "reading the cluster version", secrets=["SECRET-KEY"])
    assert isinstance(translated, TransientClusterError)
    assert str(translated) == (
        "reading the cluster version failed: ConnectionError: cannot reach http://es:9200 with key ***"
    )


def test_cluster_call_raises_translated_errors_without_the_original_chain():
    with pytest.raises(ClusterRequestError) as raised, cluster_call("putting pipeline [p]"):
        raise api_error(400, "parse_exception", "unknown processor [x]")
    assert str(raised.value) == "putting pipeline [p] failed: HTTP 400 parse_exception: unknown processor [x]"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_other_exceptions_pass_through_unchanged():
    with pytest.raises(KeyError), cluster_call("x"):
        raise KeyError("y")


@pytest.mark.parametrize(
    ("exc", "action"),
    [
        (TransientClusterError("503"), RetryAction.RETRY),
        (elastic_transport.ConnectionTimeout("slow"), RetryAction.RETRY),
        (ClusterRequestError("400"), RetryAction.FAIL),
        (SettingsError("bad Variable"), RetryAction.FAIL),
        (ValueError("bug"), RetryAction.FAIL),
    ],
)
def test_retry_policy_retries_transient_errors_only(exc, action):
    assert transient_only_retry_policy().evaluate(exc, try_number=1, max_tries=3).action is action


def test_a_refused_key_names_the_connection_and_what_to_do_without_the_secret():
    reason = "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
    translated = translate(
        api_error(401, "security_exception", reason), "reading the cluster version", ["S3CRET"], "es_prod"
    )
    assert isinstance(translated, AuthenticationError) and not isinstance(translated, TransientClusterError)
    assert str(translated).startswith(
        f"reading the cluster version failed: HTTP 401 security_exception: {reason}; "
    )
    assert "connection 'es_prod'" in str(translated) and "expired" in str(translated)
    assert (
        transient_only_retry_policy().evaluate(translated, try_number=1, max_tries=3).action
        is RetryAction.FAIL
    )


def test_a_missing_privilege_is_an_authentication_error_other_403s_are_not():
    denied = translate(
        api_error(403, "security_exception", "action [indices:data/write/reindex] is unauthorized"),
        "x",
        (),
        "c",
    )
    assert isinstance(denied, AuthenticationError) and "connection 'c' lack the privilege" in str(denied)
    other = translate(api_error(403, "cluster_block_exception", "index [a] blocked"), "x", (), "c")
    assert type(other) is ClusterRequestError and "connection" not in str(other)


def test_a_licence_without_ml_is_a_licence_error_that_says_what_to_do_not_a_privilege_error():
    reason = "current license is non-compliant for [ml]"
    refused = translate(api_error(403, "security_exception", reason), "reading model [m]", (), "c")
    assert type(refused) is LicenseError and not isinstance(
        refused, AuthenticationError | TransientClusterError
    )
    assert str(refused).startswith(f"reading model [m] failed: HTTP 403 security_exception: {reason}; ")
    assert "start_trial" in str(refused) and "privilege" not in str(refused)
    assert (
        transient_only_retry_policy().evaluate(refused, try_number=1, max_tries=3).action is RetryAction.FAIL
    )


def test_secrets_are_redacted_from_authentication_errors_too():
    translated = translate(api_error(401, "security_exception", "bad key S3CRET"), "x", ["S3CRET"], "c")
    assert "S3CRET" not in str(translated) and "***" in str(translated)
