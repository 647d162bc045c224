"""What Airflow learns about this library when it is installed as the package es-embedding-airflow.

pyproject.toml names `get_provider_info` as the package's `apache_airflow_provider` entry point, so
Airflow's ProvidersManager lists the package (`airflow providers list`, with its version), its
operator extra links (`airflow providers links`), its triggers, and the connection type
`elasticsearch` with the extras the hook reads: the connection form of the UI then offers them as
fields (`api_key` masked), with placeholders for the standard fields.

With apache-airflow-providers-elasticsearch installed too, that provider keeps the connection type
(its hook tests connections; Airflow logs once that `elasticsearch` "has been already registered");
the extra fields and placeholders below still apply to the form, since Airflow reads them from every
package that declares the type.

Airflow calls this in every process that discovers providers and validates the answer against its
schema (an invalid one breaks discovery for every provider): plain data only, no imports beyond the
version. Class and module paths are strings, checked by tests/packaging.
"""

from __future__ import annotations

from typing import Any

from es_embedding import __version__

PACKAGE_NAME = "es-embedding-airflow"
INTEGRATION = "Elasticsearch embedding"
CONNECTION_TYPE = "elasticsearch"
HOOK_CLASS = "es_embedding.hooks.ElasticsearchEmbeddingHook"
TRIGGER_MODULES = ["es_embedding.triggers"]
EXTRA_LINKS = ["es_embedding.links.KibanaModelLink", "es_embedding.links.KibanaIndexLink"]


def _field(label: str, kind: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": [kind, "null"], **schema}}


# The connection extras the hook and the Kibana links read (README, "Connection fields and extras").
CONNECTION_EXTRAS: dict[str, dict[str, Any]] = {
    "cloud_id": _field("Cloud ID", "string", "Elastic Cloud deployment, instead of Host"),
    "api_key": _field(
        "API key", "string", "Encoded, or id:key; used instead of Login and Password", format="password"
    ),
    "ca_certs": _field("CA certificates", "string", "Path of the CA bundle that verifies the cluster"),
    "verify_certs": _field(
        "Verify certificates", "boolean", "Off skips certificate verification (never in production)"
    ),
    "request_timeout": _field("Request timeout (s)", "number", "Client timeout per request", default=30),
    "max_retries": _field("Max retries", "integer", "Transport retries on connection errors"),
    "retry_on_timeout": _field("Retry on timeout", "boolean", "Retry a request that timed out"),
    "compatible_with": _field(
        "Compatible with",
        "integer",
        "8 for an Elasticsearch 8.x cluster (REST compatibility)",
        enum=[8, 9, None],
    ),
    "kibana_url": _field(
        "Kibana URL", "string", "Base URL of Kibana, for the tasks' extra links to the model and index"
    ),
}

FIELD_BEHAVIOUR = {
    "hidden-fields": [],
    "relabeling": {"password": "Password (an API key when Login is empty)", "schema": "Scheme"},
    "placeholders": {
        "host": "https://es.example.com:9243, or several hosts separated by commas",
        "port": "9200",
        "schema": "http or https (for a host given without one)",
        "login": "elastic",
    },
}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Elasticsearch embedding",
        "description": (
            "Operators, deferrable sensors and triggers that embed the documents of an Elasticsearch "
            "index with a model deployed in Elasticsearch ML, and keep them embedded."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://www.elastic.co/docs/explore-analyze/machine-learning/nlp",
                "tags": ["software"],
            }
        ],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": [HOOK_CLASS.rpartition(".")[0]]}],
        "triggers": [{"integration-name": INTEGRATION, "python-modules": TRIGGER_MODULES}],
        "connection-types": [
            {
                "connection-type": CONNECTION_TYPE,
                "hook-class-name": HOOK_CLASS,
                "hook-name": "Elasticsearch",
                "conn-fields": CONNECTION_EXTRAS,
                "ui-field-behaviour": FIELD_BEHAVIOUR,
            }
        ],
        "extra-links": EXTRA_LINKS,
    }
