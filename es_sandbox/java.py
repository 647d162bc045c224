"""How the JVM sees the JSON values Elasticsearch parses (`parser.map()`): class names in type errors,
toString() in messages, number parsing and float32 rounding, equality, and the iteration order of a
java.util.HashMap (the order of the map a foreach processor builds from a map field). The one place
the sandbox renders or parses a value as Java does: ingest, mappings, inference and request parsing
all call it."""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1


def java_type(value: Any) -> str:
    """The Java class Elasticsearch names in its type errors for a parsed JSON value."""
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, int):
        return "java.lang.Integer" if INT_MIN <= value <= INT_MAX else "java.lang.Long"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, list):
        return "java.util.ArrayList"
    if isinstance(value, dict):
        return "java.util.HashMap"
    return "java.lang.Object"


def java_class(value: Any) -> str:
    """Object.getClass().toString() of a parsed JSON value: `class java.lang.String`, ..."""
    return f"class {java_type(value)}"


def java_str(value: Any) -> str:
    """String.valueOf(value): what Java prints for the value in messages and string conversions."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double_str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ", ".join(java_str(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_str(v)}" for k, v in value.items()) + "}"
    return str(value)


def java_double_str(value: float) -> str:
    """Double.toString: the shortest digits, plain between 10^-3 and 10^7, else d.dddE<exponent>."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    shortest = Decimal(repr(value))  # repr gives the shortest round-trip digits, as Java 19+ does
    if 1e-3 <= abs(value) < 1e7:
        plain = format(shortest, "f")
        return plain if "." in plain else plain + ".0"
    sign, digit_tuple, exponent = shortest.normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    scientific_exponent = len(digits) - 1 + int(exponent)
    return f"{'-' if sign else ''}{digits[0]}.{digits[1:] or '0'}E{scientific_exponent}"


def float32(value: float) -> float:
    """A Java float's value: the double rounded to single precision, written with the shortest digits
    that identify that float (Float.toString), so JSON shows 242.15 as Elasticsearch does."""
    try:
        rounded = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)
    if math.isinf(rounded) or math.isnan(rounded) or rounded == 0:
        return rounded
    for precision in range(1, 10):
        candidate = float(f"{rounded:.{precision}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == rounded:
            return candidate
    return rounded


_INTEGER = re.compile(r"[+-]?\d+")
_HEX_INTEGER = re.compile(r"(-?)0[xX]([0-9a-fA-F]+)")
# Double.parseDouble's decimal grammar: a type suffix only after digits, ASCII digits only.
_DECIMAL_FLOAT = re.compile(r"[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?)")
_HEX_FLOAT = re.compile(r"([+-]?)0[xX]([0-9a-fA-F]*\.?[0-9a-fA-F]*)[pP]([+-]?[0-9]+)[fFdD]?")
# String.trim(): every character up to and including the space.
JAVA_TRIMMED = "".join(chr(c) for c in range(33))


def parse_java_integer(text: str, low: int, high: int) -> int | None:
    """Integer.parseInt / Long.parseLong, and their decode() for a 0x prefix; None when Java refuses."""
    hexadecimal = _HEX_INTEGER.fullmatch(text)
    if hexadecimal:
        number = int(hexadecimal.group(2), 16) * (-1 if hexadecimal.group(1) else 1)
    elif _INTEGER.fullmatch(text):
        number = int(text)
    else:
        return None
    return number if low <= number <= high else None


def parse_java_double(text: str) -> float | None:
    """Double.parseDouble: the text trimmed (String.trim), a d/f suffix and hex floats accepted; None
    when Java refuses it (an empty text included)."""
    text = text.strip(JAVA_TRIMMED)
    if _DECIMAL_FLOAT.fullmatch(text):
        body = text.rstrip("fFdD")
        return float(body.replace("Infinity", "inf"))
    hexadecimal = _HEX_FLOAT.fullmatch(text)
    if hexadecimal and hexadecimal.group(2) not in ("", "."):
        sign, digits, exponent = hexadecimal.groups()
        return float.fromhex(f"{sign}0x{digits}p{exponent}")
    return None


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def java_equals(a: Any, b: Any) -> bool:
    """Painless `==` on def values: numbers compare by value, a Boolean never equals a number,
    collections compare element by element."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(java_equals(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(java_equals(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


# --- java.util.HashMap iteration order ------------------------------------------------------


def _string_hash(key: str) -> int:
    h = 0
    for unit in struct.unpack(f"<{len(key.encode('utf-16-le')) // 2}H", key.encode("utf-16-le")):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h


def _table_size_for(capacity: int) -> int:
    size = 1
    while size < capacity:
        size *= 2
    return size


def copied_hashmap_capacity(size: int) -> int:
    """The table size of `new HashMap<>(otherMap)` holding `size` entries."""
    return max(_table_size_for(int(size / 0.75 + 1.0)), 16) if size else 16


def hashmap_order(keys: Iterable[str], capacity: int) -> list[str]:
    """The order a HashMap with this table size iterates keys inserted in the given order: by
    bucket, and within a bucket by insertion."""
    buckets: dict[int, list[str]] = {}
    for key in keys:
        h = _string_hash(key)
        buckets.setdefault((h ^ (h >> 16)) & (capacity - 1), []).append(key)
    return [key for bucket in sorted(buckets) for key in buckets[bucket]]
