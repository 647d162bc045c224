"""The Docker stack as the real Compose v2 binary resolves it (docker-compose.yaml with `.env` copied
from `.env.example`, every profile on; tests/compose/tools.py), and the scripts of its one-shot
services run for real: airflow-init's provisioning against a real Airflow metadata DB with the real
`airflow` CLI, es-sample-data's loader against the sandbox with the real client and hook, and
kibana-setup's checks in bash.

What cannot run here: Docker itself. Nothing is built or started; the image's entrypoint is
stood in for by `airflow db migrate` (what it does before running airflow-init's script), and the
image's installed package by plugins/ on the path.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.compose.tools import ROOT, default_stack, example_stack, raw_stack, unescape

STACK = example_stack("kibana", "debug")["services"]
RAW = raw_stack()["services"]
AIRFLOW_RUNTIME = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
    "airflow-worker": ["celery", "worker"],
}
ONE_SHOTS = {"airflow-init", "es-sample-data", "kibana-setup"}
AIRFLOW_IMAGE_SERVICES = set(AIRFLOW_RUNTIME) | {"airflow-init", "es-sample-data", "airflow-cli"}
CODE_MOUNTS = {"dags": "/opt/airflow/dags", "include": "/opt/airflow/include"}
ELSER_MEMORY_GB = 2004 / 1024  # Elasticsearch's own memory estimate for deploying ELSER v1/v2


def requirement_pin(package: str) -> str:
    text = (ROOT / "requirements.txt").read_text()
    return re.search(rf"^{re.escape(package)}==(\S+)$", text, re.M).group(1)


def depends_on(service: str) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in STACK[service].get("depends_on", {}).items()}


def bind_mounts(service: str) -> dict[str, str]:
    """{directory name relative to the project: container path} of the service's bind mounts."""
    return {
        Path(volume["source"]).name: volume["target"]
        for volume in STACK[service].get("volumes", [])
        if volume["type"] == "bind"
    }


# --- services, images, build --------------------------------------------------------------------


