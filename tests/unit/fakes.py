"""A small fake of the async Elasticsearch client for trigger tests.

Only the ES client is faked (nothing of Airflow): each API method answers from a queue of scripted
responses (a dict, or an exception to raise) and records its calls.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, NotFoundError


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


class FakeAsyncEs:
    def __init__(self, **scripts: list) -> None:
        self.scripts = {name: list(responses) for name, responses in scripts.items()}
        self.calls: dict[str, list[dict]] = defaultdict(list)
        self.closed = False
        self.search = self._api("search")
        self.tasks = SimpleNamespace(
            get=self._api("tasks.get"), list=self._api("tasks.list"), cancel=self._api("tasks.cancel")
        )
        self.ml = SimpleNamespace(
            get_trained_models=self._api("ml.get_trained_models"),
            get_trained_models_stats=self._api("ml.get_trained_models_stats"),
        )

    def _api(self, name: str):
        async def call(**kwargs):
            self.calls[name].append(kwargs)
            queue = self.scripts.get(name) or [{}]
            response = queue.pop(0) if len(queue) > 1 else queue[0]  # the last answer repeats
            if isinstance(response, BaseException):
                raise response
            return response

        return call

    async def close(self) -> None:
        self.closed = True
