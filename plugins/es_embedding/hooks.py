"""One place that turns an Airflow connection into Elasticsearch clients (sync for operators, async
for triggers, and async in a worker for a sensor that runs its trigger's poll).

Connection (type `elasticsearch`, default id `elasticsearch_default`):
- where: `host` (a host name, a full URL such as `https://es.example.com:9243`, or several of either
  separated by commas), `port` (default 9200) and `schema` (`http`/`https`, default `http`); or the
  extra `cloud_id` instead of a host.
- auth: extra `api_key` (the encoded key, or `id:key`); else `login` + `password` (basic auth);
  a `password` without `login` is taken as an API key, as the Airflow provider's docs describe it.
- extras: `ca_certs`, `verify_certs`, `request_timeout` (seconds, default 30), `max_retries`,
  `retry_on_timeout`, and `compatible_with: 8` to talk to an Elasticsearch 8.x cluster with this
  9.x client (requests then ask for the 8.x REST compatibility media type).
Secrets stay out of every repr, log line and error message of this module.
"""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urlsplit

from airflow.sdk import BaseHook
from elastic_transport import AsyncTransport, HttpHeaders, Transport
from elasticsearch import AsyncElasticsearch, Elasticsearch
from elasticsearch.exceptions import GeneralAvailabilityWarning

DEFAULT_CONN_ID = "elasticsearch_default"
DEFAULT_REQUEST_TIMEOUT = 30.0
# Seconds a client waits beyond a server-side wait (`timeout`, `wait_for_completion`) so the server,
# not the client, decides when the wait is over.
SERVER_WAIT_MARGIN = 30.0

T = TypeVar("T")

_COMPAT_RE = re.compile(r"application/(?:vnd\.elasticsearch\+)?(json|x-ndjson|vnd\.mapbox-vector-tile)[^,]*")
_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}


def quiet_technical_preview_warnings(module: str) -> None:
    """No GeneralAvailabilityWarning for technical-preview APIs called from `module` (a regular
    expression that module names must match from their start).

    The client marks the task management API (`GET _tasks`, `POST _tasks/<id>/_cancel`) as a
    technical preview and warns on every call; the waits of this library (and the demo's progress)
    rely on it knowingly. Filtered by the calling module, not for the whole process: other code that
    calls such an API still gets the warning. (A `catch_warnings` block around each call would not
    do: it is not safe in the triggerer, where many triggers share one event loop.)
    """
    warnings.filterwarnings(
        "ignore",
        message="This API is in technical preview",
        category=GeneralAvailabilityWarning,
        module=module,
    )


quiet_technical_preview_warnings(r"es_embedding(\.|$)")


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(f"connection extra '{name}' must be true or false, got {value!r}")


def _with_compat_headers(headers: Any, major: int) -> Any:
    """Accept/Content-Type rewritten to `application/vnd.elasticsearch+json; compatible-with=<major>`."""
    if not headers or not isinstance(headers, Mapping):
        return headers
    rewritten = HttpHeaders(headers)
    for name in ("accept", "content-type"):
        if rewritten.get(name):
            rewritten[name] = _COMPAT_RE.sub(
                rf"application/vnd.elasticsearch+\g<1>; compatible-with={major}", rewritten[name]
            )
    return rewritten


class Compat8Transport(Transport):
    """Sync transport that asks an 8.x server for its REST compatibility with 8."""

    def perform_request(self, method, target, *, headers=None, **kwargs):  # type: ignore[override]
        return super().perform_request(method, target, headers=_with_compat_headers(headers, 8), **kwargs)


class AsyncCompat8Transport(AsyncTransport):
    """Async twin of `Compat8Transport` (the transports' perform_request differ only in `async`)."""

    async def perform_request(self, method, target, *, headers=None, **kwargs):  # type: ignore[override]
        return await super().perform_request(
            method, target, headers=_with_compat_headers(headers, 8), **kwargs
        )


