"""The Docker path, checked without Docker: docker-compose.yaml, Dockerfile, .env.example, .dockerignore.

Docker cannot build or run where these tests run, so they read the files the way Compose and Docker
would (YAML anchors and merge keys resolved by yaml.safe_load, ${VAR} interpolation as Compose does
it) and check what `docker compose up` relies on: the services and their commands, pinned images,
the image built from the Dockerfile at the Airflow version requirements.txt pins, the dags/ plugins/
include/ mounts, health checks and start order, the connection elasticsearch_default and the
Variables provisioned at start, the sample-corpus loader, and .env.example documenting every variable.
"""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict] = COMPOSE["services"]

AIRFLOW_RUNTIME = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
ONE_SHOTS = {"airflow-init", "es-sample-data", "kibana-setup"}
CODE_MOUNTS = {f"./{name}:/opt/airflow/{name}" for name in ("dags", "plugins", "include")}
ELSER_MEMORY_GB = 2004 / 1024  # Elasticsearch's own memory estimate for deploying ELSER v1/v2


# --- Compose's variable interpolation, enough of it for these files ------------------------------


class MissingVariable(Exception):
    pass


def interpolate(text: str, env: dict[str, str]) -> str:
    """`$$` -> `$`; `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, nested defaults."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                depth -= text[j] == "}"
                j += 1
            out.append(_resolve(text[i + 2 : j - 1], env))
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _resolve(expr: str, env: dict[str, str]) -> str:
    name, op, arg = re.fullmatch(r"([A-Za-z_]\w*)(:?[-?])?(.*)", expr, re.S).groups()
    value = env.get(name)
    if op == ":-":
        return value if value else interpolate(arg, env)
    if op == "-":
        return value if value is not None else interpolate(arg, env)
    if op in (":?", "?") and (value is None or (op == ":?" and not value)):
        raise MissingVariable(f"{name}: {arg}")
    return value or ""


def strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in strings(key) + strings(value)]
    if isinstance(node, list):
        return [s for item in node for s in strings(item)]
    return []


def compose_variables() -> set[str]:
    """Names Compose interpolates: every `${NAME` in a value, `$${...}` (the container's own) excluded."""
    found = set()
    for value in strings(COMPOSE):
        found |= set(re.findall(r"\$\{([A-Za-z_]\w*)", value.replace("$$", "")))
    return found


def env_example() -> tuple[dict[str, str], set[str]]:
    """(active NAME=value pairs, every documented name including commented-out `# NAME=` examples)."""
    active, documented = {}, set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.match(r"^(#\s*)?([A-Za-z_]\w*)=(.*)$", line.strip())
        if not match:
            continue
        commented, name, value = match.groups()
        documented.add(name)
        if not commented:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            active[name] = value
    return active, documented


def resolved(value, env: dict[str, str] | None = None):
    return interpolate(value, env if env is not None else env_example()[0])


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: environment as a mapping"
    return env


def depends_on(service: str) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in SERVICES[service].get("depends_on", {}).items()}


def requirement_pin(package: str) -> str:
    text = (ROOT / "requirements.txt").read_text()
    return re.search(rf"^{re.escape(package)}==(\S+)$", text, re.M).group(1)


def gigabytes(size: str) -> float:
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([kmg])b?", size.lower()).groups()
    return float(number) / {"k": 1024**2, "m": 1024, "g": 1}[unit]


# --- services, images, build --------------------------------------------------------------------


