"""Request bodies read the way Elasticsearch's XContentParser reads them: Jackson's tokens in order
(es_sandbox/jackson.py), their locations, and the typed accessors (`intValue`, `booleanValue`, `text`,
...) with the coercions and the errors ES answers with when a value is of the wrong kind.

`read_json` is the one way a body becomes a value: what ES's `parser.map()` makes of it (the first
value; comments allowed; duplicate keys, NaN, Infinity and the other non-standard forms refused with
Jackson's messages). The parsers that ES writes as token loops (bulk action lines, clear scroll,
scroll, multi get, the scalar options of a search) walk an `XContentParser` instead, so that a value of
an unexpected kind fails where and as ES fails it.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from es_sandbox import java
from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.jackson import JsonError, Lexer

VALUE_TOKENS = frozenset({"VALUE_STRING", "VALUE_NUMBER", "VALUE_BOOLEAN"})
_INT_RANGE = (java.INT_MIN, java.INT_MAX)
_LONG_RANGE = (java.LONG_MIN, java.LONG_MAX)


def token(value: Any) -> str:
    """The token a parsed JSON value starts with, as ES names it in its messages."""
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if isinstance(value, int | float):
        return "VALUE_NUMBER"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_STRING"


def text(value: Any) -> str:
    """XContentParser.text() of a parsed scalar: what Java prints for it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_java_double(value: str) -> float:
    """java.lang.Double.parseDouble of a string value, or the NumberFormatException ES answers with."""
    number = java.parse_java_double(value)
    if number is not None:
        return number
    if not value.strip(java.JAVA_TRIMMED):
        raise EsError(400, "number_format_exception", "empty String")
    raise EsError(400, "number_format_exception", f'For input string: "{value}"')


class _NotPlainJson(Exception):
    """What Python's json reads and Jackson (as ES configures it) does not: the exact parser decides."""


def _refuse_constant(_: str) -> Any:
    raise _NotPlainJson


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _NotPlainJson
    return value


_PLAIN = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
_LEADING_SPACE = re.compile(r"[ \t\n\r]*")


def read_plain(raw: bytes) -> tuple[Any, str] | None:
    """The first value of a body and the text after it, when Python's json reads it as Jackson would
    (plain JSON: no comment, no duplicate key, no non-standard token, UTF-8); None otherwise, for the
    exact parser to decide. The fast path of every reader here."""
    try:
        text = raw.decode("utf-8")
        start = _LEADING_SPACE.match(text).end()  # type: ignore[union-attr]
        if start == len(text):
            return None
        value, end = _PLAIN.raw_decode(text, start)
    except (ValueError, _NotPlainJson, RecursionError):
        return None
    return value, text[end:]


def read_json(raw: bytes | str, *, include_source: bool = True) -> Any:
    """The first JSON value of a body, as `parser.map()` / `parser.list()` read it (what follows it is
    not read, as ES does not read it); None for a body without any token. A body Jackson refuses is the
    x_content_parse_exception (or x_content_e_o_f_exception) ES answers with."""
    data = raw.encode() if isinstance(raw, str) else raw
    plain = read_plain(data)
    if plain is not None and isinstance(plain[0], dict | list):  # a root scalar: Jackson checks what follows
        return plain[0]
    parser = XContentParser(data, include_source=include_source)
    if parser.next_token() is None:
        return None
    return parser.read_value()


def check_json(raw: bytes | str) -> None:
    """A body's first value read whole, for the parsers that then walk it: Jackson's error otherwise."""
    read_json(raw)


def value_parser(value: Any) -> XContentParser:
    """A parser standing on one value already parsed from a body, to read it with the typed accessors
    (as ObjectParser reads a declared field)."""
    parser = XContentParser(json.dumps(value))
    parser.next_token()
    return parser


_ES_TOKENS = {
    "VALUE_NUMBER_INT": "VALUE_NUMBER",
    "VALUE_NUMBER_FLOAT": "VALUE_NUMBER",
    "VALUE_TRUE": "VALUE_BOOLEAN",
    "VALUE_FALSE": "VALUE_BOOLEAN",
}


