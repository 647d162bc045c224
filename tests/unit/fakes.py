"""Fakes of the Elasticsearch client, the hook and the task context, for unit tests of the library's
own logic (argument handling, idempotency branches, error translation). Nothing of Airflow's is
faked but the context a task receives; what Elasticsearch answers is scripted, in its exact shapes
(errors as elasticsearch-py raises them, with ES's error body).

Each API method, by its dotted name ("indices.get_alias", "ml.get_trained_models_stats"), answers
from a queue of scripted responses (a value, an exception to raise, or a function of the call's
keyword arguments); the last answer repeats. Every call is recorded in `calls[name]`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, NotFoundError

from es_embedding.settings import RunSettings


def api_error(
    status: int, error_type: str, reason: str, cls=ApiError, caused_by: dict | None = None
) -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "es", 9200),
    )
    error = {"type": error_type, "reason": reason, **({"caused_by": caused_by} if caused_by else {})}
    return cls(message=error_type, meta=meta, body={"error": error, "status": status})


def not_found(reason: str) -> NotFoundError:
    return api_error(404, "resource_not_found_exception", reason, cls=NotFoundError)


class _Path:
    """`client.<a>.<b>`: an attribute path that answers when called."""

    def __init__(self, client: _Scripted, name: str) -> None:
        self._client, self._name = client, name

    def __getattr__(self, part: str) -> _Path:
        if part.startswith("__"):
            raise AttributeError(part)
        return _Path(self._client, f"{self._name}.{part}")

    def __call__(self, **kwargs: Any) -> Any:
        return self._client._call(self._name, kwargs)


class _Scripted:
    def __init__(self, strict: bool, scripts: dict[str, list]) -> None:
        self.strict = strict
        self.scripts = {name: list(responses) for name, responses in scripts.items()}
        self.calls: dict[str, list[dict]] = defaultdict(list)

    def __getattr__(self, part: str) -> _Path:
        if part.startswith("_"):
            raise AttributeError(part)
        return _Path(self, part)

    def _answer(self, name: str, kwargs: dict) -> Any:
        self.calls[name].append(kwargs)
        queue = self.scripts.get(name)
        if not queue:
            if self.strict:
                raise AssertionError(f"unexpected call {name}({kwargs})")
            return {}
        response = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(response, BaseException):
            raise response
        return response(**kwargs) if callable(response) else response

    def called(self, name: str) -> list[dict]:
        return self.calls.get(name, [])


class FakeEs(_Scripted):
    """A sync client (as operators use it). Strict: a call nobody scripted fails the test."""

    def __init__(self, **scripts: list) -> None:
        super().__init__(True, scripts)

    def _call(self, name: str, kwargs: dict) -> Any:
        return self._answer(name, kwargs)

    def options(self, **kwargs: Any) -> FakeEs:
        self.calls["options"].append(kwargs)
        return self


class FakeAsyncEs(_Scripted):
    """An async client (as triggers use it). Lenient: an unscripted call answers {}."""

    def __init__(self, **scripts: list) -> None:
        super().__init__(False, scripts)
        self.closed = False

    def _call(self, name: str, kwargs: dict) -> Any:
        async def call() -> Any:
            return self._answer(name, kwargs)

        return call()

    async def close(self) -> None:
        self.closed = True


class FakeHook:
    """The hook as a stage uses it: the sync client, the async one for a wait's polls run in the
    worker (run_async), the connection's secrets and id."""

    def __init__(
        self,
        client: FakeEs | None = None,
        aclient: FakeAsyncEs | None = None,
        secrets: tuple[str, ...] = ("s3cr3t-key",),
        es_conn_id: str = "es",
    ) -> None:
        self.client = client or FakeEs()
        self.aclient = aclient or FakeAsyncEs()
        self.secrets = secrets
        self.es_conn_id = es_conn_id
        self.sent_once: list[str] = []

    def once(self) -> FakeEs:
        self.sent_once.append("once")
        return self.client

    def waiting(self, server_seconds: float) -> FakeEs:
        return self.client

    def run_async(self, work):
        return asyncio.run(work(self.aclient))


def with_hook(stage, hook: FakeHook):
    """`stage` using `hook` (its cached `hook` property, set before first use)."""
    stage.__dict__["hook"] = hook
    return stage


class FakeTi:
    """The task instance as the stages use it: XCom pushes and pulls."""

    def __init__(self, xcoms: dict[tuple[str, str], Any] | None = None, task_id: str = "t") -> None:
        self.xcoms = dict(xcoms or {})
        self.pushed: dict[str, Any] = {}
        self.task_id = task_id

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value

    def xcom_pull(self, task_ids: str, key: str = "return_value", **kwargs: Any) -> Any:
        return self.xcoms.get((task_ids, key))


class FakeStore:
    """A task_state_store: what a task instance keeps across its tries."""

    def __init__(self, **values: Any) -> None:
        self.values = dict(values)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any, retention: Any = None) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


def context(**extra: Any) -> dict[str, Any]:
    """A task's context: a FakeTi, a FakeStore and whatever else the test gives."""
    return {"ti": FakeTi(), "task_state_store": FakeStore(), "run_id": "manual__1", **extra}


def settings(**variables: dict) -> RunSettings:
    """A run's snapshot: the defaults, with the given Variables' keys (e.g. embedding_reindex={...})."""
    snapshot = RunSettings().to_json()
    for name, values in variables.items():
        snapshot[name] = {**snapshot[name], **values}
    return RunSettings.of(snapshot)