def test_the_official_airflow_services_plus_elasticsearch_and_optional_kibana():
    assert set(AIRFLOW_RUNTIME) | {"postgres", "redis", "airflow-init", "elasticsearch"} <= set(SERVICES)
    for service, command in AIRFLOW_RUNTIME.items():
        assert SERVICES[service]["command"] == command, service
    assert environment("airflow-apiserver")["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert SERVICES["kibana"]["profiles"] == SERVICES["kibana-setup"]["profiles"] == ["kibana"]
    # The core stack starts without any profile.
    for service in [*AIRFLOW_RUNTIME, "postgres", "redis", "airflow-init", "elasticsearch", "es-sample-data"]:
        assert "profiles" not in SERVICES[service], service


def test_the_triggerer_runs_with_the_library_on_its_path():
    # Every wait in embedding_reindex is a deferrable sensor: without a triggerer it never resumes,
    # and the triggers live in plugins/, which the triggerer must see.
    triggerer = SERVICES["airflow-triggerer"]
    assert triggerer["command"] == "triggerer"
    assert CODE_MOUNTS <= set(triggerer["volumes"])
    assert "TriggererJob" in " ".join(triggerer["healthcheck"]["test"])


def test_airflow_services_run_the_image_built_from_the_dockerfile_with_code_mounted():
    airflow_services = [name for name, spec in SERVICES.items() if "build" in spec]
    assert set(AIRFLOW_RUNTIME) | {"airflow-init", "es-sample-data"} <= set(airflow_services)
    images = {SERVICES[name]["image"] for name in airflow_services}
    assert len(images) == 1, "one image for every Airflow container"
    for name in airflow_services:
        spec = SERVICES[name]
        assert spec["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name
        assert CODE_MOUNTS <= set(spec["volumes"]), name
        assert spec["environment"]["AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"], name
    for mount in CODE_MOUNTS:
        assert (ROOT / mount.split(":")[0]).is_dir(), mount
    assert (ROOT / "Dockerfile").is_file()


def test_images_are_pinned_and_the_elastic_stack_is_one_9x_release():
    for name, spec in SERVICES.items():
        image = resolved(spec["image"], {})
        repository, _, tag = image.rpartition(":")
        assert repository and tag and tag != "latest", f"{name}: {image}"
    elastic = {
        resolved(SERVICES[name]["image"], {}).rpartition(":")[2]
        for name in ("elasticsearch", "kibana", "kibana-setup")
    }
    assert len(elastic) == 1, elastic
    (version,) = elastic
    assert re.fullmatch(r"9\.\d+\.\d+", version), version
    assert env_example()[0]["ELASTIC_VERSION"] == version
    assert SERVICES["elasticsearch"]["image"].startswith("docker.elastic.co/elasticsearch/elasticsearch:")
    assert SERVICES["kibana"]["image"].startswith("docker.elastic.co/kibana/kibana:")
    assert SERVICES["airflow-apiserver"]["image"].endswith(":" + requirement_pin("apache-airflow"))


def test_dockerfile_extends_the_official_image_at_the_pinned_airflow_version():
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", "\n".join(instructions), re.M))
    froms = [line for line in instructions if line.startswith("FROM ")]
    assert len(froms) == 1
    base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], froms[0].split()[1])
    assert base == f"apache/airflow:{requirement_pin('apache-airflow')}-python{args['PYTHON_VERSION']}"
    assert tuple(map(int, args["PYTHON_VERSION"].split("."))) >= (3, 11), "the ES provider needs 3.11+"
    copy = next(line for line in instructions if line.startswith("COPY "))
    assert "requirements.txt" in copy
    install = next(line for line in instructions if line.startswith("RUN ") and "pip install" in line)
    # Airflow re-pinned next to requirements.txt, so pip cannot move it while resolving the rest.
    assert '"apache-airflow==${AIRFLOW_VERSION}"' in install
    assert "-r /requirements.txt" in install


def test_dockerignore_sends_only_requirements_txt():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()]
    patterns = [p for p in patterns if p and not p.startswith("#")]
    assert patterns[0] == "*", "everything excluded first: .env and its passwords never reach a build"
    assert patterns[1:] == ["!requirements.txt"]


# --- health checks and start order ----------------------------------------------------------------


def test_long_running_services_have_health_checks_and_one_shots_do_not_restart():
    for name, spec in SERVICES.items():
        if name in ONE_SHOTS:
            assert spec["restart"] == "no", name
        elif "debug" not in spec.get("profiles", []):
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
    for service in SERVICES:
        for target, condition in depends_on(service).items():
            assert target in SERVICES, f"{service} -> {target}"
            if condition == "service_healthy":
                assert SERVICES[target].get("healthcheck"), f"{service} waits for {target}'s health"
            if condition == "service_completed_successfully":
                assert target in ONE_SHOTS, f"{service} waits for {target} to exit"


# --- Elasticsearch ---------------------------------------------------------------------------------


def test_elasticsearch_single_node_secured_trial_with_ml_and_memory_for_elser():
    es = SERVICES["elasticsearch"]
    env = environment("elasticsearch")
    assert env["discovery.type"] == "single-node"
    assert "ml" in env["node.roles"].split(",") and "ingest" in env["node.roles"].split(",")
    assert env["xpack.security.enabled"] == "true"
    assert env["xpack.license.self_generated.type"] == "trial"
    assert env["xpack.ml.enabled"] == "true"
    assert env["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")
    # HTTP without TLS, so the port is published on loopback only.
    assert env["xpack.security.http.ssl.enabled"] == "false"
    assert all(port.startswith("127.0.0.1:") for port in es["ports"])
    # ML gets the container's memory beyond the heap (minus ~200 MB); ELSER needs ~2 GB of it.
    # Checked with the compose defaults and with .env copied from .env.example.
    for values in ({}, env_example()[0]):
        heap = re.fullmatch(r"-Xms(\S+) -Xmx(\S+)", resolved(env["ES_JAVA_OPTS"], values)).groups()
        assert heap[0] == heap[1]
        ml_memory = gigabytes(resolved(es["mem_limit"], values)) - gigabytes(heap[0]) - 0.2
        assert ml_memory >= ELSER_MEMORY_GB + 1, f"{ml_memory:.1f} GB for ML"
    assert env["xpack.ml.use_auto_machine_memory_percent"] == "true"
    health = " ".join(es["healthcheck"]["test"])
    assert "_cluster/health" in health and "$${ELASTIC_PASSWORD}" in health