@dataclass(frozen=True)
class ClientSpec:
    """Everything needed to build a client; its repr names the cluster, never a secret."""

    hosts: tuple[str, ...] = ()
    cloud_id: str | None = None
    api_key: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    verify_certs: bool | None = None
    ca_certs: str | None = None
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    max_retries: int | None = None
    retry_on_timeout: bool | None = None
    compatible_with: int | None = None

    @classmethod
    def from_connection(cls, conn: Any) -> ClientSpec:
        extra = dict(conn.extra_dejson or {})
        cloud_id = extra.get("cloud_id") or None
        hosts = () if cloud_id else _hosts(conn.host, conn.port, conn.schema)
        if not cloud_id and not hosts:
            raise ValueError(f"connection '{conn.conn_id}' needs a host or the extra 'cloud_id'")
        api_key = extra.get("api_key") or (conn.password if conn.password and not conn.login else None)
        basic_auth = (conn.login, conn.password or "") if conn.login and not extra.get("api_key") else None
        compat = extra.get("compatible_with")
        if compat is not None and int(compat) not in (8, 9):
            raise ValueError(f"connection extra 'compatible_with' must be 8 or 9, got {compat!r}")
        return cls(
            hosts=hosts,
            cloud_id=cloud_id,
            api_key=api_key,
            basic_auth=basic_auth,
            verify_certs=_as_bool("verify_certs", extra["verify_certs"]) if "verify_certs" in extra else None,
            ca_certs=extra.get("ca_certs") or None,
            request_timeout=float(extra.get("request_timeout", DEFAULT_REQUEST_TIMEOUT)),
            max_retries=int(extra["max_retries"]) if "max_retries" in extra else None,
            retry_on_timeout=(
                _as_bool("retry_on_timeout", extra["retry_on_timeout"])
                if "retry_on_timeout" in extra
                else None
            ),
            compatible_with=int(compat) if compat is not None else None,
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        values = [self.api_key, *(self.basic_auth or ())]
        return tuple(value for value in values if value)

    @property
    def where(self) -> str:
        return f"cloud {self.cloud_id.split(':')[0]}" if self.cloud_id else ", ".join(self.hosts)

    def client_kwargs(self, *, asynchronous: bool) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"request_timeout": self.request_timeout}
        if self.cloud_id:
            kwargs["cloud_id"] = self.cloud_id
        else:
            kwargs["hosts"] = list(self.hosts)
        optional = {
            "api_key": self.api_key,
            "basic_auth": self.basic_auth,
            "verify_certs": self.verify_certs,
            "ca_certs": self.ca_certs,
            "max_retries": self.max_retries,
            "retry_on_timeout": self.retry_on_timeout,
        }
        kwargs.update({key: value for key, value in optional.items() if value is not None})
        if asynchronous:
            # AsyncElasticsearch defaults to aiohttp, which Airflow does not install; httpx it does.
            kwargs["node_class"] = "httpxasync"
        if self.compatible_with == 8:
            kwargs["transport_class"] = AsyncCompat8Transport if asynchronous else Compat8Transport
        return kwargs


def _hosts(host: str | None, port: int | None, schema: str | None) -> tuple[str, ...]:
    urls = []
    for part in (host or "").split(","):
        part = part.strip()
        if not part:
            continue
        if "://" not in part:
            scheme = schema if schema in ("http", "https") else "http"
            part = f"{scheme}://{part}:{port or 9200}"
        parsed = urlsplit(part)
        if parsed.username or parsed.password:
            raise ValueError("put credentials in login/password or the extra 'api_key', not in the host URL")
        urls.append(part.rstrip("/"))
    return tuple(urls)


def wait_timeout(server_seconds: float) -> float:
    """Client timeout for a call that waits `server_seconds` on the server."""
    return server_seconds + SERVER_WAIT_MARGIN


class ElasticsearchEmbeddingHook(BaseHook):
    """Clients for one Elasticsearch connection: `get_conn()` (sync) and `async_client()` (triggers)."""

    conn_name_attr = "es_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = "elasticsearch"
    hook_name = "Elasticsearch (embedding)"

    def __init__(self, es_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.es_conn_id = es_conn_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(es_conn_id={self.es_conn_id!r})"

    @cached_property
    def spec(self) -> ClientSpec:
        return ClientSpec.from_connection(self.get_connection(self.es_conn_id))

    @cached_property
    def client(self) -> Elasticsearch:
        return Elasticsearch(**self.spec.client_kwargs(asynchronous=False))

    def get_conn(self) -> Elasticsearch:
        return self.client

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.spec.secrets

    def once(self) -> Elasticsearch:
        """The client for a request that starts work (`_reindex`, `_update_by_query`): sent once.

        The client resends a request whose connection failed or that met 502/503/504; when the
        cluster had already started the task and only the answer was lost, a resend starts a second
        one. Sent once, the error reaches the Airflow task, whose retry re-attaches to the running
        task by its description (or copies only what is missing).
        """
        return self.client.options(max_retries=0)

    def waiting(self, server_seconds: float) -> Elasticsearch:
        """The client for a call that waits `server_seconds` server-side."""
        return self.client.options(request_timeout=wait_timeout(server_seconds))

    def run_async(self, work: Callable[[AsyncElasticsearch], Awaitable[T]]) -> T:
        """`work(client)` with an AsyncElasticsearch of this connection, in an event loop of its own
        (closed after): how a worker runs a trigger's poll (es_embedding.waits)."""

        async def with_client() -> T:
            client = AsyncElasticsearch(**self.spec.client_kwargs(asynchronous=True))
            try:
                return await work(client)
            finally:
                await client.close()

        return asyncio.run(with_client())

    @classmethod
    async def async_client(cls, es_conn_id: str = DEFAULT_CONN_ID) -> tuple[AsyncElasticsearch, ClientSpec]:
        """An AsyncElasticsearch for triggers (close it when done) and the spec it came from."""
        spec = ClientSpec.from_connection(await cls.aget_connection(es_conn_id))
        return AsyncElasticsearch(**spec.client_kwargs(asynchronous=True)), spec

    def close(self) -> None:
        if "client" in self.__dict__:
            self.client.close()
            del self.__dict__["client"]
