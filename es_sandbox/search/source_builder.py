"""The search body as SearchSourceBuilder.parseXContent reads it, token by token, for what a parsed
dict cannot tell: the scalar options converted with XContentParser's coercions (a number in a string,
a fraction dropped) and their errors at their locations, and the shape of `_source`
(FetchSourceContext.fromXContent), `search_after` (SearchAfterBuilder) and `sort`
(SortBuilder.fromXContent). The rest of the body is read from the dict (request.py)."""

from __future__ import annotations

from typing import Any

from es_sandbox.errors import EsError, illegal_argument, parse_error
from es_sandbox.xcontent import XContentParser


def _track_total_hits(parser: XContentParser) -> bool | int:
    if parser.token == "VALUE_BOOLEAN" or parser.text() in ("true", "false"):
        return parser.boolean_value()
    return parser.int_value()


# The body keys read as one scalar, and the accessor each is read with.
_SCALARS = {
    "from": XContentParser.int_value,
    "size": XContentParser.int_value,
    "terminate_after": XContentParser.int_value,
    "min_score": XContentParser.float_value,
    "track_total_hits": _track_total_hits,
    "version": XContentParser.boolean_value,
    "seq_no_primary_term": XContentParser.boolean_value,
    "explain": XContentParser.boolean_value,
    "track_scores": XContentParser.boolean_value,
    "profile": XContentParser.boolean_value,
}


def _unknown_key(token: str | None, name: str | None) -> EsError:
    return parse_error(f"Unknown key for a {token} in [{name}].")


def read_search_body(raw: bytes | str) -> dict[str, Any]:
    """The scalar options of a search body, converted; refuses a scalar given an object, an array or
    null (`Unknown key for a START_OBJECT in [from].`) and a `_source`, `search_after` or `sort` of a
    shape ES does not read."""
    parser = XContentParser(raw)
    values: dict[str, Any] = {}
    if parser.next_token() != "START_OBJECT":
        return values
    name = None
    while (token := parser.next_token()) not in ("END_OBJECT", None):
        if token == "FIELD_NAME":
            name = parser.name
        elif name in _SCALARS:
            if not parser.is_value:
                raise _unknown_key(token, name)
            values[name] = _SCALARS[name](parser)
        elif name in _SHAPES:
            if token not in _SHAPES[name][0]:
                raise _unknown_key(token, name)
            _SHAPES[name][1](parser)
        else:
            parser.skip_children()
    return values


def _fetch_source(parser: XContentParser) -> None:
    """FetchSourceContext.fromXContent: a boolean, a string, an array of texts, or an object of
    includes / excludes (a string or an array of strings) and exclude_vectors."""
    if parser.token == "VALUE_NUMBER":
        raise parse_error(
            "Expected one of [VALUE_BOOLEAN, VALUE_STRING, START_ARRAY, START_OBJECT] but found [VALUE_NUMBER]"
        )
    if parser.token == "START_ARRAY":
        while parser.next_token() != "END_ARRAY":
            parser.text()
    if parser.token != "START_OBJECT":
        return
    name = None
    while (token := parser.next_token()) != "END_OBJECT":
        lists = name in ("includes", "include", "excludes", "exclude")
        if token == "FIELD_NAME":
            name = parser.name
        elif token == "START_ARRAY" and lists:
            while (token := parser.next_token()) != "END_ARRAY":
                if token != "VALUE_STRING":
                    raise _unknown_key(token, name)
        elif token == "VALUE_STRING" and (lists or name == "exclude_vectors"):
            if name == "exclude_vectors":
                parser.boolean_value()
        elif not (token == "VALUE_BOOLEAN" and name == "exclude_vectors"):
            raise _unknown_key(token, name)


def _search_after(parser: XContentParser) -> None:
    values = 0
    while (token := parser.next_token()) != "END_ARRAY":
        if token in ("START_OBJECT", "START_ARRAY"):
            raise parse_error(
                "Expected [VALUE_STRING] or [VALUE_NUMBER] or [VALUE_BOOLEAN] or [VALUE_NULL] but found "
                f"[{token}] inside search_after."
            )
        values += 1
    if not values:
        raise illegal_argument("Values must contains at least one value.")  # sic, as ES spells it


def _sort(parser: XContentParser) -> None:
    """SortBuilder.fromXContent: a field name, an object of sorts, or an array of either."""
    if parser.token == "START_OBJECT":
        _compound_sort(parser)
    elif parser.token == "START_ARRAY":
        while (token := parser.next_token()) != "END_ARRAY":
            if token == "START_OBJECT":
                _compound_sort(parser)
            elif token != "VALUE_STRING":
                raise illegal_argument(
                    "malformed sort format, within the sort array, an object, or an actual string are allowed"
                )


def _compound_sort(parser: XContentParser) -> None:
    """Each field of a sort object: an order, or the options of a field sort (an object: ObjectParser
    reads past anything else and names the token it finds after it)."""
    while parser.next_token() == "FIELD_NAME":
        name = parser.name
        token = parser.next_token()
        if token == "VALUE_STRING":
            if parser.text().lower() not in ("asc", "desc"):
                raise illegal_argument(f"Unknown SortOrder [{parser.text()}]")
        elif token == "START_OBJECT" or name in ("_geo_distance", "_script"):
            parser.skip_children()
        else:
            after = parser.next_token()
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[{parser.token_location}] [field_sort] Expected START_OBJECT but was: {after}",
            )


_VALUES = ("VALUE_STRING", "VALUE_NUMBER", "VALUE_BOOLEAN")
# The body keys whose shape is checked here: the tokens SearchSourceBuilder accepts for each (any
# other is `Unknown key for a ...`), and the check of the value.
_SHAPES = {
    "_source": ((*_VALUES, "START_ARRAY", "START_OBJECT"), _fetch_source),
    "search_after": (("START_ARRAY",), _search_after),
    "sort": ((*_VALUES, "START_ARRAY", "START_OBJECT"), _sort),
}
