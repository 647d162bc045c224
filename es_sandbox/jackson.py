"""JSON read as Elasticsearch's Jackson parser reads it (jackson-core's UTF-8 byte parser, configured by
ES's JsonXContentImpl: comments allowed, duplicate field names refused, NaN/Infinity and the other
non-standard forms refused, nesting at most 1000 deep).

`Lexer` is the token stream; every way it refuses its input is a `JsonError` carrying Jackson's own
message and location, as JsonParseException / JsonEOFException carry them: columns count bytes of the
UTF-8 text, and the message ends with Jackson's location suffix naming the source (the body itself, its
first 500 bytes, unless the request asked `include_source_on_error=false`).

Jackson reads a string's content only when its text is asked for (or skips it on the next token): a
bad string fails where it is read, as it does in Elasticsearch.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from es_sandbox.errors import EsError

MAX_NESTING_DEPTH = 1000  # StreamReadConstraints.DEFAULT_MAX_DEPTH
_MAX_SOURCE_BYTES = 500  # ErrorReportConfiguration.DEFAULT_MAX_RAW_CONTENT_LENGTH
REDACTED = "REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled)"
_VALID_VALUES = "(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
_SIMPLE_STRING = re.compile(rb'[^"\\\x00-\x1f]*')
_ESCAPES = {ord("b"): "\b", ord("t"): "\t", ord("n"): "\n", ord("f"): "\f", ord("r"): "\r"}
_ESCAPES.update({c: chr(c) for c in b'"/\\'})
_HEX = b"0123456789abcdefABCDEF"


class JsonError(Exception):
    """Jackson's exception: its class (as ES names it), its message and where the parser stood."""

    def __init__(self, message: str, line: int, column: int, source: str, kind: str = "json_parse_exception"):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.source = source  # the `[Source: ...]` description
        self.kind = kind

    @property
    def is_eof(self) -> bool:
        return self.kind == "json_e_o_f_exception"

    def full_message(self) -> str:
        """JsonProcessingException.getMessage(): the message and Jackson's location suffix."""
        return f"{self.message}\n at {location_text(self.source, self.line, self.column)}"

    def to_xcontent(self) -> dict[str, Any]:
        return {"type": self.kind, "reason": self.full_message()}

    def es_error(self, *, eof: bool = False) -> EsError:
        """The XContentParseException ES wraps it in (XContentEOFException, "Unexpected end of file",
        where `eof` says the parser's nextToken met a JsonEOFException)."""
        if eof and self.is_eof:
            return EsError(
                400,
                "x_content_e_o_f_exception",
                f"[{self.line}:{self.column}] Unexpected end of file",
                caused_by=self.to_xcontent(),
            )
        return EsError(
            400,
            "x_content_parse_exception",
            f"[{self.line}:{self.column}] {self.full_message()}",
            caused_by=self.to_xcontent(),
        )


def location_text(source: str, line: int, column: int) -> str:
    """JsonLocation.toString()."""
    return f"[Source: {source}; line: {line}, column: {column}]"


def describe_source(raw: bytes, include: bool = True) -> str:
    """ContentReference's description of a byte[] source: its first 500 bytes as text, ISO control
    characters but CR and LF escaped, and how much was left out."""
    if not include:
        return REDACTED
    text = raw[:_MAX_SOURCE_BYTES].decode("utf-8", "replace")
    shown = "".join(
        f"\\u{ord(c):04X}" if (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F) and c not in "\r\n" else c
        for c in text
    )
    cut = f"[truncated {len(raw) - _MAX_SOURCE_BYTES} bytes]" if len(raw) > _MAX_SOURCE_BYTES else ""
    return f'(byte[])"{shown}"{cut}'


def char_desc(code: int) -> str:
    """ParserMinimalBase._getCharDesc."""
    char = chr(code & 0xFFFF) if not 0xD800 <= code & 0xFFFF <= 0xDFFF else "\ufffd"
    if unicodedata.category(chr(code & 0xFFFF)) == "Cc":
        return f"(CTRL-CHAR, code {code})"
    if code > 255:
        return f"'{char}' (code {code} / 0x{code:x})"
    return f"'{char}' (code {code})"


