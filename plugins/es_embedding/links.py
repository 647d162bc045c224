"""Operator extra links to Kibana: the trained model and the destination index of a task.

Shown on a task instance in the Airflow UI when the connection has the extra `kibana_url` (for
example `https://my-deployment.kb.us-east-1.aws.found.io` or `http://localhost:5601`); without it the
links stay empty and the UI shows none. Airflow 3 computes a link in the worker when the task ends
and keeps it in XCom (key `_link_<class name>`), so the API server needs neither this module nor
the connection to show it. The paths are Kibana 8.12+/9.x's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from airflow.sdk import BaseHook, BaseOperatorLink

KIBANA_URL_EXTRA = "kibana_url"
MODEL_PATH = "/app/ml/trained_models"
INDEX_PATH = "/app/management/data/index_management/indices/index_details"


def kibana_url(conn_id: str) -> str | None:
    """The connection's `kibana_url` extra without a trailing slash, or None."""
    extra = BaseHook.get_connection(conn_id).extra_dejson or {}
    url = str(extra.get(KIBANA_URL_EXTRA) or "").strip().rstrip("/")
    return url or None


def _rison_string(text: str) -> str:
    # Rison quotes strings with ' and escapes ' and ! with !.
    return "'" + text.replace("!", "!!").replace("'", "!'") + "'"


def model_url(base: str, model_id: str) -> str:
    """Kibana's trained models page filtered to `model_id` (ML's `_a` URL state)."""
    state = f"(trained_models:(queryText:{_rison_string(model_id)}))"
    return f"{base}{MODEL_PATH}?_a={quote(state, safe='():,')}"


def index_url(base: str, index: str) -> str:
    return f"{base}{INDEX_PATH}?{urlencode({'indexName': index})}"


def _value(operator: Any, ti_key: Any, name: str) -> str | None:
    """The operator's (rendered) attribute `name`, else what its task instance pushed under `name`."""
    value = getattr(operator, name, None)
    if isinstance(value, str) and value:
        return value
    pull = getattr(ti_key, "xcom_pull", None)
    if pull is None:
        return None
    pushed = pull(task_ids=operator.task_id, key=name)
    return pushed if isinstance(pushed, str) and pushed else None


class _KibanaLink(BaseOperatorLink):
    attribute: str

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        base = kibana_url(getattr(operator, "es_conn_id", "elasticsearch_default"))
        target = _value(operator, ti_key, self.attribute) if base else None
        return self.url(base, target) if base and target else ""

    def url(self, base: str, target: str) -> str:
        raise NotImplementedError


class KibanaModelLink(_KibanaLink):
    """The task's trained model in Kibana (Machine Learning > Trained models)."""

    name = "Kibana: model"
    attribute = "model_id"

    def url(self, base: str, target: str) -> str:
        return model_url(base, target)


class KibanaIndexLink(_KibanaLink):
    """The task's destination index in Kibana (Index Management)."""

    name = "Kibana: index"
    attribute = "dest_index"

    def url(self, base: str, target: str) -> str:
        return index_url(base, target)
