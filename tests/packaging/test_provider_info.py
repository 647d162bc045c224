"""es_embedding.provider_info: what Airflow reads from the installed package, checked against
Airflow's own schema and against the library it describes (so that moving a class or adding an
extra the hook reads fails here, not silently in a deployment)."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def info() -> dict:
    from es_embedding.provider_info import get_provider_info

    return get_provider_info()


def airflow_schema(name: str) -> dict:
    import airflow

    return json.loads((Path(airflow.__file__).parent / name).read_text())


def test_airflow_schema_accepts_it(info):
    import jsonschema

    # An invalid answer raises in ProvidersManager and breaks provider discovery for every package.
    jsonschema.validate(info, airflow_schema("provider_info.schema.json"))
    (connection,) = info["connection-types"]
    behaviour = connection["ui-field-behaviour"]
    converted = {key.replace("-", "_"): value for key, value in behaviour.items()}
    jsonschema.validate(converted, airflow_schema("customized_form_field_behaviours.schema.json"))


def test_name_and_version_are_the_packages(info):
    import es_embedding

    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'name = "{info["package-name"]}"' in pyproject
    assert info["versions"] == [es_embedding.__version__]
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {es_embedding.__version__}" in changelog, "every version has its CHANGELOG entry"


def library_classes(base: type) -> set[type]:
    import es_embedding

    found = set()
    for module_info in pkgutil.walk_packages(es_embedding.__path__, "es_embedding."):
        module = importlib.import_module(module_info.name)
        found |= {
            cls
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, base) and cls.__module__ == module.__name__
        }
    return found


def dotted(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_extra_links_are_every_link_the_operators_declare(info):
    from airflow._shared.module_loading import import_string  # what ProvidersManager imports them with
    from airflow.sdk import BaseOperator, BaseOperatorLink

    declared = {
        dotted(type(link))
        for operator in library_classes(BaseOperator)
        for link in getattr(operator, "operator_extra_links", ())
    }
    assert declared, "the operators declare their Kibana links"
    assert set(info["extra-links"]) == declared
    for path in info["extra-links"]:
        assert issubclass(import_string(path), BaseOperatorLink), path


def test_hook_and_trigger_paths_import(info):
    from airflow._shared.module_loading import import_string  # what ProvidersManager imports them with
    from airflow.triggers.base import BaseTrigger

    (connection,) = info["connection-types"]
    hook = import_string(connection["hook-class-name"])
    assert hook.conn_type == connection["connection-type"] == "elasticsearch"
    assert [m for entry in info["hooks"] for m in entry["python-modules"]] == [hook.__module__]
    modules = [m for entry in info["triggers"] for m in entry["python-modules"]]
    assert {cls.__module__ for cls in library_classes(BaseTrigger)} == set(modules)


def readme_extras() -> set[str]:
    return set(re.findall(r"^\| extra `(\w+)` \|", (ROOT / "README.md").read_text(), re.M))


def test_connection_fields_are_the_extras_the_readme_documents(info):
    (connection,) = info["connection-types"]
    fields = connection["conn-fields"]
    assert set(fields) == readme_extras()
    assert fields["api_key"]["schema"]["format"] == "password", "the UI masks the API key"
    assert [name for name, field in fields.items() if field["schema"].get("format") == "password"] == [
        "api_key"
    ]


def test_every_connection_field_changes_what_the_hook_or_the_links_do(info, monkeypatch):
    """Each extra the form offers is read: set alone, it changes the client the hook builds (or,
    for kibana_url, the link)."""
    from airflow.models.connection import Connection

    from es_embedding.hooks import ClientSpec
    from es_embedding.links import kibana_url

    samples = {
        "cloud_id": "demo:ZXUtd2VzdC0xLmF3cy5mb3VuZC5pbyRhYmMkZGVm",
        "api_key": "a2V5",
        "ca_certs": "/etc/ssl/es-ca.crt",
        "verify_certs": False,
        "request_timeout": 12,
        "max_retries": 5,
        "retry_on_timeout": True,
        "compatible_with": 8,
        "kibana_url": "https://kibana.example.com/",
    }
    (connection,) = info["connection-types"]
    assert set(samples) == set(connection["conn-fields"])

    def spec(extra: dict) -> dict:
        conn = Connection(
            conn_id="es", conn_type="elasticsearch", host="es.example.com", extra=json.dumps(extra)
        )
        return ClientSpec.from_connection(conn).client_kwargs(asynchronous=False)

    plain = spec({})
    for name, value in samples.items():
        if name == "kibana_url":
            monkeypatch.setenv(
                "AIRFLOW_CONN_ES",
                json.dumps({"conn_type": "elasticsearch", "host": "h", "extra": {name: value}}),
            )
            assert kibana_url("es") == "https://kibana.example.com"
        else:
            assert spec({name: value}) != plain, name