def _is_identifier_start(code: int) -> bool:
    """Character.isJavaIdentifierStart."""
    return unicodedata.category(chr(code)) in ("Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Sc", "Pc")


def _is_identifier_part(code: int) -> bool:
    """Character.isJavaIdentifierPart."""
    if _is_identifier_start(code) or 0 <= code <= 8 or 0x0E <= code <= 0x1B or 0x7F <= code <= 0x9F:
        return True
    return unicodedata.category(chr(code)) in ("Nd", "Mc", "Mn", "Cf")


class _Context:
    """JsonReadContext: what the parser is inside, where it started, the names an object has seen."""

    __slots__ = ("kind", "index", "line", "column", "names", "name")

    def __init__(self, kind: str, line: int, column: int) -> None:
        self.kind = kind  # "root", "Array" or "Object" (typeDesc)
        self.index = -1
        self.line = line
        self.column = column
        self.names: set[str] | None = set() if kind == "Object" else None
        self.name: str | None = None

    def expect_comma(self) -> bool:
        self.index += 1
        return self.kind != "root" and self.index > 0


class Lexer:
    """Jackson's token stream over one UTF-8 text. `token` is JsonToken's name (VALUE_NUMBER_INT,
    VALUE_TRUE, ... as Jackson's own messages name them); `number` holds a number token's digits."""

    def __init__(self, raw: bytes, *, include_source: bool = True) -> None:
        self._buf = raw
        self._end = len(raw)
        self._pos = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        self._row = 1
        self._row_start = self._pos
        self.source = describe_source(raw, include_source)
        self._stack = [_Context("root", 0, 0)]
        self.token: str | None = None
        self.number = ""
        self._pending: str | None = None  # the value token read with a field name
        self._string_start = -1  # where an unread string's content begins
        self._string: str | None = None
        self.token_line = self.token_column = 0
        self._name_line = self._name_column = 0

    # -- locations --
    @property
    def depth(self) -> int:
        return len(self._stack) - 1

    def current_location(self) -> tuple[int, int]:
        return self._row, self._pos - self._row_start + 1

    def token_location(self) -> tuple[int, int]:
        if self.token == "FIELD_NAME":
            return self._name_line, self._name_column
        return self.token_line, self.token_column

    def error(self, message: str, where: tuple[int, int] | None = None, kind: str = "json_parse_exception"):
        line, column = where or self.current_location()
        return JsonError(message, line, column, self.source, kind)

    def _last_char(self) -> tuple[int, int]:
        return self._row, self._pos - self._row_start

    def _eof(self, message: str) -> JsonError:
        return self.error("Unexpected end-of-input" + message, kind="json_e_o_f_exception")

    def _unexpected(self, code: int, comment: str) -> JsonError:
        return self.error(f"Unexpected character ({char_desc(code)}): {comment}", self._last_char())

    def _start_text(self, context: _Context) -> str:
        return location_text(self.source, context.line, context.column)

    @property
    def current_name(self) -> str | None:
        return self._stack[-1].name

    # -- the stream --
    def next_token(self) -> str | None:
        if self.token == "FIELD_NAME":
            return self._after_name()
        if self._string_start >= 0:
            self._skip_string()
        self.number = ""
        code = self._skip_ws_or_end()
        if code < 0:
            self.token = None
            return None
        if code in (0x5D, 0x7D):
            self._close(code)
            return self.token
        context = self._stack[-1]
        if context.expect_comma():
            if code != 0x2C:
                raise self._unexpected(code, f"was expecting comma to separate {context.kind} entries")
            code = self._skip_ws()
        if context.kind != "Object":
            self._mark_token()
            self.token = self._value(code)
            self._open_container()
            return self.token
        self._name_line, self._name_column = self._row, self._pos - self._row_start
        name = self._name(code)
        assert context.names is not None
        if name in context.names:
            raise self.error(f"Duplicate field '{name}'")
        context.names.add(name)
        context.name = name
        self.token = "FIELD_NAME"
        code = self._skip_colon()
        self._mark_token()
        self._pending = self._value(code)
        return self.token

    def _after_name(self) -> str | None:
        self.token, self._pending = self._pending, None
        self._open_container()
        return self.token

    def _open_container(self) -> None:
        if self.token in ("START_OBJECT", "START_ARRAY"):
            if len(self._stack) > MAX_NESTING_DEPTH:
                raise EsError(
                    500,
                    "stream_constraints_exception",
                    f"Document nesting depth ({len(self._stack)}) exceeds the maximum allowed "
                    f"({MAX_NESTING_DEPTH}, from `StreamReadConstraints.getMaxNestingDepth()`)",
                )
            kind = "Object" if self.token == "START_OBJECT" else "Array"
            self._stack.append(_Context(kind, self.token_line, self.token_column))

    def _mark_token(self) -> None:
        self.token_line, self.token_column = self._row, self._pos - self._row_start

    def _close(self, code: int) -> None:
        self._mark_token()
        context = self._stack[-1]
        actual, wanted = ("]", "Array") if code == 0x5D else ("}", "Object")
        if context.kind != wanted:
            if context.kind == "root":
                message = f"Unexpected close marker '{actual}': no open {wanted} to close"
            else:
                expected = "}" if code == 0x5D else "]"
                message = (
                    f"Unexpected close marker '{actual}': expected '{expected}' (for {context.kind} starting at "
                    f"{self._start_text(context)})"
                )
            raise self.error(message, self._last_char())
        self._stack.pop()
        self.token = "END_ARRAY" if code == 0x5D else "END_OBJECT"

    def skip_children(self) -> None:
        """On a START_OBJECT or START_ARRAY: move to its matching end."""
        if self.token not in ("START_OBJECT", "START_ARRAY"):
            return
        depth = len(self._stack)
        while len(self._stack) >= depth:
            if self.next_token() is None:
                return

    # -- white space and comments --
    def _skip_ws_or_end(self) -> int:
        code = self._next_significant()
        if code >= 0:
            return code
        context = self._stack[-1]
        if context.kind != "root":
            raise self._eof(
                f": expected close marker for {context.kind} (start marker at {self._start_text(context)})"
            )
        return -1

    def _skip_ws(self) -> int:
        code = self._next_significant()
        if code < 0:
            raise self.error(f"Unexpected end-of-input within/between {self._stack[-1].kind} entries")
        return code

    def _skip_colon(self) -> int:
        code = self._next_significant()
        if code < 0:
            raise self._eof(f" within/between {self._stack[-1].kind} entries")
        if code != 0x3A:
            raise self._unexpected(code, "was expecting a colon to separate field name and value")
        code = self._next_significant()
        if code < 0:
            raise self._eof(f" within/between {self._stack[-1].kind} entries")
        return code

    def _next_significant(self) -> int:
        """The next byte that is not white space or part of a comment (consumed), or -1 at the end."""
        buf, end = self._buf, self._end
        while self._pos < end:
            code = buf[self._pos]
            self._pos += 1
            if code > 0x20:
                if code == 0x2F:
                    self._skip_comment()
                    continue
                return code
            if code in (0x20, 0x09):
                continue
            if code == 0x0A:
                self._new_line()
            elif code == 0x0D:
                if self._pos < end and buf[self._pos] == 0x0A:
                    self._pos += 1
                self._new_line()
            else:
                message = f"Illegal character ({char_desc(code)}): only regular white space (\\r, \\n, \\t) is allowed between tokens"
                if code == 0x1E:
                    message += (
                        " (consider enabling `JsonReadFeature.ALLOW_RS_CONTROL_CHAR` to allow use of Record "
                        "Separators (\\u001E))"
                    )
                raise self.error(message)
        return -1

    def _new_line(self) -> None:
        self._row += 1
        self._row_start = self._pos

    def _skip_comment(self) -> None:
        """ALLOW_COMMENTS: `// ...` to the end of the line, `/* ... */` anywhere white space may be."""
        if self._pos >= self._end:
            raise self._eof(" in a comment")
        kind = self._buf[self._pos]
        self._pos += 1
        if kind == 0x2F:
            while self._pos < self._end:
                code = self._buf[self._pos]
                self._pos += 1
                if code == 0x0A:
                    self._new_line()
                    return
                if code == 0x0D:
                    if self._pos < self._end and self._buf[self._pos] == 0x0A:
                        self._pos += 1
                    self._new_line()
                    return
            return
        if kind != 0x2A:
            raise self._unexpected(
                self._decode_for_error(kind), "was expecting either '*' or '/' for a comment"
            )
        while self._pos < self._end:
            code = self._buf[self._pos]
            self._pos += 1
            if code == 0x2A and self._pos < self._end and self._buf[self._pos] == 0x2F:
                self._pos += 1
                return
            if code == 0x0A:
                self._new_line()
            elif code == 0x0D:
                if self._pos < self._end and self._buf[self._pos] == 0x0A:
                    self._pos += 1
                self._new_line()
        raise self._eof(" in a comment")

    # -- values --
    def _value(self, code: int) -> str:
        if code == 0x22:
            self._string_start, self._string = self._pos, None
            return "VALUE_STRING"
        if code == 0x7B:
            return "START_OBJECT"
        if code == 0x5B:
            return "START_ARRAY"
        if code == 0x74:
            self._match(b"true", 1)
            return "VALUE_TRUE"
        if code == 0x66:
            self._match(b"false", 1)
            return "VALUE_FALSE"
        if code == 0x6E:
            self._match(b"null", 1)
            return "VALUE_NULL"
        if code == 0x2D:
            return self._negative_number()
        if 0x30 <= code <= 0x39:
            return self._number(code)
        return self._unexpected_value(code)

    def _unexpected_value(self, code: int) -> str:
        if code in (0x2C, 0x7D) or (code == 0x5D and self._stack[-1].kind == "Array"):
            raise self._unexpected(code, "expected a value")
        if code == 0x4E:
            self._match(b"NaN", 1)
            raise self._non_numeric("NaN")
        if code == 0x49:
            self._match(b"Infinity", 1)
            raise self._non_numeric("Infinity")
        if code == 0x2B:
            if self._pos >= self._end:
                raise self._eof(" in a Number value")
            following = self._buf[self._pos]
            self._pos += 1
            self._invalid_number_start(following, negative=False)
        code = self._decode_for_error(code)
        if _is_identifier_start(code):
            raise self._invalid_token(chr(code))
        raise self._unexpected(code, f"expected a valid value {_VALID_VALUES}")

    def _non_numeric(self, word: str) -> JsonError:
        return self.error(
            f"Non-standard token '{word}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"
        )

    def _match(self, word: bytes, start: int) -> None:
        """_matchToken: the rest of a literal, then no identifier character right after it."""
        for i in range(start, len(word)):
            if self._pos >= self._end or self._buf[self._pos] != word[i]:
                raise self._invalid_token(word[:i].decode())
            self._pos += 1
        if self._pos < self._end:
            following = self._buf[self._pos]
            if following >= 0x30 and following not in (0x5D, 0x7D):
                saved = self._pos
                code = self._decode_for_error(following, advance=True)
                self._pos = saved
                if _is_identifier_part(code):
                    raise self._invalid_token(word.decode())

    def _invalid_token(self, matched: str) -> JsonError:
        """_reportInvalidToken: the token as far as it runs in identifier characters."""
        where = (self._row, self._pos - len(matched.encode()) - self._row_start + 1)
        text = matched
        while self._pos < self._end:
            code = self._decode_for_error(self._buf[self._pos], advance=True)
            if not _is_identifier_part(code):
                break
            text += chr(code)
            if len(text) >= 256:
                text += "..."
                break
        return self.error(f"Unrecognized token '{text}': was expecting {_VALID_VALUES}", where)

    def _decode_for_error(self, first: int, *, advance: bool = False) -> int:
        """_decodeCharForError: the code point a (possibly multi-byte) character starts with."""
        if advance:
            self._pos += 1
        if first < 0x80:
            return first
        if first & 0xE0 == 0xC0:
            code, needed = first & 0x1F, 1
        elif first & 0xF0 == 0xE0:
            code, needed = first & 0x0F, 2
        elif first & 0xF8 == 0xF0:
            code, needed = first & 0x07, 3
        else:
            raise self.error(f"Invalid UTF-8 start byte 0x{first:x}")
        for _ in range(needed):
            if self._pos >= self._end:
                raise self._eof(f" in {self.token}")
            following = self._buf[self._pos]
            self._pos += 1
            if following & 0xC0 != 0x80:
                raise self.error(f"Invalid UTF-8 middle byte 0x{following:x}")
            code = (code << 6) | (following & 0x3F)
        return code

    # -- numbers --
    def _negative_number(self) -> str:
        if self._pos >= self._end:
            raise self._eof(f" in {self.token}")
        code = self._buf[self._pos]
        self._pos += 1
        if code == 0x30:
            self._no_leading_zeroes()
        elif not 0x31 <= code <= 0x39:
            if code == 0x2E:
                return self._unexpected_value(code)
            self._invalid_number_start(code, negative=True)
        return self._number_rest(self._pos - 2)

    def _number(self, code: int) -> str:
        if code == 0x30:
            self._no_leading_zeroes()
        return self._number_rest(self._pos - 1)

    def _no_leading_zeroes(self) -> None:
        if self._pos < self._end and 0x30 <= self._buf[self._pos] <= 0x39:
            raise self.error("Invalid numeric value: Leading zeroes not allowed")

    def _invalid_number_start(self, code: int, *, negative: bool) -> None:
        if code == 0x49:
            if self._pos >= self._end:
                raise self._eof(" in a Number value")
            following = self._buf[self._pos]
            self._pos += 1
            word = {0x4E: b"INF", 0x6E: b"Infinity"}.get(following)
            if word is not None:
                sign = b"-" if negative else b"+"
                self._match(sign + word, 3)
                raise self._non_numeric((sign + word).decode())
        if not negative:
            raise self.error(
                f"Unexpected character ({char_desc(0x2B)}) in numeric value: JSON spec does not allow numbers to "
                "have plus signs: enable `JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` to allow",
                self._last_char(),
            )
        raise self.error(
            f"Unexpected character ({char_desc(self._decode_for_error(code))}) in numeric value: expected digit "
            "(0-9) to follow minus sign, for valid numeric value",
            self._last_char(),
        )

    def _number_rest(self, start: int) -> str:
        buf, end = self._buf, self._end
        while self._pos < end and 0x30 <= buf[self._pos] <= 0x39:
            self._pos += 1
        kind = "VALUE_NUMBER_INT"
        if self._pos < end and buf[self._pos] == 0x2E:
            kind = "VALUE_NUMBER_FLOAT"
            self._pos += 1
            digits = self._digits()
            if not digits:
                raise self._number_char("Decimal point not followed by a digit")
        if self._pos < end and buf[self._pos] in (0x65, 0x45):
            kind = "VALUE_NUMBER_FLOAT"
            self._pos += 1
            if self._pos < end and buf[self._pos] in (0x2B, 0x2D):
                self._pos += 1
            if self._pos >= end:
                raise self._eof(f" in {self.token}")
            if not self._digits():
                raise self._number_char("Exponent indicator not followed by a digit")
        self.number = buf[start : self._pos].decode()
        if self._stack[-1].kind == "root":
            self._root_space()
        return kind

    def _digits(self) -> int:
        start = self._pos
        while self._pos < self._end and 0x30 <= self._buf[self._pos] <= 0x39:
            self._pos += 1
        return self._pos - start

    def _number_char(self, comment: str) -> JsonError:
        """The character that ends a number too early (at the end of the input: the last one read)."""
        if self._pos < self._end:
            self._pos += 1
        code = self._buf[self._pos - 1]
        return self.error(
            f"Unexpected character ({char_desc(code)}) in numeric value: {comment}", self._last_char()
        )

    def _root_space(self) -> None:
        """_verifyRootSpace: a root-level number ends at white space."""
        if self._pos >= self._end:
            return
        code = self._buf[self._pos]
        if code in (0x20, 0x09, 0x0D):
            return
        if code == 0x0A:
            self._pos += 1
            self._new_line()
            return
        self._pos += 1
        raise self._unexpected(code, "Expected space separating root-level values")

    # -- strings and names --
    def string_value(self) -> str:
        """getText() of a VALUE_STRING: its content, read now."""
        if self._string is None:
            self._string = self._read_string("VALUE_STRING", "string value")
            self._string_start = -1
        return self._string

    def _skip_string(self) -> None:
        self._read_string("VALUE_STRING", "string value")
        self._string_start = -1

    def _read_string(self, token: str, what: str) -> str:
        """A string's content after its opening quote, to its closing one (consumed)."""
        simple = _SIMPLE_STRING.match(self._buf, self._pos)
        assert simple is not None
        if simple.end() < self._end and self._buf[simple.end()] == 0x22:
            try:
                text = simple.group().decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                self._pos = simple.end() + 1
                return text
        return self._read_string_slowly(token, what)

    def _read_string_slowly(self, token: str, what: str) -> str:
        parts: list[str] = []
        buf, end = self._buf, self._end
        while True:
            if self._pos >= end:
                raise self._eof(" in field name" if token == "FIELD_NAME" else f" in {token}")
            code = buf[self._pos]
            self._pos += 1
            if code == 0x22:
                text = "".join(parts)
                return _join_surrogates(text) if any(0xD800 <= ord(c) <= 0xDFFF for c in text) else text
            if code == 0x5C:
                parts.append(self._escape(token))
            elif code < 0x20:
                raise self.error(
                    f"Illegal unquoted character ({char_desc(code)}): has to be escaped using backslash to be "
                    f"included in {what}",
                    self._last_char(),
                )
            elif code < 0x80:
                parts.append(chr(code))
            else:
                decoded = self._decode_for_error(code)
                if 0xD800 <= decoded <= 0xDFFF:
                    raise self.error(f"Invalid UTF-8: Illegal surrogate character 0x{decoded:x}")
                parts.append(chr(decoded))

    def _escape(self, token: str) -> str:
        """_decodeEscaped: the character a backslash escape stands for."""
        if self._pos >= self._end:
            raise self.error(
                "Unexpected end-of-input in character escape sequence", kind="json_e_o_f_exception"
            )
        code = self._buf[self._pos]
        self._pos += 1
        if code in _ESCAPES:
            return _ESCAPES[code]
        if code != 0x75:
            raise self.error(
                f"Unrecognized character escape {char_desc(self._decode_for_error(code))}", self._last_char()
            )
        value = 0
        for _ in range(4):
            if self._pos >= self._end:
                raise self.error(
                    "Unexpected end-of-input in character escape sequence", kind="json_e_o_f_exception"
                )
            digit = self._buf[self._pos]
            self._pos += 1
            if digit not in _HEX:
                raise self._unexpected(digit, "expected a hex-digit for character escape sequence")
            value = (value << 4) | int(chr(digit), 16)
        return chr(value)

    def _name(self, code: int) -> str:
        if code != 0x22:
            raise self._unexpected(
                self._decode_for_error(code), "was expecting double-quote to start field name"
            )
        return self._read_string("FIELD_NAME", "name")


def _join_surrogates(text: str) -> str:
    """Escaped surrogate pairs as the one character they stand for (a lone one stays, as in Java)."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