class XContentParser:
    """ES's XContentParser over one JSON text: the tokens as ES names them, `name` on a FIELD_NAME,
    `value` on a value token, and Jackson's errors as ES wraps them."""

    def __init__(self, raw: bytes | str, *, include_source: bool = True) -> None:
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else _as_utf8(raw)
        self._lexer = Lexer(data, include_source=include_source)
        self.token: str | None = None
        self.name: str | None = None

    # -- the stream --
    def next_token(self) -> str | None:
        """nextToken(): a JsonEOFException is ES's XContentEOFException, any other Jackson error its
        XContentParseException."""
        try:
            jackson = self._lexer.next_token()
        except JsonError as err:
            raise err.es_error(eof=True) from None
        self.token = None if jackson is None else _ES_TOKENS.get(jackson, jackson)
        self.name = self._lexer.current_name if jackson == "FIELD_NAME" else None
        return self.token

    def skip_children(self) -> None:
        """On a START_OBJECT or START_ARRAY: move to its matching end."""
        try:
            self._lexer.skip_children()
        except JsonError as err:
            raise err.es_error(eof=True) from None
        self.token = _ES_TOKENS.get(self._lexer.token or "", self._lexer.token)

    @property
    def value(self) -> Any:
        """The current value token's value (a string read now, as getText() reads it)."""
        lexer = self._lexer
        if self.token == "VALUE_STRING":
            try:
                return lexer.string_value()
            except JsonError as err:
                raise err.es_error() from None
        if self.token == "VALUE_NUMBER":
            return float(lexer.number) if lexer.token == "VALUE_NUMBER_FLOAT" else int(lexer.number)
        if self.token == "VALUE_BOOLEAN":
            return lexer.token == "VALUE_TRUE"
        return None

    def read_value(self) -> Any:
        """map()/list()/objectText() of the value the parser stands on (without recursion: a body may
        nest up to Jackson's limit)."""
        open_: list[list[Any]] = []  # each container being read, and the field its next value goes to
        while True:
            token = self.token
            if token == "FIELD_NAME":
                open_[-1][1] = self.name
            elif token in ("START_OBJECT", "START_ARRAY"):
                open_.append([{} if token == "START_OBJECT" else [], None])
            else:
                done = open_.pop()[0] if token in ("END_OBJECT", "END_ARRAY") else self.value
                if not open_:
                    return done
                container, field = open_[-1]
                if isinstance(container, dict):
                    container[field] = done
                else:
                    container.append(done)
            self.next_token()

    @property
    def is_value(self) -> bool:
        """Token.isValue(): a string, a number or a boolean (not null, not a container)."""
        return self.token in VALUE_TOKENS

    # -- locations --
    @property
    def token_location(self) -> str:
        """Where the current token starts (getTokenLocation)."""
        line, column = self._lexer.token_location()
        return f"{line}:{column}"

    @property
    def current_location(self) -> str:
        """Where the stream stands, just past the current token (where Jackson reports its own errors)."""
        line, column = self._lexer.current_location()
        return f"{line}:{column}"

    def _jackson_error(self, message: str, kind: str = "json_parse_exception") -> EsError:
        return self._lexer.error(message, kind=kind).es_error()

    def _jackson_token(self) -> str:
        return str(self._lexer.token)

    # -- the typed accessors --
    def text(self) -> str:
        """The current value's text (a number as the body spells it)."""
        if not self.is_value:
            raise illegal_argument(f"Expected text at {self.token_location} but found {self.token}")
        if self.token == "VALUE_NUMBER":
            return self._lexer.number
        if self.token == "VALUE_BOOLEAN":
            return "true" if self.value else "false"
        return self.value

    def int_value(self) -> int:
        """intValue(): a number (its fraction dropped), or a string holding one."""
        if self.token == "VALUE_STRING":
            number = parse_java_double(self.value)
            if not math.isnan(number) and not _INT_RANGE[0] <= number <= _INT_RANGE[1]:
                raise illegal_argument(f"Value [{self.value}] is out of range for an integer")
            return 0 if math.isnan(number) else int(number)
        return self._number_in("int", _INT_RANGE)

    def long_value(self) -> int:
        """longValue(): a number (its fraction dropped), or a string holding an integral one."""
        if self.token == "VALUE_STRING":
            return _string_to_long(self.value)
        return self._number_in("long", _LONG_RANGE)

    def float_value(self) -> float:
        """floatValue(): a number, or a string holding one."""
        if self.token == "VALUE_STRING":
            return parse_java_double(self.value)
        self._require_number()
        return float(self.value)

    def boolean_value(self) -> bool:
        """booleanValue(): true or false, or the strings "true" and "false" (an empty one is false)."""
        if self.token == "VALUE_STRING":
            if self.value in ("", "false", "true"):
                return self.value == "true"
            raise illegal_argument(
                f"Failed to parse value [{self.value}] as only [true] or [false] are allowed."
            )
        if self.token != "VALUE_BOOLEAN":
            raise self._jackson_error(f"Current token ({self._jackson_token()}) not of boolean type")
        return bool(self.value)

    def _require_number(self) -> None:
        if self.token != "VALUE_NUMBER":
            raise self._jackson_error(
                f"Current token ({self._jackson_token()}) not numeric, can not use numeric value accessors"
            )

    def _number_in(self, kind: str, bounds: tuple[int, int]) -> int:
        self._require_number()
        value = self.value
        if not bounds[0] <= value <= bounds[1]:
            raise self._jackson_error(
                f"Numeric value ({self._lexer.number}) out of range of {kind} ({bounds[0]} - {bounds[1]})",
                "input_coercion_exception",
            )
        return int(value)


def _as_utf8(raw: bytes) -> bytes:
    """ByteSourceJsonBootstrapper: a UTF-16 or UTF-32 body (by its BOM or its zero bytes) read as the
    UTF-8 text it is; anything else is taken as UTF-8."""
    if (
        raw[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")
        or raw[:2] in (b"\xfe\xff", b"\xff\xfe")
        or (len(raw) >= 2 and 0 in raw[:2])
    ):
        try:
            return raw.decode(json.detect_encoding(raw)).encode("utf-8", "surrogatepass")
        except (UnicodeDecodeError, LookupError):
            return raw
    return raw


def _string_to_long(value: str) -> int:
    """AbstractXContentParser.toLong with coercion: a decimal's fraction dropped, the range checked."""
    if not re.fullmatch(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", value):
        raise illegal_argument(f'For input string: "{value}"')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise illegal_argument(f'For input string: "{value}"') from None
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite decimal
    if exponent > 19:  # more than a long's 19 digits of zeros
        raise illegal_argument(f"Value [{value}] is out of range for a long")
    whole = 0 if exponent < -19 else int(number)
    if not _LONG_RANGE[0] <= whole <= _LONG_RANGE[1]:
        raise illegal_argument(f"Value [{value}] is out of range for a long")
    return whole
