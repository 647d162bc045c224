"""Parsing and validation of document write requests as Elasticsearch 9 does them.

`_bulk` bodies (BulkRequestParser): NDJSON action lines, each but a delete followed by its source
line; a malformed action line fails the whole request with ES's texts (`Malformed action/metadata
line [n], expected ...`, `Action/metadata line [n] contains an unknown parameter [x]`). The source of
an index/create item is parsed where ES parses it, on the shard: a bad one fails that item alone
(bulk_source_error). An update's body is parsed with the request.

Then every request is validated (IndexRequest/DeleteRequest/UpdateRequest.validate), and a bulk
with any problem is refused whole: `Validation Failed: 1: ...;2: ...;`.
"""

from __future__ import annotations

import json
from typing import Any

from es_sandbox.documents.writes import MAX_ID_BYTES, OPS, BulkAction
from es_sandbox.errors import EsError, illegal_argument, validation_failed
from es_sandbox.xcontent import text, token

VERSION_TYPES = ("internal", "external", "external_gte")
UPDATE_FIELDS = ("doc", "upsert", "doc_as_upsert", "detect_noop", "scripted_upsert", "_source", "script")
# Action line parameters whose value is a string, a number or a boolean (JSON null means absent).
_SIMPLE = {
    "_index",
    "_id",
    "routing",
    "op_type",
    "version",
    "version_type",
    "if_seq_no",
    "if_primary_term",
    "retry_on_conflict",
    "pipeline",
    "_source",
    "require_alias",
    "require_data_stream",
    "list_executed_pipelines",
}
_OBJECTS = {"_source", "dynamic_templates"}


def _first_token(line: str) -> str | None:
    """The first token of a line that is not an object, without parsing the rest (ES streams)."""
    head = line.lstrip()[:1]
    if head == "[":
        return "START_ARRAY"
    if head == '"':
        return "VALUE_STRING"
    if head in ("t", "f"):
        return "VALUE_BOOLEAN"
    if head == "n":
        return "VALUE_NULL"
    if head and (head.isdigit() or head == "-"):
        return "VALUE_NUMBER"
    return None


def _json(line: str) -> tuple[Any, str]:
    """The first JSON value of a line and what follows it; a syntax error is ES's parse exception."""
    stripped = line.strip()
    try:
        value, end = json.JSONDecoder().raw_decode(stripped)
    except json.JSONDecodeError as err:
        raise EsError(400, "x_content_parse_exception", f"[1:{err.colno}] {err.msg}") from None
    return value, stripped[end:].strip()


def _long(value: Any) -> int:
    """XContentParser.longValue(): numbers, or strings holding one (coerced)."""
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except ValueError:
        raise EsError(400, "number_format_exception", f'For input string: "{text(value)}"') from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise illegal_argument(f"Failed to parse value [{text(value)}] as only [true] or [false] are allowed.")


def _malformed(line_no: int, problem: str) -> EsError:
    return illegal_argument(f"Malformed action/metadata line [{line_no}], {problem}")


def _action_line(raw: str, line_no: int, strict: bool) -> tuple[str, dict[str, Any]]:
    """(action, parameters) of one action line, or ES's error for it."""
    first = _first_token(raw)
    if first is not None:
        raise _malformed(line_no, f"expected START_OBJECT but found [{first}]")
    header, rest = _json(raw)
    if not isinstance(header, dict):
        raise _malformed(line_no, f"expected START_OBJECT but found [{token(header)}]")
    if not header:
        raise _malformed(line_no, "expected FIELD_NAME but found [END_OBJECT]")
    op, meta = next(iter(header.items()))
    if op not in OPS:
        raise _malformed(line_no, f"expected field [create], [delete], [index] or [update] but found [{op}]")
    if not isinstance(meta, dict):
        raise _malformed(line_no, f"expected START_OBJECT or END_OBJECT but found [{token(meta)}]")
    for key, value in meta.items():
        if isinstance(value, list):
            raise _malformed(line_no, f"expected a simple value for field [{key}] but found [START_ARRAY]")
        if isinstance(value, dict):
            if key not in _OBJECTS:
                raise _malformed(
                    line_no, f"expected a simple value for field [{key}] but found [START_OBJECT]"
                )
        elif value is not None and key not in _SIMPLE:
            raise illegal_argument(f"Action/metadata line [{line_no}] contains an unknown parameter [{key}]")
    if strict and len(header) > 1:
        raise _malformed(line_no, "expected END_OBJECT but found [FIELD_NAME]")
    if strict and rest:
        raise _malformed(line_no, "unexpected data after the closing brace")
    return op, {k: v for k, v in meta.items() if v is not None}


def update_body(raw: str) -> dict[str, Any]:
    """UpdateRequest.fromXContent: an object of the update's known fields."""
    body, _ = _json(raw)
    if not isinstance(body, dict):
        raise EsError(
            400,
            "x_content_parse_exception",
            "[1:1] [UpdateRequest] Expected START_OBJECT but was: " + token(body),
        )
    for key in body:
        if key not in UPDATE_FIELDS:
            column = raw.find(f'"{key}"') + 1
            raise EsError(
                400, "x_content_parse_exception", f"[1:{column}] [UpdateRequest] unknown field [{key}]"
            )
    return body


def parse_source(raw: str) -> tuple[dict[str, Any] | None, EsError | None]:
    """An index/create source line, parsed as the shard parses it: the document, or the item's error."""
    try:
        value, rest = _json(raw)
    except EsError as err:
        return None, EsError(400, "document_parsing_exception", err.reason)
    if not isinstance(value, dict):
        return None, EsError(
            400,
            "document_parsing_exception",
            "[1:1] failed to parse: Malformed content, must start with an object",
        )
    if rest:
        return None, EsError(
            400,
            "document_parsing_exception",
            f"[1:{len(raw) - len(rest) + 1}] failed to parse: Malformed content, found extra data after parsing",
        )
    return value, None


