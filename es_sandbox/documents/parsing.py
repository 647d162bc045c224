"""Parsing of `_bulk` bodies (BulkRequestParser): NDJSON action lines, each followed by its source
except for deletes, with Elasticsearch's error types and texts."""

from __future__ import annotations

import json
from typing import Any

from es_sandbox.documents.writes import OPS, BulkAction
from es_sandbox.errors import EsError, illegal_argument, validation_failed

_ACTION_PARAMS = {
    "_index",
    "_id",
    "pipeline",
    "if_seq_no",
    "if_primary_term",
    "version",
    "version_type",
    "routing",
    "require_alias",
    "retry_on_conflict",
    "_source",
    "op_type",
    "dynamic_templates",
    "list_executed_pipelines",
    "require_data_stream",
}


def _opt_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise illegal_argument(f"Failed to parse int parameter [{name}] with value [{value}]") from None


def parse_bulk(raw: bytes, default_index: str | None) -> list[BulkAction]:
    if not raw.strip():
        raise validation_failed("no requests added")
    if not raw.endswith(b"\n"):
        raise illegal_argument("The bulk request must be terminated by a newline [\\n]")
    lines = raw.split(b"\n")
    actions: list[BulkAction] = []
    i, missing_index = 0, 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        line_no = i
        try:
            header = json.loads(line)
        except ValueError:
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[{line_no}:1] Malformed action/metadata line [{line_no}], expected START_OBJECT",
            ) from None
        if not isinstance(header, dict) or len(header) != 1:
            raise illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT or END_OBJECT but found "
                "[VALUE_STRING]"
            )
        ((op, meta),) = header.items()
        if op not in OPS:
            raise illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected one of [create, delete, index, update] but "
                f"found [{op}]"
            )
        if not isinstance(meta, dict):
            raise illegal_argument(f"Malformed action/metadata line [{line_no}], expected START_OBJECT")
        for key in meta:
            if key not in _ACTION_PARAMS:
                raise illegal_argument(
                    f"Action/metadata line [{line_no}] contains an unknown parameter [{key}]"
                )
        index = meta.get("_index", default_index)
        if index is None:
            missing_index += 1
        doc_id = meta.get("_id")
        op_type = meta.get("op_type")
        source = None
        if op != "delete":
            while i < len(lines) and not lines[i].strip():
                i += 1
            if i >= len(lines):
                raise illegal_argument(f"Validation Failed: 1: {op} request with no source;")
            try:
                source = json.loads(lines[i])
            except ValueError:
                raise EsError(
                    400,
                    "x_content_parse_exception",
                    f"[{i + 1}:1] Failed to parse source of bulk item at line [{i + 1}]",
                ) from None
            i += 1
        actions.append(
            BulkAction(
                op="create" if op == "index" and op_type == "create" else op,
                index=index,
                id=None if doc_id is None else str(doc_id),
                source=source,
                pipeline=meta.get("pipeline"),
                if_seq_no=_opt_int(meta.get("if_seq_no"), "if_seq_no"),
                if_primary_term=_opt_int(meta.get("if_primary_term"), "if_primary_term"),
                version=_opt_int(meta.get("version"), "version"),
                version_type=meta.get("version_type"),
            )
        )
    if missing_index:
        raise validation_failed(*["index is missing"] * missing_index)
    for action in actions:
        if action.op != "index" and action.op != "create" and action.id is None:
            raise validation_failed("id is missing")
    return actions