def test_the_official_airflow_services_plus_elasticsearch_and_optional_kibana():
    for service, command in AIRFLOW_RUNTIME.items():
        assert STACK[service]["command"] == command, service
    assert STACK["airflow-apiserver"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert RAW["kibana"]["profiles"] == RAW["kibana-setup"]["profiles"] == ["kibana"]
    assert RAW["airflow-cli"]["profiles"] == ["debug"]


def test_airflow_services_run_one_image_with_the_library_installed_and_dags_include_mounted():
    built = {name for name, spec in STACK.items() if "build" in spec}
    assert built == AIRFLOW_IMAGE_SERVICES
    assert len({STACK[name]["image"] for name in built}) == 1, "one image for every Airflow container"
    assert STACK["airflow-apiserver"]["image"].endswith(":" + requirement_pin("apache-airflow"))
    for name in built:
        assert STACK[name]["build"]["dockerfile"] == "Dockerfile", name
        # The library comes from the image (Dockerfile installs the package): a mounted plugins/
        # would be a second copy that the installed package shadows.
        assert bind_mounts(name) == CODE_MOUNTS, name
    for directory in CODE_MOUNTS:
        assert (ROOT / directory).is_dir(), directory


def test_the_triggerer_runs_with_the_image_and_its_health_check():
    # Every wait in embedding_reindex is a deferrable sensor: without a triggerer it never resumes,
    # and the triggers' module must import there (the installed package).
    triggerer = STACK["airflow-triggerer"]
    assert triggerer["command"] == ["triggerer"]
    assert triggerer["image"] == STACK["airflow-worker"]["image"]
    assert "TriggererJob" in " ".join(triggerer["healthcheck"]["test"])


@pytest.mark.parametrize("stack", [example_stack, default_stack], ids=["env-example", "defaults"])
def test_images_are_pinned_and_the_elastic_stack_is_one_9x_release(stack):
    services = stack("kibana", "debug")["services"]
    for name, spec in services.items():
        repository, _, tag = spec["image"].rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {spec['image']}"
    elastic = {
        services[name]["image"].rpartition(":")[2] for name in ("elasticsearch", "kibana", "kibana-setup")
    }
    assert len(elastic) == 1, elastic
    assert re.fullmatch(r"9\.\d+\.\d+", elastic.pop())
    assert services["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    assert services["kibana"]["image"].startswith("docker.elastic.co/kibana/kibana:")


def test_dockerfile_extends_the_official_image_and_installs_the_package():
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", "\n".join(instructions), re.M))
    (base,) = [line.split()[1] for line in instructions if line.startswith("FROM ")]
    base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
    assert base == f"apache/airflow:{requirement_pin('apache-airflow')}-python{args['PYTHON_VERSION']}"
    assert tuple(map(int, args["PYTHON_VERSION"].split("."))) >= (3, 11), "the ES provider needs 3.11+"
    installs = [line for line in instructions if line.startswith("RUN ") and "pip install" in line]
    assert len(installs) == 2
    # Airflow re-pinned in each install, so pip cannot move it while resolving the rest.
    assert all('"apache-airflow==${AIRFLOW_VERSION}"' in line for line in installs)
    assert installs[0].endswith("-r /requirements.txt")
    package_dir = installs[1].split()[-1]
    copies = [line.split()[-2:] for line in instructions if line.startswith("COPY ")]
    assert ["requirements.txt", "/requirements.txt"] in copies
    assert [dest for _, dest in copies if dest.startswith(package_dir)], (
        "the package is built from what is copied"
    )
    # (tests/packaging builds the wheel from exactly these copied files.)


def test_dockerignore_sends_requirements_and_the_package_sources_only():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    assert patterns[0] == "*", "everything excluded first: .env and its passwords never reach a build"
    included = {p[1:] for p in patterns if p.startswith("!")}
    copied = {
        source
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
        for source in line.split()[1:-1]
        if not source.startswith("--")
    }
    assert included == copied
    assert "**/__pycache__" in patterns


# --- health checks and start order ----------------------------------------------------------------


def test_long_running_services_have_health_checks_and_one_shots_do_not_restart():
    for name, spec in STACK.items():
        if name in ONE_SHOTS:
            assert spec["restart"] == "no", name
        elif name != "airflow-cli":
            assert spec["healthcheck"]["test"], name
            assert spec["restart"] == "always", name


def test_start_order():
    for service in AIRFLOW_RUNTIME:
        assert (
            depends_on(service).items()
            >= {
                "postgres": "service_healthy",
                "redis": "service_healthy",
                "airflow-init": "service_completed_successfully",
            }.items()
        ), service
    assert depends_on("airflow-init") == {"postgres": "service_healthy", "redis": "service_healthy"}
    assert depends_on("es-sample-data") == {"elasticsearch": "service_healthy"}
    # The UI is up only once the sample corpus is in: "up, then trigger" cannot race the loader.
    assert depends_on("airflow-apiserver")["es-sample-data"] == "service_completed_successfully"
    assert depends_on("airflow-worker")["airflow-apiserver"] == "service_healthy"
    assert depends_on("kibana-setup") == {"elasticsearch": "service_healthy"}
    assert depends_on("kibana") == {
        "elasticsearch": "service_healthy",
        "kibana-setup": "service_completed_successfully",
    }
    for service in STACK:
        for target, condition in depends_on(service).items():
            if condition == "service_healthy":
                assert STACK[target].get("healthcheck"), f"{service} waits for {target}'s health"
            if condition == "service_completed_successfully":
                assert target in ONE_SHOTS, f"{service} waits for {target} to exit"


# --- Elasticsearch and Kibana ------------------------------------------------------------------------


@pytest.mark.parametrize("stack", [example_stack, default_stack], ids=["env-example", "defaults"])
def test_elasticsearch_single_node_secured_trial_with_ml_and_memory_for_elser(stack):
    es = stack()["services"]["elasticsearch"]
    env = es["environment"]
    assert env["discovery.type"] == "single-node"
    assert {"ml", "ingest"} <= set(env["node.roles"].split(","))
    assert env["xpack.security.enabled"] == env["xpack.ml.enabled"] == "true"
    assert env["xpack.license.self_generated.type"] == "trial"
    # HTTP without TLS, so the port is published on loopback only.
    assert env["xpack.security.http.ssl.enabled"] == "false"
    # ML gets the container's memory beyond the heap (minus ~200 MB); ELSER needs ~2 GB of it.
    heap = re.fullmatch(r"-Xms(\d+)g -Xmx(\d+)g", env["ES_JAVA_OPTS"]).groups()
    assert heap[0] == heap[1]
    ml_memory = int(es["mem_limit"]) / 1024**3 - int(heap[0]) - 0.2
    assert ml_memory >= ELSER_MEMORY_GB + 1, f"{ml_memory:.1f} GB for ML"
    assert env["xpack.ml.use_auto_machine_memory_percent"] == "true"
    health = " ".join(es["healthcheck"]["test"])
    assert "_cluster/health" in health and "$${ELASTIC_PASSWORD}" in health


def test_kibana_uses_kibana_system_whose_password_a_one_shot_sets():
    env = STACK["kibana"]["environment"]
    assert env["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert env["ELASTICSEARCH_PASSWORD"] == STACK["kibana-setup"]["environment"]["KIBANA_PASSWORD"]
    assert "elasticsearch:9200" in env["ELASTICSEARCH_HOSTS"]
    script = unescape(STACK["kibana-setup"]["command"][-1])
    assert "/_security/user/kibana_system/_password" in script
    assert "elastic:${ELASTIC_PASSWORD}" in script


@pytest.mark.parametrize(
    ("password", "key", "refusal"),
    [
        ("", "k" * 32, "KIBANA_PASSWORD is empty"),
        ("kibana-pass", "", "KIBANA_ENCRYPTION_KEY must be at least 32 characters"),
        ("kibana-pass", "k" * 31, "KIBANA_ENCRYPTION_KEY must be at least 32 characters"),
    ],
)
def test_kibana_setup_refuses_settings_kibana_cannot_start_with(tmp_path, password, key, refusal):
    # Before any request: a curl that would run fails the test instead of reaching a network.
    (tmp_path / "curl").write_text("#!/bin/sh\necho curl must not run >&2\nexit 99\n")
    (tmp_path / "curl").chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "KIBANA_PASSWORD": password, "KIBANA_ENCRYPTION_KEY": key}
    done = subprocess.run(
        ["bash", "-c", unescape(STACK["kibana-setup"]["command"][-1])],
        env={**env, "ELASTIC_PASSWORD": "x"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert refusal in done.stderr and "curl must not run" not in done.stderr


def test_published_ports_listen_on_loopback_only():
    for name, spec in STACK.items():
        for port in spec.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name}: {port}"


def test_no_literal_secrets_in_the_compose_file():
    for name, spec in RAW.items():
        for key, value in (spec.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|FERNET|API_KEY|ENCRYPTIONKEY", key) and value:
                assert "${" in str(value), f"{name}: {key} is a literal"


# --- airflow-init: the Variables and the pools, run for real ---------------------------------------


@pytest.fixture
def airflow_init(tmp_path):
    """Runs airflow-init's script as the image's entrypoint does after migrating the metadata DB:
    the real `airflow` CLI of .venv on a SQLite DB in a home whose include/ is this repository's
    (or `include` given)."""
    home = tmp_path / "airflow"
    home.mkdir()
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__FERNET_KEY": FERNET_KEY,
        "AIRFLOW_UID": str(os.getuid()),
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    script = unescape(STACK["airflow-init"]["command"][-1])

    def run(include: Path = ROOT / "include") -> subprocess.CompletedProcess:
        link = home / "include"
        if link.is_symlink():
            link.unlink()
        link.symlink_to(include)
        done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    run.db = home / "airflow.db"
    return run


FERNET_KEY = "aqLg3tHYVx9bT5BEkWqvQp7sJ0oF2Xr8Ni4Ud6Mc1Kw="  # encrypts the Variables, as in the stack


def pools(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as conn:
        return {
            row[0]: row[1:] for row in conn.execute("SELECT pool, slots, include_deferred FROM slot_pool")
        }


def variables(db: Path) -> dict[str, object]:
    from cryptography.fernet import Fernet

    fernet = Fernet(FERNET_KEY)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT key, val, is_encrypted FROM variable").fetchall()
    return {
        key: json.loads(fernet.decrypt(val).decode() if encrypted else val) for key, val, encrypted in rows
    }


@pytest.mark.slow
def test_airflow_init_imports_variables_and_creates_pools_keeping_what_exists(airflow_init, tmp_path):
    from cryptography.fernet import Fernet

    wanted_pools = json.loads((ROOT / "include" / "pools.json").read_text())
    wanted_variables = json.loads((ROOT / "include" / "variables.json").read_text())

    first = airflow_init()

    assert "pools to create: es_embedding" in first.stdout
    for name, pool in wanted_pools.items():
        assert pools(airflow_init.db)[name] == (pool["slots"], pool["include_deferred"])
    assert variables(airflow_init.db) == wanted_variables

    # Changed in the UI, then `docker compose up` again: both changes stay.
    mine = Fernet(FERNET_KEY).encrypt(b'{"model_id": "mine"}').decode()
    with sqlite3.connect(airflow_init.db) as conn:
        conn.execute("UPDATE slot_pool SET slots = 7 WHERE pool = 'es_embedding'")
        conn.execute("UPDATE variable SET val = ?, is_encrypted = 1 WHERE key = 'embedding_model'", (mine,))
    second = airflow_init()

    assert "pools to create: none" in second.stdout
    assert pools(airflow_init.db)["es_embedding"][0] == 7
    assert variables(airflow_init.db)["embedding_model"] == {"model_id": "mine"}

    # A checkout without the files: said so, nothing imported, the stack still starts.
    empty = tmp_path / "empty-include"
    empty.mkdir()
    bare = airflow_init(empty)
    assert "include/variables.json not found" in bare.stdout
    assert "include/pools.json not found" in bare.stderr


def test_variables_json_is_what_airflow_variables_import_expects():
    variables = json.loads((ROOT / "include" / "variables.json").read_text())
    assert isinstance(variables, dict) and variables
    for name, value in variables.items():
        assert isinstance(value, dict), f"{name}: one JSON object per Variable"
        # `airflow variables import` reads {"value": ..., "description": ...} as value + description.
        assert "value" not in value, f"{name}: a key named 'value' would be taken for the Variable's value"


# --- es-sample-data: the loader, against the sandbox -----------------------------------------------


@pytest.fixture
def run_loader(es, sandbox, tmp_path, monkeypatch, capsys):
    """Runs es-sample-data's script (as Compose passes it to `python -c`) in this process, against the
    sandbox through the environment connection, as in the container; returns run(index)."""
    home = tmp_path / "airflow"
    home.mkdir()
    (home / "include").symlink_to(ROOT / "include")
    command = STACK["es-sample-data"]["command"]
    assert command[:2] == ["python", "-c"]
    script = unescape(command[2])
    monkeypatch.setenv("AIRFLOW_HOME", str(home))
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", json.dumps({"conn_type": "elasticsearch", "host": sandbox.url})
    )

    def run(index: str = "articles"):
        monkeypatch.setenv("SAMPLE_INDEX", index)
        exec(compile(script, "es-sample-data", "exec"), {"__name__": "__main__"})
        return capsys.readouterr()

    return run


def corpus_size() -> int:
    return sum(
        1 for line in (ROOT / "include" / "sample_corpus.jsonl").read_text().splitlines() if line.strip()
    )


def test_sample_loader_creates_the_index_once_and_completes_only_its_own(run_loader, es):
    expected = corpus_size()
    assert f"{expected} of {expected} sample documents indexed" in run_loader().out
    assert es.count(index="articles")["count"] == expected
    assert es.indices.get_mapping(index="articles")["articles"]["mappings"]["properties"]["topic"] == {
        "type": "keyword"
    }
    assert "already holds the sample corpus" in run_loader().out

    es.delete(index="articles", id="doc-0001", refresh=True)
    run_loader()
    assert es.count(index="articles")["count"] == expected, "an interrupted load is completed"

    es.indices.create(index="mine")
    assert "left as it is" in run_loader("mine").out
    assert es.count(index="mine")["count"] == 0, "an index it did not create is never written to"
    assert "not loaded" in run_loader("").out


def test_sample_loader_reports_failures_without_failing(run_loader, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", json.dumps({"conn_type": "elasticsearch"}))
    captured = run_loader()
    assert "WARNING: sample corpus not loaded into [articles]" in captured.err
    assert "needs a host" in captured.err


def test_both_loaders_give_the_corpus_the_timestamp_field_the_default_variables_name(run_loader, es):
    """Scheduled runs are incremental: they select documents by `embedding_reindex.timestamp_field`,
    which validate_settings requires to be a date field of the source. The sample corpus, loaded by
    the stack's loader or by bin/sample_corpus (demo, tests), must have it, on every document."""
    from bin.sample_corpus import create_sample_index
    from es_embedding.intervals import timestamp_problem

    field = json.loads((ROOT / "include" / "variables.json").read_text())["embedding_reindex"][
        "timestamp_field"
    ]
    run_loader("stack-loaded")
    create_sample_index(es, "demo-loaded")

    for index in ("stack-loaded", "demo-loaded"):
        mappings = [entry["mappings"] for entry in es.indices.get_mapping(index=index).values()]
        assert timestamp_problem(mappings, field) is None, (index, field)
        without = es.count(index=index, query={"bool": {"must_not": {"exists": {"field": field}}}})["count"]
        assert (es.count(index=index)["count"], without) == (corpus_size(), 0), index
