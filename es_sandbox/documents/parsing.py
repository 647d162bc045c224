"""Parsing and validation of document write requests as Elasticsearch 9 does them.

`_bulk` bodies (BulkRequestParser): NDJSON action lines, each but a delete followed by its source
line; each action line walked token by token with the shared reader (es_sandbox/xcontent.py), its
parameters read with XContentParser's typed accessors; a malformed one fails the whole request with
ES's texts (`Malformed action/metadata line [n], expected ...`, `Action/metadata line [n] contains an
unknown parameter [x]`, Jackson's own). The source of an index/create item is parsed where ES parses
it, on the shard (DocumentParser's document_parsing_exception): a bad one fails that item alone. An
update's body is parsed with the request (UpdateRequest's ObjectParser). Plain lines take a fast path
that gives what the walk would.

Then every request is validated (IndexRequest/DeleteRequest/UpdateRequest.validate), and a bulk
with any problem is refused whole: `Validation Failed: 1: ...;2: ...;`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from es_sandbox.documents.writes import MAX_ID_BYTES, OPS, BulkAction
from es_sandbox.errors import EsError, illegal_argument, validation_failed
from es_sandbox.java import LONG_MAX, LONG_MIN
from es_sandbox.xcontent import XContentParser, read_plain

VERSION_TYPES = ("internal", "external", "external_gte")


def _fetch_source(parser: XContentParser) -> Any:
    """FetchSourceContext.fromXContent: a boolean, a field pattern, a list of them, or an object."""
    if parser.token == "VALUE_BOOLEAN":
        return parser.boolean_value()
    if parser.token == "VALUE_STRING":
        return parser.text()
    if parser.token in ("START_ARRAY", "START_OBJECT"):
        return parser.read_value()
    line, column = parser.token_location.split(":")
    raise EsError(
        400,
        "parsing_exception",
        f"Expected one of [VALUE_BOOLEAN, START_OBJECT] but found [{parser.token}]",
        extra={"line": int(line), "col": int(column)},
    )


# How BulkRequestParser reads each action line parameter (XContentParser's typed accessors).
_ACTION_PARAMETERS: dict[str, Callable[[XContentParser], Any]] = {
    "_index": XContentParser.text,
    "_id": XContentParser.text,
    "routing": XContentParser.text,
    "op_type": XContentParser.text,
    "version": XContentParser.long_value,
    "version_type": lambda parser: _version_type(parser.text()),
    "if_seq_no": XContentParser.long_value,
    "if_primary_term": XContentParser.long_value,
    "retry_on_conflict": XContentParser.int_value,
    "pipeline": XContentParser.text,
    "_source": _fetch_source,
    "require_alias": XContentParser.boolean_value,
    "require_data_stream": XContentParser.boolean_value,
    "list_executed_pipelines": XContentParser.boolean_value,
}


# What a parameter holds when the line is plain JSON that the token walk would accept as it is.
_PLAIN_PARAMETERS: dict[str, type] = {
    "_index": str,
    "_id": str,
    "routing": str,
    "op_type": str,
    "pipeline": str,
    "version": int,
    "if_seq_no": int,
    "if_primary_term": int,
    "require_alias": bool,
    "require_data_stream": bool,
    "list_executed_pipelines": bool,
}
_LONG = (LONG_MIN, LONG_MAX)


def _plain_action(raw: bytes) -> tuple[str, dict[str, Any]] | None:
    """The common action line (one action, parameters of their own kind, nothing after it) read at C
    speed; None for anything else, which the token walk reads (and refuses) as ES does."""
    plain = read_plain(raw)
    if plain is None or plain[1].strip(" \t\r\n") or not isinstance(plain[0], dict) or len(plain[0]) != 1:
        return None
    ((op, meta),) = plain[0].items()
    if op not in OPS or not isinstance(meta, dict):
        return None
    for key, value in meta.items():
        if key == "version_type":
            if value not in VERSION_TYPES:
                return None
        elif type(value) is not _PLAIN_PARAMETERS.get(key) or (
            type(value) is int and not _LONG[0] <= value <= _LONG[1]
        ):
            return None
    return op, meta


def _malformed(line_no: int, problem: str) -> EsError:
    return illegal_argument(f"Malformed action/metadata line [{line_no}], {problem}")


def _action_line(
    raw: bytes, line_no: int, strict: bool, include_source: bool
) -> tuple[str, dict[str, Any]] | None:
    """(action, parameters) of one action line, walked as BulkRequestParser walks it (each value read
    as it comes); None for a line without any token."""
    plain = _plain_action(raw)
    if plain is not None:
        return plain
    parser = XContentParser(raw, include_source=include_source)
    token = parser.next_token()
    if token is None:
        return None
    if token != "START_OBJECT":
        raise _malformed(line_no, f"expected START_OBJECT but found [{token}]")
    if (token := parser.next_token()) != "FIELD_NAME":
        raise _malformed(line_no, f"expected FIELD_NAME but found [{token}]")
    op = str(parser.name)
    if op not in OPS:
        raise _malformed(line_no, f"expected field [create], [delete], [index] or [update] but found [{op}]")
    meta: dict[str, Any] = {}
    token = parser.next_token()
    if token == "START_OBJECT":
        key = None
        while (token := parser.next_token()) != "END_OBJECT":
            if token == "FIELD_NAME":
                key = parser.name
            elif parser.is_value:
                read = _ACTION_PARAMETERS.get(str(key))
                if read is None:
                    raise illegal_argument(
                        f"Action/metadata line [{line_no}] contains an unknown parameter [{key}]"
                    )
                meta[str(key)] = read(parser)
            elif token == "START_OBJECT" and key in ("dynamic_templates", "_source"):
                meta[key] = parser.read_value()
            elif token != "VALUE_NULL":
                raise _malformed(line_no, f"expected a simple value for field [{key}] but found [{token}]")
    elif token != "END_OBJECT":
        raise _malformed(line_no, f"expected START_OBJECT or END_OBJECT but found [{token}]")
    _check_closed(parser, line_no, strict)
    return op, meta


def _check_closed(parser: XContentParser, line_no: int, strict: bool) -> None:
    """checkBulkActionIsProperlyClosed: nothing but the closing brace after the action (a compatible-with=8
    request may leave it open, add keys or trailing data: ES logs a deprecation and ignores them)."""
    try:
        token = parser.next_token()
    except EsError as err:
        if strict or err.type != "x_content_e_o_f_exception":
            raise
        return
    if token != "END_OBJECT":
        if strict:
            raise _malformed(line_no, f"expected END_OBJECT but found [{token}]")
        return
    if parser.next_token() is not None and strict:
        raise _malformed(line_no, "unexpected data after the closing brace")


# UpdateRequest's ObjectParser: each field and the tokens it accepts.
_UPDATE_FIELDS: dict[str, tuple[str, ...]] = {
    "script": ("START_OBJECT", "VALUE_STRING"),
    "scripted_upsert": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "upsert": ("START_OBJECT",),
    "doc": ("START_OBJECT",),
    "doc_as_upsert": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "detect_noop": ("VALUE_BOOLEAN", "VALUE_STRING"),
    "_source": ("START_OBJECT", "START_ARRAY", "VALUE_BOOLEAN", "VALUE_STRING"),
    "if_seq_no": ("VALUE_NUMBER", "VALUE_STRING"),
    "if_primary_term": ("VALUE_NUMBER", "VALUE_STRING"),
}
UPDATE_FIELDS = tuple(_UPDATE_FIELDS)


def _plain_update_field(field: str, value: Any) -> bool:
    """A field the ObjectParser would take as it is (its kind, and a boolean or number as such)."""
    if field in ("doc", "upsert"):
        return isinstance(value, dict)
    if field in ("scripted_upsert", "doc_as_upsert", "detect_noop"):
        return isinstance(value, bool)
    if field in ("if_seq_no", "if_primary_term"):
        return type(value) is int and _LONG[0] <= value <= _LONG[1]
    if field == "script":
        return isinstance(value, dict | str)
    return field == "_source" and isinstance(value, bool | str | list | dict) and not _has_numbers(value)


def _has_numbers(value: Any) -> bool:
    if isinstance(value, list):
        return any(not isinstance(v, str) for v in value)
    return isinstance(value, dict)


def _update_value(parser: XContentParser, field: str) -> Any:
    if field in ("scripted_upsert", "doc_as_upsert", "detect_noop"):
        return parser.boolean_value()
    if field in ("if_seq_no", "if_primary_term"):
        return parser.long_value()
    if field == "_source":
        return _fetch_source(parser)
    return parser.read_value()


def update_body(raw: bytes, *, include_source: bool = True) -> dict[str, Any]:
    """UpdateRequest.fromXContent: an object of the update's known fields, each of the kind it takes
    (ObjectParser's texts: unknown field, values of a type the field does not support, and a value it
    cannot read as `failed to parse field`)."""
    plain = read_plain(raw)
    if (
        plain is not None
        and isinstance(plain[0], dict)
        and all(_plain_update_field(k, v) for k, v in plain[0].items())
    ):
        return plain[0]
    parser = XContentParser(raw, include_source=include_source)
    token = parser.next_token()
    if token != "START_OBJECT":
        raise EsError(
            400,
            "x_content_parse_exception",
            f"[{parser.token_location}] [UpdateRequest] Expected START_OBJECT but was: {token}",
        )
    body: dict[str, Any] = {}
    while (token := parser.next_token()) != "END_OBJECT":
        field = str(parser.name)
        if field not in _UPDATE_FIELDS:
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[{parser.token_location}] [UpdateRequest] unknown field [{field}]",
            )
        token = parser.next_token()
        if token not in _UPDATE_FIELDS[field]:
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[{parser.token_location}] [UpdateRequest] {field} doesn't support values of type: {token}",
            )
        location = parser.token_location
        try:
            body[field] = _update_value(parser, field)
        except EsError as err:
            if err.type in ("x_content_parse_exception", "x_content_e_o_f_exception"):
                raise
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[{location}] [UpdateRequest] failed to parse field [{field}]",
                caused_by=err.to_xcontent(),
            ) from None
    return body


def _document_error(location: str, message: str, cause: EsError | None = None) -> EsError:
    return EsError(
        400,
        "document_parsing_exception",
        f"[{location}] {message}",
        caused_by=None if cause is None else cause.to_xcontent(),
    )


def parse_source(raw: bytes, *, include_source: bool = True) -> tuple[dict[str, Any] | None, EsError | None]:
    """A document's source, parsed as the shard's DocumentParser parses it: the document, or the
    document_parsing_exception that fails its write (an XContentParseException from the first or the
    last token keeps its own message; one from inside the document is `failed to parse: ...`)."""
    if not raw:
        return None, EsError(400, "document_parsing_exception", "[0:0] failed to parse, document is empty")
    plain = read_plain(raw)
    if plain is not None and isinstance(plain[0], dict) and not plain[1].strip(" \t\r\n"):
        return plain[0], None
    parser = XContentParser(raw, include_source=include_source)
    try:
        token = parser.next_token()
    except EsError as err:
        return None, _document_error(err.reason.split("]", 1)[0][1:], err.reason, err)
    if token != "START_OBJECT":
        return None, _document_error(parser.token_location, "Malformed content, must start with an object")
    try:
        document = parser.read_value()
    except EsError as err:
        return None, _document_error(parser.token_location, f"failed to parse: {err.reason}", err)
    try:
        after = parser.next_token()
    except EsError as err:
        return None, _document_error(err.reason.split("]", 1)[0][1:], err.reason, err)
    if after is not None:
        return None, _document_error(
            parser.token_location, f"Malformed content, found extra data after parsing: {after}"
        )
    return document, None


def parse_bulk(
    raw: bytes,
    default_index: str | None,
    *,
    pipeline: str | None = None,
    require_alias: bool | None = None,
    strict: bool = True,
    include_source: bool = True,
) -> list[BulkAction]:
    """The actions of a `_bulk` body; `strict` is false for compatible-with=8 requests, whose action
    lines may carry extra keys or trailing data (ignored with a deprecation in ES)."""
    if raw and not raw.endswith(b"\n") and raw.strip():
        raise illegal_argument("The bulk request must be terminated by a newline [\\n]")
    lines = raw.split(b"\n")[:-1] if raw else []
    actions: list[BulkAction] = []
    i = 0
    while i < len(lines):
        line_no = i + 1
        line = lines[i]
        i += 1
        parsed = _action_line(line, line_no, strict, include_source)
        if parsed is None:
            continue
        op, meta = parsed
        action = BulkAction(
            op=op,
            index=meta.get("_index", default_index),
            id=meta.get("_id"),
            pipeline=meta.get("pipeline", pipeline),
            if_seq_no=meta.get("if_seq_no"),
            if_primary_term=meta.get("if_primary_term"),
            version=meta.get("version"),
            version_type=meta.get("version_type"),
            require_alias=meta.get("require_alias", bool(require_alias)),
        )
        if op == "index" and meta.get("op_type") == "create":
            action.op = "create"
        if "dynamic_templates" in meta and op in ("delete", "update"):
            kind = "Delete" if op == "delete" else "Update"
            raise illegal_argument(f"{kind} request in line [{line_no}] does not accept dynamic_templates")
        if op == "update":
            if action.version is not None or action.version_type not in (None, "internal"):
                raise illegal_argument(
                    "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead"
                )
            if meta.get("require_data_stream"):
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
        source_line = lines[i].removesuffix(b"\r")
        i += 1
        if op == "update":
            action.source = update_body(source_line, include_source=include_source)
        else:
            action.source, action.source_error = parse_source(source_line, include_source=include_source)
        actions.append(action)
    problems = [problem for action in actions for problem in validate(action)]
    if not actions:
        problems.insert(0, "no requests added")
    if problems:
        raise validation_failed(*problems)
    return actions


def _version_type(name: str) -> str:
    """VersionType.fromString."""
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
