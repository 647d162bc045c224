"""Request bodies read the way Elasticsearch's XContentParser reads them: Jackson's tokens in order,
their locations, and the typed accessors (`intValue`, `booleanValue`, `text`, ...) with the coercions
and the errors ES answers with when a value is of the wrong kind.

Most endpoints look at a body as a parsed dict; the parsers that ES writes as token loops (clear
scroll, scroll, multi get, the scalar options of a search) walk an `XContentParser` instead, so that a
value of an unexpected kind fails where and as ES fails it, and messages carry Jackson's locations
(`line:column`, columns counted in bytes of the UTF-8 body, as Jackson counts them).
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from es_sandbox.errors import EsError, illegal_argument

VALUE_TOKENS = frozenset({"VALUE_STRING", "VALUE_NUMBER", "VALUE_BOOLEAN"})
_INT_RANGE = (-(2**31), 2**31 - 1)
_LONG_RANGE = (-(2**63), 2**63 - 1)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}
# java.lang.Double.parseDouble's decimal grammar (hexadecimal floats are not accepted here).
_JAVA_DOUBLE = re.compile(r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)")


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


def java_string(value: Any) -> str:
    """Object.toString() of a value ES read with parser.map(): what `nodeStringValue` makes of it."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_string(v) for v in value) + "]"
    return "null" if value is None else text(value)


def parse_java_double(value: str) -> float:
    """java.lang.Double.parseDouble: surrounding control characters and spaces ignored, an `f`/`d`
    suffix allowed; anything else is the NumberFormatException ES answers with."""
    stripped = value.strip("".join(chr(c) for c in range(33)))
    if not stripped:
        raise EsError(400, "number_format_exception", "empty String")
    if not _JAVA_DOUBLE.fullmatch(stripped):
        raise EsError(400, "number_format_exception", f'For input string: "{value}"')
    number = stripped.rstrip("fFdD")
    if number.lstrip("+-") in ("NaN", "Infinity"):
        return float(number.replace("Infinity", "inf"))
    return float(number)


def check_json(raw: bytes | str) -> None:
    """A body's JSON syntax, checked before a parser walks it: x_content_parse_exception otherwise
    (the location is ES's; the message is Python's, not Jackson's). Blank text holds no token, which
    is no syntax error: the parser walking it finds none."""
    if not raw.strip():
        return
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        raise EsError(400, "x_content_parse_exception", f"[{exc.lineno}:{exc.colno}] {exc.msg}") from None
    except ValueError as exc:  # bytes that are not text in any JSON encoding
        raise EsError(400, "x_content_parse_exception", f"[1:1] {exc}") from None


def value_parser(value: Any) -> XContentParser:
    """A parser standing on one value already parsed from a body, to read it with the typed accessors
    (as ObjectParser reads a declared field)."""
    parser = XContentParser(json.dumps(value))
    parser.next_token()
    return parser


class XContentParser:
    """Jackson's token stream over one JSON text (well formed: see check_json)."""

    def __init__(self, raw: bytes | str) -> None:
        self._text = raw.decode(json.detect_encoding(raw), "surrogatepass") if isinstance(raw, bytes) else raw
        self._pos = 0
        self._open: list[str] = []  # "{" or "[" for each container the stream is inside
        self._name_next = False  # the next string is a field name
        self.token: str | None = None
        self.name: str | None = None  # the field name, on a FIELD_NAME token
        self.value: Any = None  # the value, on a value token
        self._raw_value = ""  # the value's text as the body spells it
        self._start = self._end = 0

    # -- the stream --
    def next_token(self) -> str | None:
        text_ = self._text
        while self._pos < len(text_) and text_[self._pos] in " \t\r\n,:":
            if text_[self._pos] == "," and self._open and self._open[-1] == "{":
                self._name_next = True
            self._pos += 1
        self._start = self._pos
        if self._pos >= len(text_):
            self.token = None
            return None
        char = text_[self._pos]
        if char in "{[":
            self._open.append(char)
            self._name_next = char == "{"
            self._pos += 1
            self.token = "START_OBJECT" if char == "{" else "START_ARRAY"
        elif char in "}]":
            self._open.pop()
            self._name_next = False
            self._pos += 1
            self.token = "END_OBJECT" if char == "}" else "END_ARRAY"
        elif char == '"':
            value, self._pos = json.decoder.scanstring(text_, self._pos + 1)
            if self._name_next:
                self.token, self.name, self._name_next = "FIELD_NAME", value, False
            else:
                self.token, self.value, self._raw_value = "VALUE_STRING", value, value
        else:
            self._scalar(char)
        self._end = self._pos
        return self.token

    def _scalar(self, char: str) -> None:
        for literal, value in _LITERALS.items():
            if self._text.startswith(literal, self._pos):
                self._pos += len(literal)
                self.token = "VALUE_NULL" if value is None else "VALUE_BOOLEAN"
                self.value, self._raw_value = value, literal
                return
        match = _NUMBER.match(self._text, self._pos)
        if match is None:  # what Python's json accepts and Jackson does not: NaN and Infinity
            word = re.match(r"[-+]?[A-Za-z]+", self._text[self._pos :])
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[{self.token_location}] Non-standard token '{word.group(0) if word else char}': enable "
                "`JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow",
            )
        self._pos = match.end()
        raw = match.group(0)
        self.token, self._raw_value = "VALUE_NUMBER", raw
        self.value = float(raw) if match.group(1) or match.group(2) else int(raw)

    def skip_children(self) -> None:
        """On a START_OBJECT or START_ARRAY: move to its matching end."""
        if self.token not in ("START_OBJECT", "START_ARRAY"):
            return
        depth = len(self._open)
        while self.next_token() is not None and len(self._open) >= depth:
            pass

    @property
    def is_value(self) -> bool:
        """Token.isValue(): a string, a number or a boolean (not null, not a container)."""
        return self.token in VALUE_TOKENS

    # -- locations --
    def _location(self, offset: int) -> str:
        line_start = self._text.rfind("\n", 0, offset) + 1
        line = self._text.count("\n", 0, offset) + 1
        return f"{line}:{len(self._text[line_start:offset].encode()) + 1}"

    @property
    def token_location(self) -> str:
        """Where the current token starts (getTokenLocation)."""
        return self._location(self._start)

    @property
    def current_location(self) -> str:
        """Where the stream stands, just past the current token (where Jackson reports its own errors)."""
        return self._location(self._end)

    def _jackson_error(self, message: str) -> EsError:
        return EsError(400, "x_content_parse_exception", f"[{self.current_location}] {message}")

    def _jackson_token(self) -> str:
        if self.token == "VALUE_BOOLEAN":
            return "VALUE_TRUE" if self.value else "VALUE_FALSE"
        if self.token == "VALUE_NUMBER":
            return "VALUE_NUMBER_FLOAT" if isinstance(self.value, float) else "VALUE_NUMBER_INT"
        return str(self.token)

    # -- the typed accessors --
    def text(self) -> str:
        """The current value's text (a number as the body spells it)."""
        if not self.is_value:
            raise illegal_argument(f"Expected text at {self.token_location} but found {self.token}")
        return self._raw_value

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
        if not bounds[0] <= self.value <= bounds[1]:
            raise self._jackson_error(
                f"Numeric value ({self._raw_value}) out of range of {kind} ({bounds[0]} - {bounds[1]})"
            )
        return int(self.value)


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