def test_kibana_uses_kibana_system_whose_password_a_one_shot_sets():
    env = environment("kibana")
    assert env["ELASTICSEARCH_USERNAME"] == "kibana_system"
    assert env["ELASTICSEARCH_PASSWORD"].startswith("${KIBANA_PASSWORD")
    assert "elasticsearch:9200" in env["ELASTICSEARCH_HOSTS"]
    script = " ".join(SERVICES["kibana-setup"]["command"])
    assert "/_security/user/kibana_system/_password" in script
    assert "elastic:$${ELASTIC_PASSWORD}" in script


def test_published_ports_listen_on_loopback_only():
    for name, spec in SERVICES.items():
        for port in spec.get("ports", []):
            assert resolved(port).startswith("127.0.0.1:"), f"{name}: {port}"


# --- the connection and the Variables provisioned at start ---------------------------------------


def test_connection_elasticsearch_default_comes_from_env_without_a_literal_secret():
    raw = SERVICES["airflow-scheduler"]["environment"]["AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"]
    assert "${ELASTIC_PASSWORD}" in raw
    example, _ = env_example()
    assert example["ELASTIC_PASSWORD"] not in COMPOSE_TEXT, "the placeholder password leaked into compose"
    url = urlsplit(resolved(raw))
    assert (url.scheme, url.hostname, url.port, url.path) == ("elasticsearch", "elasticsearch", 9200, "/http")
    assert (url.username, url.password) == ("elastic", example["ELASTIC_PASSWORD"])
    assert "elasticsearch" in SERVICES
    # Another cluster is one line in .env: ELASTICSEARCH_CONN replaces the whole connection.
    cloud = '{"conn_type": "elasticsearch", "extra": {"cloud_id": "demo:Zm9v", "api_key": "a2V5"}}'
    assert resolved(raw, {**example, "ELASTICSEARCH_CONN": cloud}) == cloud
    assert json.loads(cloud)["conn_type"] == "elasticsearch"
    # Same connection in every Airflow container.
    values = {
        spec["environment"]["AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"]
        for spec in SERVICES.values()
        if "build" in spec
    }
    assert values == {raw}


def test_no_literal_secrets_in_the_compose_file():
    for name, spec in SERVICES.items():
        for key, value in spec.get("environment", {}).items():
            if re.search(r"PASSWORD|SECRET|FERNET|API_KEY", key):
                assert "${" in str(value), f"{name}: {key} is a literal"


def test_airflow_init_migrates_creates_the_admin_and_imports_variables_if_present():
    init = SERVICES["airflow-init"]
    env = environment("airflow-init")
    assert env["_AIRFLOW_DB_MIGRATE"] == env["_AIRFLOW_WWW_USER_CREATE"] == "true"
    assert init["user"] == "0:0"
    script = init["command"][-1]
    assert "variables=/opt/airflow/include/variables.json" in script
    assert '[[ -f "$$variables" ]]' in script
    assert "airflow variables import --action-on-existing-key skip" in script
    assert "include/variables.json not found" in script, "a clear message when the file is absent"
    assert "./include:/opt/airflow/include" in init["volumes"]


def test_variables_json_is_what_airflow_variables_import_expects():
    path = ROOT / "include" / "variables.json"
    if not path.exists():
        pytest.skip("include/variables.json not written yet (airflow-init then imports nothing)")
    variables = json.loads(path.read_text())
    assert isinstance(variables, dict) and variables
    for name, value in variables.items():
        assert isinstance(value, dict), f"{name}: one JSON object per Variable"
        # `airflow variables import` reads {"value": ..., "description": ...} as value + description.
        assert "value" not in value, f"{name}: a key named 'value' would be taken for the Variable's value"


# --- the sample corpus loader ---------------------------------------------------------------------


class FakeIndices:
    def __init__(self, store):
        self.store = store

    def exists(self, index):
        return index in self.store

    def create(self, index, mappings):
        self.store[index] = {"mappings": mappings, "docs": {}}

    def get_mapping(self, index):
        return {index: {"mappings": self.store[index]["mappings"]}}


