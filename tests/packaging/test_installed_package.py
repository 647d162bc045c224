"""The package as an Airflow deployment installs it: the wheel's contents, what Airflow reads from it
once installed (the real `airflow providers` CLI and the UI's connection-form service), and a DAG of
this repository running embedding_reindex against the sandbox with the library imported from the
installed package, no plugins folder anywhere (tests/packaging/conftest.py)."""

from __future__ import annotations

import configparser
import json
import re
import zipfile
from email.parser import Parser

import pytest

from tests.packaging.conftest import ROOT, version_of_library

PACKAGE = "es-embedding-airflow"
LINKS = {"es_embedding.links.KibanaModelLink", "es_embedding.links.KibanaIndexLink"}


def test_wheel_holds_the_library_and_registers_it_as_an_airflow_provider(wheel):
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        (dist_info,) = {name.split("/")[0] for name in names if name.endswith(".dist-info/METADATA")}
        metadata = Parser().parsestr(whl.read(f"{dist_info}/METADATA").decode())
        entry_points = configparser.ConfigParser()
        entry_points.read_string(whl.read(f"{dist_info}/entry_points.txt").decode())

    library = ROOT / "plugins" / "es_embedding"
    expected = {f"es_embedding/{path.relative_to(library).as_posix()}" for path in library.rglob("*.py")}
    assert {name for name in names if not name.startswith(dist_info)} == expected
    assert (metadata["Name"], metadata["Version"]) == (PACKAGE, version_of_library())
    requires = {req.split(">")[0].split("<")[0].split("=")[0] for req in metadata.get_all("Requires-Dist")}
    assert {"apache-airflow", "elasticsearch", "elastic-transport", "pydantic", "httpx"} == requires
    assert dict(entry_points["apache_airflow_provider"]) == {
        "provider_info": "es_embedding.provider_info:get_provider_info"
    }


def test_installed_package_dependencies_are_satisfied(installed):
    import subprocess
    import sys

    checked = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(installed.python), "check"],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def airflow_json(installed, *args: str):
    done = installed.run("-m", "airflow", *args, "--output", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout[done.stdout.index("[") :])


def test_airflow_lists_the_provider_with_its_version_and_links(installed):
    providers = {p["package_name"]: p for p in airflow_json(installed, "providers", "list")}
    assert providers[PACKAGE]["version"] == version_of_library()

    links = {link["extra_link_class_name"] for link in airflow_json(installed, "providers", "links")}
    assert LINKS <= links


def test_the_connection_form_offers_the_extras_the_hook_reads(installed):
    """What the UI's connection form gets for type `elasticsearch` (GET /ui/connections/hook_meta)."""
    script = (
        "import json\n"
        "from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService\n"
        "from airflow.providers_manager import ProvidersManager\n"
        "meta = {m.connection_type: m for m in HookMetaService.hook_meta_data()}\n"
        "triggers = [t.trigger_class_name for t in ProvidersManager().trigger if t.package_name == 'es-embedding-airflow']\n"
        "print(json.dumps({'form': meta['elasticsearch'].model_dump(mode='json'), 'triggers': triggers}))\n"
    )
    done = installed.run("-c", script)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    form = answer["form"]
    assert answer["triggers"] == ["es_embedding.triggers"]  # what `airflow providers triggers` lists

    from es_embedding.provider_info import CONNECTION_EXTRAS

    assert set(form["extra_fields"]) == set(CONNECTION_EXTRAS)
    assert form["extra_fields"]["api_key"]["schema"]["format"] == "password"
    assert form["extra_fields"]["compatible_with"]["schema"]["enum"] == [8, 9, None]
    assert form["standard_fields"]["host"]["placeholder"].startswith("https://es.example.com:9243")
    assert form["hook_name"] == "Elasticsearch"


@pytest.mark.slow
def test_a_dag_runs_embedding_reindex_with_the_installed_package_and_no_plugins_folder(
    installed, es, sandbox
):
    """The issue's done-when: full run, then an incremental run on the default Variables (whose
    timestamp_field the sample corpus carries), the triggers' classes imported from the package."""
    from bin.sample_corpus import create_sample_index

    create_sample_index(es, "articles")
    variables = json.loads((ROOT / "include" / "variables.json").read_text())
    env = {
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT": json.dumps({"conn_type": "elasticsearch", "host": sandbox.url}),
        # The nightly schedule on, so that runs have a data interval (an incremental run needs one).
        "EMBEDDING_REINDEX_SOURCE_INDEX": "articles",
    }
    for name, value in variables.items():  # the shipped defaults, polled every second
        if "poll_interval" in value:
            value = {**value, "poll_interval": "1s"}
        env[f"AIRFLOW_VAR_{name.upper()}"] = json.dumps(value)

    done = installed.run(
        str(ROOT / "tests" / "packaging" / "run_installed_dag.py"),
        str(ROOT / "dags"),
        "articles",
        "articles-embedded",
        env=env,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-5000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["es_embedding"].startswith(str(installed.site_packages)), result["es_embedding"]
    assert not any("plugins" in entry and str(ROOT) in entry for entry in result["sys_path"])
    assert not list((installed.home / "plugins").iterdir())
    full, incremental = result["full"], result["incremental"]
    assert full["state"] == "success", full
    assert full["mode"] == "full"
    assert incremental["state"] == "success", incremental
    assert incremental["mode"] == "incremental"
    alias = es.indices.get_alias(name="articles-embedded")
    (index,) = alias
    assert es.count(index=index)["count"] == 125


PROBE = """
import asyncio, sys, warnings
from elasticsearch import Elasticsearch
from elasticsearch.exceptions import GeneralAvailabilityWarning
warnings.simplefilter("always", GeneralAvailabilityWarning)  # a deployment that shows them all
from es_embedding.triggers import ModelDownloadTrigger

async def one_poll():
    trigger = ModelDownloadTrigger(model_id=".elser_model_2", conn_id="elasticsearch_default", poll_interval=0.2)
    try:
        await asyncio.wait_for(anext(trigger.run()), 10)
    except TimeoutError:
        pass  # it polled once either way; an absent model may keep it polling

asyncio.run(one_poll())
Elasticsearch(sys.argv[1]).tasks.list()
print("probed")
"""


def test_task_api_warning_is_silenced_for_the_library_only(installed, es, sandbox, tmp_path):
    """The client warns that the task management API is a technical preview on every call. The
    library's own calls (here a real trigger's poll) stay quiet; anyone else's still warn, as here
    the probe script's own call. (Airflow routes warnings to its log: `category=... filename=...`.)"""
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    env = {
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT": json.dumps({"conn_type": "elasticsearch", "host": sandbox.url})
    }

    done = installed.run(str(probe), sandbox.url, env=env)

    assert done.returncode == 0 and "probed" in done.stdout, done.stderr
    output = done.stdout + done.stderr
    assert "_tasks?actions=xpack" in output, "the trigger polled the task API"
    warned = re.findall(r"technical preview.*category=GeneralAvailabilityWarning filename=(\S+)", output)
    assert warned == [str(probe)], output
