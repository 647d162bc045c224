"""The real Compose v2 binary (`docker-compose config`) over docker-compose.yaml in every documented
configuration: without `.env`, with `.env` copied from `.env.example`, with the `kibana` and `debug`
profiles, and with `ELASTICSEARCH_CONN` set. `config` parses, merges, interpolates and validates the
file as `docker compose up` does before it starts anything; no Docker engine is needed or used."""

from __future__ import annotations

import json
import re
import warnings

import pytest

from tests.compose.tools import (
    ENV_EXAMPLE,
    REQUIRED,
    ROOT,
    ComposeProject,
    default_stack,
    example_project,
    example_stack,
)

CORE = {
    "postgres",
    "redis",
    "elasticsearch",
    "es-sample-data",
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
MISSING = re.compile(
    r"error while interpolating \S+: required variable (\w+) is missing a value: "
    r"set (\w+) in \.env \(cp \.env\.example \.env\)"
)
WATERMARKS = [
    f"cluster.routing.allocation.disk.watermark.{level}" for level in ("low", "high", "flood_stage")
]


def env_example() -> dict[str, str]:
    """The NAME=value lines `cp .env.example .env` activates (comments and blank lines skipped)."""
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.match(r"^([A-Za-z_]\w*)=(.*)$", line):
            values[match.group(1)] = match.group(2).strip("'")
    return values


def services(project: ComposeProject, *args: str, env: dict | None = None) -> set[str]:
    done = project.run(*args, "config", "--services", env=env)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


# --- without .env: compose refuses, and says what to do -------------------------------------------


def test_without_env_compose_refuses_naming_a_required_variable(tmp_path):
    done = ComposeProject(tmp_path).run("config", "--quiet")

    assert done.returncode == 1
    errors = MISSING.findall(done.stderr)
    assert len(errors) == 1, done.stderr
    (named, advised) = errors[0]
    # Compose walks the model in no fixed order: it names either required variable.
    assert named == advised and named in REQUIRED, done.stderr


@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_each_required_variable_alone_is_named_when_missing(tmp_path, missing):
    given = {name: value for name, value in REQUIRED.items() if name != missing}

    done = ComposeProject(tmp_path).run("config", "--quiet", env=given)

    assert done.returncode == 1
    assert MISSING.findall(done.stderr) == [(missing, missing)], done.stderr


def test_docker_md_quotes_the_messages_compose_prints():
    docs = (ROOT / "docs" / "DOCKER.md").read_text()
    for name in REQUIRED:
        assert f"required variable {name} is missing a value" in docs, name


# --- with .env from .env.example ------------------------------------------------------------------


def test_env_example_is_a_complete_env(tmp_path):
    project = example_project(tmp_path)

    done = project.run("config", "--quiet")

    assert done.returncode == 0, done.stderr
    assert done.stderr == "", "no 'variable is not set' warnings either"
    assert services(project) == CORE


def test_profiles_add_kibana_and_the_cli(tmp_path):
    project = example_project(tmp_path)
    profiles = project.run("config", "--profiles")
    assert set(profiles.stdout.split()) == {"kibana", "debug"}

    assert services(project, "--profile", "kibana") == CORE | {"kibana-setup", "kibana"}
    assert services(project, "--profile", "debug") == CORE | {"airflow-cli"}
    kibana = project.config(profiles=("kibana",))["services"]["kibana"]
    assert kibana["environment"]["ELASTICSEARCH_PASSWORD"] == env_example()["KIBANA_PASSWORD"]


def test_env_example_documents_exactly_the_variables_compose_reads(tmp_path):
    done = ComposeProject(tmp_path).run("config", "--variables", "--format", "json", env=REQUIRED)
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    assert set(read) == documented
    # Each default in the compose file is the value .env.example shows (secrets have none).
    example = env_example()
    for name, info in read.items():
        if info["DefaultValue"] and name in example and "${" not in info["DefaultValue"]:
            assert example[name] == info["DefaultValue"], name
    # (Which variables are required is what the tests above check: `--variables` reports the
    # flag of whichever use of a variable it met last, in no fixed order.)


def test_the_connection_is_the_local_node_unless_elasticsearch_conn_is_set(tmp_path):
    example = env_example()
    local = example_stack()["services"]["airflow-worker"]["environment"]["AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"]
    assert local == f"elasticsearch://elastic:{example['ELASTIC_PASSWORD']}@elasticsearch:9200/http"

    cloud = '{"conn_type": "elasticsearch", "extra": {"cloud_id": "demo:Zm9v", "api_key": "a2V5"}}'
    stack = example_project(tmp_path).config(env={"ELASTICSEARCH_CONN": cloud})
    airflow = {name: spec for name, spec in stack["services"].items() if "build" in spec}
    assert len(airflow) == 7, sorted(airflow)  # every Airflow container, the one-shots included
    assert {spec["environment"]["AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"] for spec in airflow.values()} == {cloud}


# --- what the fixes of issue 14 resolve to ----------------------------------------------------------


@pytest.mark.parametrize("stack", [example_stack, default_stack], ids=["env-example", "defaults"])
def test_disk_watermarks_are_free_space_not_a_share_of_the_disk(stack):
    env = stack()["services"]["elasticsearch"]["environment"]
    values = {env[name] for name in WATERMARKS}
    # All three equal (Elasticsearch requires low >= high >= flood stage in free bytes) and a byte
    # size: the default 85/90/95 % leave no room for a new index on a large, mostly full disk.
    assert len(values) == 1, values
    (value,) = values
    assert re.fullmatch(r"\d+(\.\d+)?(b|kb|mb|gb|tb)", value), value


def test_jwt_placeholder_is_long_enough_for_hs512():
    import jwt
    from airflow.api_fastapi.auth.tokens import JWTGenerator

    secret = example_stack()["services"]["airflow-apiserver"]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert secret == env_example()["AIRFLOW_JWT_SECRET"]
    generator = JWTGenerator(secret_key=secret, valid_for=60, audience="tests")
    assert generator.algorithm == "HS512"
    with warnings.catch_warnings():
        warnings.simplefilter("error", jwt.InsecureKeyLengthWarning)
        generator.generate({"sub": "worker"})


def test_kibana_gets_a_stable_encryption_key_of_32_characters_or_more(tmp_path):
    stack = example_project(tmp_path).config(profiles=("kibana",))["services"]
    key = stack["kibana"]["environment"]["XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY"]
    assert len(key) >= 32 and key == env_example()["KIBANA_ENCRYPTION_KEY"]
    assert stack["kibana-setup"]["environment"]["KIBANA_ENCRYPTION_KEY"] == key
