"""Client construction from Airflow connections: hosts, auth, extras, 8.x compatibility headers,
server-wait timeouts, and no secret in reprs, logs or errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from airflow.sdk import Connection

from es_embedding.errors import TransientClusterError, cluster_call
from es_embedding.hooks import SERVER_WAIT_MARGIN, ClientSpec, ElasticsearchEmbeddingHook

SECRET = "c2VjcmV0LWFwaS1rZXk="


def conn(**fields) -> Connection:
    extra = fields.pop("extra", None)
    return Connection(
        conn_id="es", conn_type="elasticsearch", extra=json.dumps(extra) if extra else None, **fields
    )


def test_host_url_is_used_as_is():
    assert ClientSpec.from_connection(conn(host="https://es.example.com:9243")).hosts == (
        "https://es.example.com:9243",
    )


def test_host_port_schema_and_several_hosts():
    spec = ClientSpec.from_connection(conn(host="a.example, b.example", port=9201, schema="https"))
    assert spec.hosts == ("https://a.example:9201", "https://b.example:9201")
    assert ClientSpec.from_connection(conn(host="es")).hosts == ("http://es:9200",)


def test_cloud_id_replaces_hosts():
    spec = ClientSpec.from_connection(
        conn(extra={"cloud_id": "prod:ZXhhbXBsZS5jb20kYWJjJGRlZg==", "api_key": SECRET})
    )
    kwargs = spec.client_kwargs(asynchronous=False)
    assert "hosts" not in kwargs and kwargs["cloud_id"].startswith("prod:")
    assert spec.where == "cloud prod"


@pytest.mark.parametrize(
    ("fields", "api_key", "basic_auth"),
    [
        ({"extra": {"api_key": SECRET}}, SECRET, None),
        ({"login": "elastic", "password": "pw"}, None, ("elastic", "pw")),
        ({"password": SECRET}, SECRET, None),  # password alone: an API key, as the provider documents
        ({"login": "elastic", "password": "pw", "extra": {"api_key": SECRET}}, SECRET, None),
    ],
)
def test_auth(fields, api_key, basic_auth):
    spec = ClientSpec.from_connection(conn(host="es", **fields))
    assert (spec.api_key, spec.basic_auth) == (api_key, basic_auth)


def test_extras_are_typed():
    spec = ClientSpec.from_connection(
        conn(
            host="es",
            extra={
                "verify_certs": "false",
                "ca_certs": "/ca.pem",
                "request_timeout": "12",
                "max_retries": "5",
                "retry_on_timeout": True,
                "compatible_with": "8",
            },
        )
    )
    kwargs = spec.client_kwargs(asynchronous=True)
    assert kwargs["verify_certs"] is False and kwargs["ca_certs"] == "/ca.pem"
    assert (kwargs["request_timeout"], kwargs["max_retries"], kwargs["retry_on_timeout"]) == (12.0, 5, True)
    assert kwargs["node_class"] == "httpxasync"
    assert kwargs["transport_class"].__name__ == "AsyncCompat8Transport"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "connection 'es' needs a host or the extra 'cloud_id'"),
        (
            {"host": "https://u:p@es:9200"},
            "put credentials in login/password or the extra 'api_key', not in the host URL",
        ),
        (
            {"host": "es", "extra": {"compatible_with": 7}},
            "connection extra 'compatible_with' must be 8 or 9, got 7",
        ),
    ],
)
def test_bad_connections(fields, message):
    with pytest.raises(ValueError) as raised:
        ClientSpec.from_connection(conn(**fields))
    assert str(raised.value) == message
    assert "p@" not in str(raised.value)


class _Recorder(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_GET(self):  # noqa: N802
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        status = 401 if "bad" in self.path else 200
        body = json.dumps(
            {"version": {"number": "8.15.0"}}
            if status == 200
            else {"error": {"type": "security_exception", "reason": "unable to authenticate"}, "status": 401}
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.seen
    server.shutdown()


def _hook(monkeypatch, url: str, **extra) -> ElasticsearchEmbeddingHook:
    monkeypatch.setenv(
        "AIRFLOW_CONN_ES_UNIT",
        json.dumps({"conn_type": "elasticsearch", "host": url, "extra": {"api_key": SECRET, **extra}}),
    )
    return ElasticsearchEmbeddingHook("es_unit")


@pytest.mark.parametrize(("compat", "expected"), [(8, "compatible-with=8"), (None, "compatible-with=9")])
def test_compatible_with_rewrites_media_types(monkeypatch, recorder, compat, expected):
    url, seen = recorder
    hook = _hook(monkeypatch, url, **({"compatible_with": compat} if compat else {}))
    assert hook.client.info()["version"]["number"] == "8.15.0"
    assert seen[-1]["accept"] == f"application/vnd.elasticsearch+json; {expected}"
    assert seen[-1]["authorization"] == f"ApiKey {SECRET}"


def test_async_client_uses_httpx_and_compat(monkeypatch, recorder):
    import asyncio

    url, seen = recorder
    _hook(monkeypatch, url, compatible_with=8)

    async def call():
        client, spec = await ElasticsearchEmbeddingHook.async_client("es_unit")
        try:
            return await client.info(), spec
        finally:
            await client.close()

    info, spec = asyncio.run(call())
    assert info["version"]["number"] == "8.15.0" and spec.compatible_with == 8
    assert seen[-1]["accept"].endswith("compatible-with=8")


def test_server_waits_get_a_longer_client_timeout(monkeypatch, recorder):
    hook = _hook(monkeypatch, recorder[0])
    waiting = hook.waiting(120)
    assert waiting.transport is hook.client.transport
    assert waiting._request_timeout == 120 + SERVER_WAIT_MARGIN


def test_no_secret_in_reprs_logs_or_errors(monkeypatch, recorder, capsys):
    url, _ = recorder
    hook = _hook(monkeypatch, url)
    assert SECRET not in repr(hook) and SECRET not in repr(hook.spec) and SECRET not in repr(hook.client)
    with pytest.raises(Exception) as raised, cluster_call("reading [bad]", hook.secrets):
        hook.client.perform_request("GET", "/bad", headers={"accept": "application/json"})
    dead = _hook(monkeypatch, "http://127.0.0.1:9")
    with (
        pytest.raises(TransientClusterError) as unreachable,
        cluster_call("reading the cluster version", dead.secrets),
    ):
        dead.client.options(max_retries=0).info()
    output = capsys.readouterr()
    for text in (str(raised.value), str(unreachable.value), output.out, output.err):
        assert SECRET not in text
    assert "HTTP 401 security_exception: unable to authenticate" in str(raised.value)
