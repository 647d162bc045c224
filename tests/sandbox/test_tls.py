"""HTTPS as a secured cluster serves it (`python -m es_sandbox --tls DIR`), met by the library's own
connection code (es_embedding.hooks) the way a DAG meets it: with the cluster's CA in `ca_certs`,
with `verify_certs: false`, and with the wrong CA."""

from __future__ import annotations

import asyncio
import json
import warnings
from pathlib import Path

import pytest
from cryptography import x509
from elasticsearch import Elasticsearch

from es_embedding.errors import EmbeddingError, TransientClusterError, cluster_call
from es_embedding.hooks import ElasticsearchEmbeddingHook
from es_sandbox import SandboxConfig, SandboxProcess, tls
from tests.conftest import TEST_SANDBOX

USER, PASSWORD = "elastic", "tls-test-s3cret"
CONN_ID = "es_tls"


@pytest.fixture(scope="module")
def https(tmp_path_factory) -> tuple[SandboxProcess, Path]:
    directory = tmp_path_factory.mktemp("certs")
    proc = SandboxProcess(SandboxConfig(**{**TEST_SANDBOX, "tls": directory, "user": f"{USER}:{PASSWORD}"}))
    yield proc, directory
    proc.stop()


@pytest.fixture
def hook_for(monkeypatch):
    """Hooks on the connection `es_tls`, closed after the test (an open keep-alive connection would
    hold the sandbox's graceful shutdown)."""
    made: list[ElasticsearchEmbeddingHook] = []

    def make(url: str, **extra) -> ElasticsearchEmbeddingHook:
        connection = {"conn_type": "elasticsearch", "host": url, "login": USER, "password": PASSWORD}
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({**connection, "extra": extra}))
        made.append(ElasticsearchEmbeddingHook(CONN_ID))
        return made[-1]

    yield make
    for hook in made:
        hook.close()


def test_the_sandbox_serves_https_with_a_certificate_for_its_host(https):
    proc, directory = https
    assert proc.url.startswith("https://127.0.0.1:")
    ca = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((directory / tls.SERVER_CERT).read_bytes())
    assert server.issuer == ca.subject
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert (directory / tls.SERVER_KEY).stat().st_mode & 0o077 == 0  # keys readable by the owner only
    assert (directory / tls.CA_KEY).stat().st_mode & 0o077 == 0


def test_hook_with_the_clusters_ca_in_ca_certs(https, hook_for):
    proc, directory = https
    hook = hook_for(proc.url, ca_certs=str(directory / "ca.crt"))
    with cluster_call("reading the cluster info", hook.secrets, CONN_ID):
        assert hook.get_conn().info()["version"]["number"] == SandboxConfig().version
        assert hook.get_conn().security.authenticate()["username"] == USER

    async def trigger_side():
        client, spec = await ElasticsearchEmbeddingHook.async_client(CONN_ID)
        try:
            return (await client.cluster.health())["status"], spec.ca_certs
        finally:
            await client.close()

    status, ca_certs = asyncio.run(trigger_side())
    assert status == "green" and ca_certs == str(directory / "ca.crt")


def test_hook_with_verify_certs_false(https, hook_for):
    proc, _ = https
    hook = hook_for(proc.url, verify_certs=False)
    with warnings.catch_warnings():  # the client warns that verification is off, as it should
        warnings.simplefilter("ignore")
        assert hook.get_conn().ping() is True


def _wrong_ca(tmp_path: Path) -> Path:
    """Another CA, as a user who copied the CA of a different cluster would have."""
    return tls.ensure_server_files(tmp_path / "other", "127.0.0.1").ca_cert


def _failure(hook: ElasticsearchEmbeddingHook) -> EmbeddingError:
    with (
        pytest.raises(EmbeddingError) as info,
        cluster_call("reading the cluster info", hook.secrets, CONN_ID),
    ):
        hook.get_conn().options(max_retries=0).info()
    return info.value


def test_wrong_ca_fails_naming_the_certificate_problem_without_secrets(https, hook_for, tmp_path):
    proc, _ = https
    error = _failure(hook_for(proc.url, ca_certs=str(_wrong_ca(tmp_path))))
    message = str(error)
    assert "reading the cluster info failed" in message
    assert "CERTIFICATE_VERIFY_FAILED" in message and "certificate verify failed" in message
    assert PASSWORD not in message and PASSWORD not in repr(error)


def test_wrong_ca_says_which_extra_to_set_and_is_not_retried(https, hook_for, tmp_path):
    proc, _ = https
    error = _failure(hook_for(proc.url, ca_certs=str(_wrong_ca(tmp_path))))
    message = str(error)
    assert f"connection '{CONN_ID}'" in message
    assert "ca_certs" in message and "verify_certs" in message
    assert not isinstance(error, TransientClusterError)  # a wrong CA does not heal by retrying


def test_a_restart_keeps_the_ca_clients_trust(https, tmp_path):
    directory = tmp_path / "certs"
    first = SandboxProcess(SandboxConfig(**{**TEST_SANDBOX, "tls": directory}))
    first.stop()
    ca_before = (directory / "ca.crt").read_bytes()
    second = SandboxProcess(SandboxConfig(**{**TEST_SANDBOX, "tls": directory}))
    try:
        assert (directory / "ca.crt").read_bytes() == ca_before
        with Elasticsearch(second.url, ca_certs=str(directory / "ca.crt")) as client:
            assert client.ping() is True
    finally:
        second.stop()
