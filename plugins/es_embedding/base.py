"""The base every stage stands on, operators and sensors alike (`EsStage`), and what a stage keeps
across its own retries (`TaskMemory`).

`EsStage` holds the connection id and the hook, turns every cluster error into an `EmbeddingError`
that names what was being done (secret-free: es_embedding.errors), takes the run's settings
snapshot as its templated argument `settings` (es_embedding.settings: never a Variable), and pushes
each key of a result as XCom so that a DAG wires stages with `stage.output["<key>"]`. The sensors
add the wait on the same base (es_embedding.waits.EsWait).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from functools import cached_property
from typing import Any, TypeVar

from airflow.sdk import BaseOperator
from elasticsearch import Elasticsearch, NotFoundError

from es_embedding.errors import cluster_call
from es_embedding.hooks import DEFAULT_CONN_ID, ElasticsearchEmbeddingHook
from es_embedding.settings import RunSettings

T = TypeVar("T")


class EsStage(BaseOperator):
    """A stage of the chain on one Elasticsearch connection, with the run's settings snapshot."""

    template_fields: Sequence[str] = ("settings",)
    ui_color = "#f3e7ff"

    def __init__(
        self,
        *,
        es_conn_id: str = DEFAULT_CONN_ID,
        settings: RunSettings | Mapping | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.es_conn_id = es_conn_id
        self.settings = settings

    @cached_property
    def hook(self) -> ElasticsearchEmbeddingHook:
        return ElasticsearchEmbeddingHook(self.es_conn_id)

    @property
    def es(self) -> Elasticsearch:
        return self.hook.client

    @cached_property
    def run_settings(self) -> RunSettings:
        """The run's settings as its resolving task validated them (read once rendered, in execute)."""
        return RunSettings.of(self.settings)

    def calling(self, action: str) -> AbstractContextManager[None]:
        """Cluster calls: their errors leave as EmbeddingErrors naming `action`, secret-free."""
        return cluster_call(action, self.hook.secrets, self.es_conn_id)

    def get_or_none(self, action: str, call: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """A GET that answers 404 when the thing does not exist: None instead of an error."""
        with self.calling(action):
            try:
                return call(*args, **kwargs)
            except NotFoundError:
                return None

    def publish(self, context: Any, **values: Any) -> dict[str, Any]:
        """The result: each key pushed as an XCom of its own, the whole returned (return_value)."""
        for key, value in values.items():
            context["ti"].xcom_push(key=key, value=value)
        return values


class TaskMemory:
    """What one Airflow task instance keeps across its retries (ES task ids, passes), in its
    `task_state_store` (Airflow 3.3, AIP-103). Without a store (an older Airflow), it remembers nothing."""

    def __init__(self, context: Any) -> None:
        self.store = context.get("task_state_store")

    def get(self, key: str, default: Any = None) -> Any:
        return self.store.get(key, default) if self.store is not None else default

    def set(self, key: str, value: Any) -> None:
        if self.store is None:
            return
        from airflow.sdk.execution_time.context import NEVER_EXPIRE

        self.store.set(key, value, retention=NEVER_EXPIRE)

    def delete(self, key: str) -> None:
        if self.store is not None:
            self.store.delete(key)
