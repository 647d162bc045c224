"""The convert processor: integer, long, float, double, string, boolean, ip and auto, with the
input values each accepts and the errors Elasticsearch 9.x gives for the others."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from es_sandbox.errors import illegal_argument
from es_sandbox.ingest.processors import Processor
from es_sandbox.java import (
    INT_MAX,
    INT_MIN,
    LONG_MAX,
    LONG_MIN,
    float32,
    is_number,
    java_str,
    parse_java_double,
    parse_java_integer,
)


def _unable(value: Any, type_name: str):
    return illegal_argument(f"unable to convert [{java_str(value)}] to {type_name}")


def _to_integer(low: int, high: int, type_name: str) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        number = parse_java_integer(value, low, high) if isinstance(value, str) else None
        if number is None:
            raise _unable(value, type_name)
        return number

    return convert


def _to_double(value: Any) -> float:
    if is_number(value):
        return float(value)
    number = parse_java_double(value) if isinstance(value, str) else None
    if number is None:
        raise _unable(value, "double")
    return number


def _to_float(value: Any) -> float:
    try:
        return float32(_to_double(value))
    except Exception:
        raise _unable(value, "float") from None


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise illegal_argument(f"[{java_str(value)}] is not a boolean value, cannot convert to boolean")


def _to_ip(value: Any) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError
        ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        raise illegal_argument(f"'{java_str(value)}' is not an IP string literal.") from None
    return value


def _to_string(value: Any) -> str:
    return java_str(value)


_TO_INT = _to_integer(INT_MIN, INT_MAX, "integer")
_TO_LONG = _to_integer(LONG_MIN, LONG_MAX, "long")


def _auto(value: Any) -> Any:
    """A string becomes the closest non-string, non-IP type; anything else is left as it is."""
    if not isinstance(value, str):
        return value
    for convert in (_to_boolean, _TO_INT, _TO_LONG, _to_float):
        try:
            return convert(value)
        except Exception:  # noqa: S112 - each failed conversion just tries the next type
            continue
    return value


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "integer": _TO_INT,
    "long": _TO_LONG,
    "float": _to_float,
    "double": _to_double,
    "boolean": _to_boolean,
    "ip": _to_ip,
    "string": _to_string,
    "auto": _auto,
}


class ConvertProcessor(Processor):
    type = "convert"

    def __init__(self, tag, description, field, target_field, convert_type, ignore_missing) -> None:
        super().__init__(tag, description)
        self.field, self.target_field = field, target_field
        self.convert_type, self.ignore_missing = convert_type, ignore_missing
        self.convert = CONVERTERS[convert_type]

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        type_name = cfg.string("type")
        target_field = cfg.string("target_field", field)
        if type_name.lower() not in CONVERTERS:
            raise cfg.error("type", f"type [{type_name}] not supported, cannot convert field.")
        ignore_missing = cfg.boolean("ignore_missing", False)
        return cls(cfg.tag, None, field, target_field, type_name.lower(), ignore_missing)

    async def execute(self, doc):
        value = doc.get(self.field, self.ignore_missing)
        if value is None:
            if self.ignore_missing:
                return doc
            raise illegal_argument(
                f"Field [{self.field}] is null, cannot be converted to type [{self.convert_type}]"
            )
        converted = [self.convert(v) for v in value] if isinstance(value, list) else self.convert(value)
        doc.set(self.target_field, converted)
        return doc
