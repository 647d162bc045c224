"""The `_mget` body as MultiGetRequest.add reads it: `docs` (objects naming a document each) and
`ids` (the documents of the path's index), walked token by token, so a value of the wrong kind is
refused where and as ES refuses it; then MultiGetRequest.validate's per-document checks."""

from __future__ import annotations

from dataclasses import dataclass, replace

from es_sandbox.errors import EsError, illegal_argument, parse_error, validation_failed
from es_sandbox.search import SourceFilter
from es_sandbox.xcontent import XContentParser

VERSION_TYPES = ("internal", "external", "external_gt", "external_gte")


@dataclass
class GetItem:
    """One document to get. `source` is the item's own `_source` filter; None means the request's
    default, from its URI parameters."""

    index: str | None
    id: str | None
    routing: str | None = None
    stored_fields: list[str] | None = None
    version: int = -3  # Versions.MATCH_ANY
    version_type: str = "internal"
    source: SourceFilter | None = None


def parse_mget(
    raw: bytes, default_index: str | None, default_routing: str | None, *, include_source: bool = True
) -> list[GetItem]:
    parser = XContentParser(raw, include_source=include_source)
    items: list[GetItem] = []
    if (token := parser.next_token()) != "START_OBJECT":
        raise parse_error(f"unexpected token [{token or 'null'}], expected [START_OBJECT]")
    name = None
    while (token := parser.next_token()) not in ("END_OBJECT", None):
        if token == "FIELD_NAME":
            name = parser.name
        elif token != "START_ARRAY":
            raise parse_error(f"unexpected token [{token}], expected [FIELD_NAME] or [START_ARRAY]")
        elif name == "docs":
            _docs(parser, items, default_index, default_routing)
        elif name == "ids":
            while parser.next_token() != "END_ARRAY":
                if not parser.is_value:
                    raise illegal_argument("ids array element should only contain ids")
                items.append(GetItem(default_index, parser.text(), routing=default_routing))
        else:
            raise parse_error(f"unknown key [{name}] for a START_ARRAY, expected [docs] or [ids]")
    problems = [
        problem
        for n, item in enumerate(items)
        for problem in (
            f"index is missing for doc {n}" if item.index is None else None,
            f"id is missing for doc {n}" if item.id is None else None,
        )
        if problem
    ]
    if not items:
        problems = ["no documents to get"]
    if problems:
        raise validation_failed(*problems)
    return items


def _docs(
    parser: XContentParser, items: list[GetItem], default_index: str | None, default_routing: str | None
) -> None:
    """parseDocuments: each element an object; a value under a name it does not know is an error,
    an array or object under such a name is walked through (as ES's token loop does)."""
    name = None
    while (token := parser.next_token()) != "END_ARRAY":
        if token != "START_OBJECT":
            raise illegal_argument("docs array element should include an object")
        item = GetItem(default_index, None, routing=default_routing)
        while (token := parser.next_token()) != "END_OBJECT":
            if token == "FIELD_NAME":
                name = parser.name
            elif parser.is_value:
                _doc_value(parser, item, name)
            elif token == "START_ARRAY" and name == "fields":
                raise _unsupported_fields()
            elif token == "START_ARRAY" and name == "stored_fields":
                item.stored_fields = _texts(parser)
            elif token == "START_ARRAY" and name == "_source":
                item.source = replace(item.source or SourceFilter(), includes=tuple(_texts(parser)))
            elif token == "START_OBJECT" and name == "_source":
                includes, excludes = _source_definition(parser)
                item.source = replace(item.source or SourceFilter(), includes=includes, excludes=excludes)
        items.append(item)


def _doc_value(parser: XContentParser, item: GetItem, name: str | None) -> None:
    if name == "_index":
        item.index = parser.text()
    elif name == "_id":
        item.id = parser.text()
    elif name == "routing":
        item.routing = parser.text()
    elif name == "fields":
        raise _unsupported_fields()
    elif name == "stored_fields":
        item.stored_fields = [parser.text()]
    elif name == "version":
        item.version = parser.long_value()
    elif name == "version_type":
        if parser.text() not in VERSION_TYPES:
            raise illegal_argument(f"No version type match [{parser.text()}]")
        item.version_type = parser.text()
    elif name == "_source":
        source = item.source or SourceFilter()
        if parser.token == "VALUE_BOOLEAN" or parser.text() in ("true", "false"):
            item.source = replace(source, enabled=parser.text() == "true")
        elif parser.token == "VALUE_STRING":
            item.source = replace(source, includes=(parser.text(),))
        else:
            raise EsError(400, "parse_exception", f"illegal type for _source: [{parser.token}]")
    else:
        raise EsError(400, "parse_exception", f"failed to parse multi get request. unknown field [{name}]")


def _source_definition(parser: XContentParser) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(includes, excludes) of a `_source` object."""
    lists: dict[str, list[str]] = {}
    current: list[str] = []
    while (token := parser.next_token()) != "END_OBJECT":
        if token == "FIELD_NAME":
            if parser.name in ("includes", "include"):
                current = lists.setdefault("includes", [])
            elif parser.name in ("excludes", "exclude"):
                current = lists.setdefault("excludes", [])
            else:  # ES reads the offending name with text(), which a field name is not
                parser.text()
        elif token == "START_ARRAY":
            current.extend(_texts(parser))
        elif parser.is_value:
            current.append(parser.text())
        else:
            raise EsError(400, "parse_exception", "unexpected token while parsing source settings")
    return tuple(lists.get("includes", ())), tuple(lists.get("excludes", ()))


def _texts(parser: XContentParser) -> list[str]:
    """The elements of the array the parser is on, each read with text()."""
    out = []
    while parser.next_token() != "END_ARRAY":
        out.append(parser.text())
    return out


def _unsupported_fields() -> EsError:
    return parse_error("Unsupported field [fields] used, expected [stored_fields] instead")
