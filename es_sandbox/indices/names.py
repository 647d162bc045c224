"""Index and alias names: Elasticsearch's rules (MetadataCreateIndexService.validateIndexOrAliasName)
and the ids the store hands out."""

from __future__ import annotations

import base64
import os
import time

from es_sandbox.errors import EsError

MAX_INDEX_NAME_BYTES = 255
# Strings.INVALID_FILENAME_CHARS as Elasticsearch prints it.
INVALID_FILENAME_CHARS = '[ , ", *, \\, <, |, ,, >, /, ?]'
_INVALID_CHARS = set(' "*\\<|,>/?')


def random_id(n_bytes: int = 15) -> str:
    """URL-safe base64 ids: 15 random bytes give Elasticsearch's 20-character auto ids."""
    return base64.urlsafe_b64encode(os.urandom(n_bytes)).decode().rstrip("=")


def now_ms() -> int:
    return int(time.time() * 1000)


def invalid_index_name(name: str, reason: str) -> EsError:
    return EsError(
        400,
        "invalid_index_name_exception",
        f"Invalid index name [{name}], {reason}",
        extra={"index_uuid": "_na_", "index": name},
    )


def invalid_alias_name(alias: str, reason: str) -> EsError:
    return EsError(
        400,
        "invalid_alias_name_exception",
        f"Invalid alias name [{alias}]{reason}",
        extra={"index_uuid": "_na_", "index": alias},
    )


def name_problem(name: str) -> str | None:
    """What is wrong with an index or alias name, in Elasticsearch's order (None: nothing)."""
    if not name:
        return "must not be empty"
    if any(c in _INVALID_CHARS for c in name):
        return f"must not contain the following characters {INVALID_FILENAME_CHARS}"
    if "#" in name:
        return "must not contain '#'"
    if ":" in name:
        return "must not contain ':'"
    if name[0] in "_-+":
        return "must not start with '_', '-', or '+'"
    size = len(name.encode())
    if size > MAX_INDEX_NAME_BYTES:
        return f"index name is too long, ({size} > {MAX_INDEX_NAME_BYTES})"
    if name in (".", ".."):
        return "must not be '.' or '..'"
    return None


def validate_index_name(name: str) -> None:
    problem = name_problem(name) or ("must be lowercase" if name.lower() != name else None)
    if problem:
        raise invalid_index_name(name, problem)
