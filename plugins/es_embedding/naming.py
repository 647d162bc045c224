"""Names this package gives to what it creates, and the checks of names users give it."""

from __future__ import annotations

import re
from datetime import datetime

MANAGED_BY = "es_embedding"
_INVALID_CHARS = re.compile(r'[\\/*?"<>| ,#:A-Z]')


def index_name_problem(name: str) -> str | None:
    """Why `name` cannot be an Elasticsearch index or alias name, or None."""
    if not name:
        return "it is empty"
    if name in (".", ".."):
        return "'.' and '..' are reserved"
    if name[0] in "-_+":
        return "it may not start with '-', '_' or '+'"
    if bad := sorted(set(_INVALID_CHARS.findall(name))):
        return (
            f'it contains {", ".join(repr(c) for c in bad)} (lowercase only; no \\ / * ? " < > | space , # :)'
        )
    if len(name.encode()) > 255:
        return "it is longer than 255 bytes"
    return None


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def dest_index_name(source_index: str, model_id: str, run_after: datetime) -> str:
    """`<source>-<model>-<run time>`: unique per run (a manual run has no logical date, but always a
    run_after), the same on every retry of that run."""
    stamp = run_after.strftime("%Y%m%dt%H%M%S")
    return f"{source_index}-{slug(model_id)}-{stamp}"


def default_alias(source_index: str) -> str:
    return f"{source_index}-embedded"