class FakeElasticsearch:
    def __init__(self, store):
        self.store = store
        self.indices = FakeIndices(store)

    def count(self, index):
        return {"count": len(self.store[index]["docs"])}


@pytest.fixture
def run_loader(monkeypatch, capsys):
    """Runs es-sample-data's script against an in-memory cluster; returns (store, run)."""
    command = SERVICES["es-sample-data"]["command"]
    assert command[:2] == ["python", "-c"]
    script = command[2].replace("/opt/airflow/include", str(ROOT / "include"))
    store: dict = {}

    def bulk(es, actions, refresh, raise_on_error):
        count = 0
        for action in actions:
            assert "_id" not in action["_source"], "_id goes in the action, not the document"
            es.store[action["_index"]]["docs"][action["_id"]] = action["_source"]
            count += 1
        return count, []

    hooks = types.ModuleType("es_embedding.hooks")
    hooks.ElasticsearchEmbeddingHook = type("Hook", (), {"get_conn": lambda self: FakeElasticsearch(store)})
    elasticsearch = types.ModuleType("elasticsearch")
    elasticsearch.helpers = types.SimpleNamespace(bulk=bulk)
    monkeypatch.setitem(sys.modules, "es_embedding.hooks", hooks)
    monkeypatch.setitem(sys.modules, "elasticsearch", elasticsearch)
    monkeypatch.setattr(sys, "path", list(sys.path))

    def run(index="articles"):
        monkeypatch.setenv("SAMPLE_INDEX", index)
        exec(compile(script, "es-sample-data", "exec"), {"__name__": "__main__"})
        return capsys.readouterr()

    return store, run


def test_sample_loader_creates_the_index_once_and_completes_only_its_own(run_loader):
    store, run = run_loader
    expected = len((ROOT / "include" / "sample_corpus.jsonl").read_text().splitlines())
    assert f"{expected} of {expected} sample documents indexed" in run().out
    assert len(store["articles"]["docs"]) == expected
    assert store["articles"]["mappings"]["properties"]["topic"] == {"type": "keyword"}
    assert "already holds the sample corpus" in run().out
    store["articles"]["docs"].popitem()
    run()
    assert len(store["articles"]["docs"]) == expected, "an interrupted load is completed"
    store["mine"] = {"mappings": {"properties": {}}, "docs": {}}
    assert "left as it is" in run("mine").out
    assert store["mine"]["docs"] == {}, "an index it did not create is never written to"
    assert "not loaded" in run("").out


def test_sample_loader_reports_failures_without_failing(run_loader, monkeypatch):
    _, run = run_loader
    monkeypatch.setattr(FakeIndices, "exists", lambda self, index: 1 / 0)
    captured = run()
    assert "WARNING: sample corpus not loaded" in captured.err


def test_sample_loader_uses_the_library_hook_and_the_airflow_connection():
    loader = SERVICES["es-sample-data"]
    script = loader["command"][2]
    imported = re.search(r"from es_embedding\.hooks import (\w+)", script).group(1)
    hooks = (ROOT / "plugins" / "es_embedding" / "hooks.py").read_text()
    assert re.search(rf"^class {imported}\b", hooks, re.M), f"{imported} not in plugins/es_embedding/hooks.py"
    assert "/opt/airflow/include/sample_corpus.jsonl" in script
    assert (ROOT / "include" / "sample_corpus.jsonl").is_file()
    assert resolved(loader["environment"]["SAMPLE_INDEX"]) == "articles"
    assert loader["environment"]["CONNECTION_CHECK_MAX_COUNT"] == "0", "no wait for the metadata DB"


# --- .env.example ----------------------------------------------------------------------------------


def test_env_example_documents_every_variable_and_nothing_else():
    active, documented = env_example()
    used = compose_variables()
    assert used - documented == set(), "used in docker-compose.yaml, missing from .env.example"
    assert documented - used == set(), "documented in .env.example, unused by docker-compose.yaml"
    # The defaults in docker-compose.yaml are the values .env.example shows (secrets have none).
    for value in strings(COMPOSE):
        for name, default in re.findall(r"\$\{(\w+):?-([^${}]*)\}", value.replace("$$", "")):
            if name in active and default:
                assert active[name] == default, f"{name}: .env.example {active[name]!r}, default {default!r}"
    # With .env copied from the example, every required variable is set.
    for value in strings(COMPOSE):
        interpolate(value, active)
    with pytest.raises(MissingVariable, match="ELASTIC_PASSWORD"):
        interpolate(SERVICES["elasticsearch"]["environment"]["ELASTIC_PASSWORD"], {})
