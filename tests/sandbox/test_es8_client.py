"""The elasticsearch8 client against the sandbox: it works against the 8.x mode and against the 9.x mode
(9 accepts compatible-with=8), while the 9.x client is refused by the 8.x mode as a real 8.x node does.

The 8.x client lives in its own interpreter: $ES8_PYTHON, else <repo>/.venv8/bin/python (bin/test
creates .venv8 from requirements-es8.txt)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from elasticsearch import BadRequestError, Elasticsearch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("es8_client_check.py")
CANDIDATES = [os.environ.get("ES8_PYTHON"), str(ROOT / ".venv8" / "bin" / "python")]


def es8_python() -> str:
    configured = os.environ.get("ES8_PYTHON")
    if configured and not Path(configured).exists():
        pytest.fail(
            f"ES8_PYTHON={configured} does not exist; point it at a python with elasticsearch8 installed"
        )
    for candidate in CANDIDATES:
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(
        "No interpreter with the elasticsearch8 client: set ES8_PYTHON, or create one with\n"
        f"  python -m venv {ROOT / '.venv8'} && {ROOT / '.venv8/bin/pip'} install -r {ROOT / 'requirements-es8.txt'}"
    )


def run_es8_client(url: str) -> dict:
    done = subprocess.run(
        [es8_python(), str(SCRIPT), url],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_es8_client_against_the_8x_mode(start_sandbox):
    proc = start_sandbox(version="8.19.0")
    seen = run_es8_client(proc.url)
    assert seen["client"].startswith("8.")
    assert seen["version"] == "8.19.0"
    assert seen["product"] == "Elasticsearch"
    assert seen["bulk_errors"] is False and seen["bulk_statuses"] == [201, 201]
    assert seen["hit_ids"] == ["1"]
    assert seen["total"] == {"value": 1, "relation": "eq"}
    assert seen["sparse_top"] == "2"
    assert seen["missing"] == 404
    with pytest.raises(BadRequestError) as info:
        Elasticsearch(proc.url).info()
    assert info.value.error == "media_type_header_exception"
    assert info.value.body["error"]["reason"] == "Invalid media-type value on headers [Accept, Content-Type]"
    assert info.value.body["error"]["caused_by"]["reason"] == (
        "Accept version must be either version 8 or 7, but found 9. "
        "Accept=application/vnd.elasticsearch+json; compatible-with=9"
    )


def test_es8_client_against_the_9x_mode(sandbox, es):
    seen = run_es8_client(sandbox.url)
    assert seen["version"].startswith("9.")
    assert seen["bulk_errors"] is False
    assert seen["hit_ids"] == ["1"]
    assert seen["missing"] == 404