def parse_bulk(
    raw: bytes,
    default_index: str | None,
    *,
    pipeline: str | None = None,
    require_alias: bool | None = None,
    strict: bool = True,
) -> list[BulkAction]:
    """The actions of a `_bulk` body; `strict` is false for compatible-with=8 requests, whose action
    lines may carry extra keys or trailing data (ignored with a deprecation in ES)."""
    if raw and not raw.endswith(b"\n") and raw.strip():
        raise illegal_argument("The bulk request must be terminated by a newline [\\n]")
    lines = raw.decode("utf-8", errors="replace").split("\n")[:-1] if raw else []
    actions: list[BulkAction] = []
    i = 0
    while i < len(lines):
        line_no = i + 1
        line = lines[i].removesuffix("\r")
        i += 1
        if not line.strip():
            continue
        op, meta = _action_line(line, line_no, strict)
        item_pipeline = meta.get("pipeline", pipeline)
        action = BulkAction(
            op=op,
            index=text(meta["_index"]) if "_index" in meta else default_index,
            id=text(meta["_id"]) if "_id" in meta else None,
            pipeline=None if item_pipeline is None else text(item_pipeline),
            if_seq_no=_long(meta["if_seq_no"]) if "if_seq_no" in meta else None,
            if_primary_term=_long(meta["if_primary_term"]) if "if_primary_term" in meta else None,
            version=_long(meta["version"]) if "version" in meta else None,
            version_type=_version_type(meta.get("version_type")),
            require_alias=_boolean(meta["require_alias"]) if "require_alias" in meta else bool(require_alias),
        )
        if op == "index" and text(meta.get("op_type", "index")) == "create":
            action.op = "create"
        if "dynamic_templates" in meta and op in ("delete", "update"):
            kind = "Delete" if op == "delete" else "Update"
            raise illegal_argument(f"{kind} request in line [{line_no}] does not accept dynamic_templates")
        if op == "update":
            if action.version is not None or action.version_type not in (None, "internal"):
                raise illegal_argument(
                    "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead"
                )
            if "require_data_stream" in meta and _boolean(meta["require_data_stream"]):
                raise illegal_argument(
                    "Update requests do not support the `require_data_stream` flag, as data streams do not support "
                    "update operations"
                )
        if op == "delete":
            action.require_alias = False
            actions.append(action)
            continue
        if i >= len(lines):
            break  # an action without its source line is dropped, as ES's parser drops it
        source_line = lines[i].removesuffix("\r")
        i += 1
        if op == "update":
            action.source = update_body(source_line)
        else:
            action.source, action.source_error = parse_source(source_line)
        actions.append(action)
    problems = [problem for action in actions for problem in validate(action)]
    if not actions:
        problems.insert(0, "no requests added")
    if problems:
        raise validation_failed(*problems)
    return actions


def _version_type(value: Any) -> str | None:
    if value is None:
        return None
    name = text(value)
    if name not in VERSION_TYPES:
        raise illegal_argument(f"No version type match [{name}]")
    return name


def validate(action: BulkAction) -> list[str]:
    """IndexRequest / DeleteRequest / UpdateRequest.validate: the problems of one request."""
    problems = []
    if action.index is None:
        problems.append("index is missing")
    version_type = action.version_type or "internal"
    if action.op in ("index", "create"):
        if action.op == "create":
            if version_type != "internal":
                problems.append("create operations only support internal versioning. use index instead")
            if action.if_seq_no is not None:
                problems.append("create operations do not support compare and set. use index instead")
        if action.id is None and (version_type != "internal" or action.version is not None):
            problems.append("an id must be provided if version type or value are set")
    elif not action.id:
        problems.append("id is missing")
    if action.op == "update":
        body = action.source or {}
        if "script" not in body and "doc" not in body:
            problems.append("script or doc is missing")
        if "script" in body and "doc" in body:
            problems.append("can't provide both script and doc")
        if "doc" not in body and body.get("doc_as_upsert"):
            problems.append("doc must be specified if doc_as_upsert is enabled")
    problems += _cas_problems(action, version_type)
    if action.id is not None and len(action.id.encode()) > MAX_ID_BYTES:
        problems.append(
            f"id [{action.id}] is too long, must be no longer than {MAX_ID_BYTES} bytes but was: "
            f"{len(action.id.encode())}"
        )
    if action.op in ("index", "create") and action.pipeline == "":
        problems.append("pipeline cannot be an empty string")
    return problems


def _cas_problems(action: BulkAction, version_type: str) -> list[str]:
    """DocWriteRequest.validateSeqNoBasedCASParams."""
    problems = []
    version = action.version
    if version is not None and version_type != "internal" and version < 0:
        problems.append(f"illegal version value [{version}] for version type [{version_type.upper()}]")
    if version_type == "internal" and version is not None and version not in (-3, -4):
        problems.append(
            "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and "
            "`if_primary_term` instead"
        )
    if action.if_seq_no is not None and (version_type != "internal" or version is not None):
        problems.append("compare and write operations can not use versioning")
    if action.if_primary_term is None and action.if_seq_no is not None:
        problems.append("ifSeqNo is set, but primary term is [0]")
    if action.if_primary_term not in (None, 0) and action.if_seq_no is None:
        problems.append(f"ifSeqNo is unassigned, but primary term is [{action.if_primary_term}]")
    return problems
