"""The scroll and clear-scroll requests as RestSearchScrollAction and RestClearScrollAction read them:
the `scroll_id` (and `scroll`) parameters first, then the body's, which wins. The body is walked token
by token as SearchScrollRequest / ClearScrollRequest.fromXContent walk it, so a value of the wrong
kind is refused with their messages; a body that is not JSON is `Failed to parse request body`."""

from __future__ import annotations

from starlette.requests import Request

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.xcontent import XContentParser, check_json


async def _body_parser(request: Request) -> XContentParser | None:
    """A parser on the body, positioned inside its object; None without a body."""
    raw = await request.body()
    if not raw:
        return None
    try:
        check_json(raw)
    except EsError as err:  # the REST action wraps the parser's exception
        raise EsError(
            400, "illegal_argument_exception", "Failed to parse request body", caused_by=err.to_xcontent()
        ) from None
    parser = XContentParser(raw)
    if parser.next_token() != "START_OBJECT":
        raise illegal_argument("Malformed content, must start with an object")
    return parser


def _wrong(name: str | None, token: str | None) -> EsError:
    return illegal_argument(
        f"Unknown parameter [{name}] in request body or parameter is of the wrong type[{token}] "
    )


async def scroll_request(request: Request) -> tuple[str | None, str | None]:
    """(scroll_id, scroll) of a scroll request: both strings in the body, or the parameters'."""
    scroll_id = request.path_params.get("scroll_id") or request.query_params.get("scroll_id")
    scroll = request.query_params.get("scroll")
    parser = await _body_parser(request)
    name = None
    while parser is not None and (token := parser.next_token()) not in ("END_OBJECT", None):
        if token == "FIELD_NAME":
            name = parser.name
        elif name == "scroll_id" and token == "VALUE_STRING":
            scroll_id = parser.text()
        elif name == "scroll" and token == "VALUE_STRING":
            scroll = parser.text()
        else:
            raise _wrong(name, token)
    return scroll_id, scroll


async def clear_scroll_ids(request: Request) -> list[str]:
    """The ids a clear-scroll request names: the parameter's, comma separated, unless there is a body,
    whose `scroll_id` (a string, a number or a boolean, or an array of them) replaces them."""
    param = request.path_params.get("scroll_id") or request.query_params.get("scroll_id") or ""
    ids = param.split(",") if param else []
    while ids and not ids[-1]:  # as Java's String.split drops trailing empty strings
        ids.pop()
    parser = await _body_parser(request)
    if parser is None:
        return ids
    ids, name = [], None
    while (token := parser.next_token()) not in ("END_OBJECT", None):
        if token == "FIELD_NAME":
            name = parser.name
        elif name != "scroll_id":
            raise _wrong(name, token)
        elif token == "START_ARRAY":
            while parser.next_token() != "END_ARRAY":
                if not parser.is_value:
                    raise illegal_argument("scroll_id array element should only contain scroll_id")
                ids.append(parser.text())
        elif parser.is_value:
            ids.append(parser.text())
        else:
            raise illegal_argument("scroll_id element should only contain scroll_id")
    return ids
