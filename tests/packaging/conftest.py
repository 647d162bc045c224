"""The package es-embedding-airflow as a user gets it: its wheel, built from exactly the files the
Dockerfile copies into the image, installed into a virtual environment of its own that has no
plugins folder and no repository on its path.

A fresh `pip install` of Airflow takes minutes, so the environment borrows the dependencies
already installed in this interpreter's site-packages (one `.pth` line) and gets only the wheel
installed into it (`pip install --no-deps`); `pip check` there then verifies that the wheel's
declared dependencies are satisfied by what it borrows. Its subprocesses get an environment
without PYTHONPATH, so `es_embedding` can only come from the installed wheel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dockerfile_copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY of the Dockerfile."""
    copies = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            words = [word for word in line.split()[1:] if not word.startswith("--")]
            copies.append((words[:-1], words[-1]))
    return copies


def package_sources(target: Path) -> Path:
    """The files the Dockerfile copies for the package, laid out as in the image, under `target`."""
    (_, package_dir) = next(
        (sources, dest) for sources, dest in dockerfile_copies() if "pyproject.toml" in sources
    )
    package_dir = package_dir.rstrip("/")
    for sources, dest in dockerfile_copies():
        if not dest.startswith(package_dir):
            continue
        where = target / dest[len(package_dir) :].lstrip("/")
        for source in sources:
            path = ROOT / source
            if path.is_dir():
                shutil.copytree(path, where, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                where.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, where / path.name)
    return target


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    sources = package_sources(tmp_path_factory.mktemp("image") / "opt-es-embedding")
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(sources),
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = dist.glob("*.whl")
    return path


@dataclass
class InstalledEnv:
    python: Path
    site_packages: Path
    home: Path
    env: dict[str, str]

    def run(self, *args: str, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
        """`python ARGS` there, in the Airflow home (so no repository directory is on its path)."""
        return subprocess.run(
            [str(self.python), *args],
            cwd=self.home,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory) -> InstalledEnv:
    """A virtual environment with the wheel installed, no plugins folder, and an Airflow home."""
    root = tmp_path_factory.mktemp("installed")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    home = root / "airflow"
    (home / "plugins").mkdir(parents=True)  # empty: the library must come from the package
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AIRFLOW") and key != "PYTHONPATH"
    }
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        }
    )
    return InstalledEnv(python=python, site_packages=site, home=home, env=env)


def version_of_library() -> str:
    text = (ROOT / "plugins" / "es_embedding" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"$', text, re.M).group(1)
