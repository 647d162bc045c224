"""The small text and list processors of ingest-common: `bytes`, `gsub`, `split`, `join` and `sort`,
read and run as their Elasticsearch factories read and run them (BytesProcessor, GsubProcessor,
SplitProcessor, JoinProcessor, SortProcessor)."""

from __future__ import annotations

import re
from typing import Any

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.ingest.processors import Processor, StringProcessor, field_string
from es_sandbox.java import java_str, java_type

_BYTE_UNITS = {"b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30}
_BYTE_UNITS |= {"t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50}
_BYTES = re.compile(r"^(-?\d+(?:\.\d+)?)\s*([a-z]*)$")


def parse_bytes(value: str, setting: str) -> int:
    """ByteSizeValue.parseBytesSizeValue: a number with a unit (b, k/kb ... p/pb), or -1 and 0 alone."""
    text = value.strip().lower()
    match = _BYTES.match(text)
    if match and match.group(2) in _BYTE_UNITS:
        return int(float(match.group(1)) * _BYTE_UNITS[match.group(2)])
    if text in ("-1", "0"):
        return int(text)
    raise illegal_argument(
        f"failed to parse setting [{setting}] with value [{value}] as a size in bytes: unit is missing or unrecognized"
    )


def _java_regex(cfg: Any, prop: str) -> re.Pattern[str]:
    source = cfg.string(prop)
    try:
        return re.compile(source)
    except re.error as err:
        raise cfg.error(prop, f"Invalid regex pattern. {err}") from None


def _java_replacement(replacement: str) -> str:
    """Matcher.replaceAll's replacement ($1, ${name}, \\$) as re.sub takes it."""
    out, i = [], 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\" and i + 1 < len(replacement):
            out.append(replacement[i + 1].replace("\\", "\\\\"))
            i += 2
        elif char == "$" and replacement[i + 1 : i + 2] == "{":
            end = replacement.index("}", i)
            out.append(f"\\g<{replacement[i + 2 : end]}>")
            i = end + 1
        elif char == "$":
            digits = re.match(r"\d+", replacement[i + 1 :])
            if digits is None:
                raise illegal_argument("Illegal group reference")
            out.append(f"\\g<{digits.group()}>")
            i += 1 + len(digits.group())
        else:
            out.append(char)
            i += 1
    return "".join(out)


class BytesProcessor(StringProcessor):
    type = "bytes"

    def transform(self, value: str) -> Any:
        return parse_bytes(value, self.field)


class GsubProcessor(StringProcessor):
    type = "gsub"

    @classmethod
    def build(cls, cfg, service):
        processor = super().build(cfg, service)
        processor.pattern = _java_regex(cfg, "pattern")
        processor.replacement = _java_replacement(cfg.string("replacement"))
        return processor

    def transform(self, value: str) -> Any:
        return self.pattern.sub(self.replacement, value)


def _list_field(doc: Any, field: str, ignore_missing: bool) -> list[Any] | None:
    value = doc.get(field, ignore_missing)
    if value is None:
        if ignore_missing:
            return None
        raise illegal_argument(f"field [{field}] is null, cannot process it.")
    if not isinstance(value, list):
        raise illegal_argument(
            f"field [{field}] of type [{java_type(value)}] cannot be cast to [java.util.List]"
        )
    return value


class SplitProcessor(Processor):
    type = "split"

    def __init__(self, tag, description, field, separator, target_field, ignore_missing, preserve_trailing):
        super().__init__(tag, description)
        self.field, self.separator, self.target_field = field, separator, target_field
        self.ignore_missing, self.preserve_trailing = ignore_missing, preserve_trailing

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        separator = _java_regex(cfg, "separator")
        return cls(
            cfg.tag,
            None,
            field,
            separator,
            cfg.string("target_field", field),
            cfg.boolean("ignore_missing", False),
            cfg.boolean("preserve_trailing", False),
        )

    async def execute(self, doc):
        value = field_string(doc, self.field, self.ignore_missing, cannot="split")
        if value is None:
            return doc
        parts, last = [], 0
        for match in self.separator.finditer(value):
            if match.end() == 0:
                continue  # String.split: a zero-width match at the start gives no leading empty string
            parts.append(value[last : match.start()])
            last = match.end()
        parts.append(value[last:])
        if not self.preserve_trailing:
            while len(parts) > 1 and parts[-1] == "":
                parts.pop()
        doc.set(self.target_field, parts)
        return doc


class JoinProcessor(Processor):
    type = "join"

    def __init__(self, tag, description, field, separator, target_field) -> None:
        super().__init__(tag, description)
        self.field, self.separator, self.target_field = field, separator, target_field

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        return cls(cfg.tag, None, field, cfg.string("separator"), cfg.string("target_field", field))

    async def execute(self, doc):
        values = _list_field(doc, self.field, False)
        doc.set(self.target_field, self.separator.join(java_str(v) for v in values))
        return doc


class SortProcessor(Processor):
    type = "sort"

    def __init__(self, tag, description, field, descending, target_field) -> None:
        super().__init__(tag, description)
        self.field, self.descending, self.target_field = field, descending, target_field

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        order = cfg.string("order", "asc")
        if order not in ("asc", "desc"):
            raise cfg.error(
                "order", f"Sort direction [{order}] not recognized. Valid values are: [asc, desc]"
            )
        return cls(cfg.tag, None, field, order == "desc", cfg.string("target_field", field))

    async def execute(self, doc):
        values = _list_field(doc, self.field, False)
        kinds = {type(v) for v in values}
        if len(kinds) > 1 and not kinds <= {int, float}:  # Collections.sort over mixed classes
            a, b = sorted({java_type(v) for v in values})[:2]
            raise EsError(
                500,
                "class_cast_exception",
                f"class {a} cannot be cast to class {b} ({a} and {b} are in module java.base of loader 'bootstrap')",
            )
        doc.set(self.target_field, sorted(values, reverse=self.descending))
        return doc
