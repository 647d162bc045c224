"""Elasticsearch's renderings of time and byte-size values (TimeValue.toString, ByteSizeValue.toString)."""

from __future__ import annotations

import datetime as dt
import re

from es_sandbox.errors import EsError

_TIME_UNITS = [("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("micros", 1e-6)]
_BYTE_UNITS = [("pb", 1 << 50), ("tb", 1 << 40), ("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10)]
_BYTES_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|pb)?$", re.IGNORECASE)


def _one_decimal(value: float, suffix: str) -> str:
    """Strings.format1Decimals: one decimal unless the value is whole."""
    rounded = round(value, 1)
    text = str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"
    return text + suffix


def time_value_str(seconds: float) -> str:
    """TimeValue.toString(): 30 -> '30s', 90 -> '1.5m', 0.5 -> '500ms'."""
    for suffix, size in _TIME_UNITS:
        if seconds >= size:
            return _one_decimal(seconds / size, suffix)
    return _one_decimal(seconds * 1e9, "nanos")


def byte_size_str(size: int) -> str:
    """ByteSizeValue.toString(): 438123914 -> '417.8mb'."""
    for suffix, unit in _BYTE_UNITS:
        if size >= unit:
            return _one_decimal(size / unit, suffix)
    return f"{size}b"


def parse_byte_size(value: str | int, setting: str) -> int:
    if isinstance(value, int):
        return value
    m = _BYTES_RE.match(str(value).strip())
    if not m or (m.group(2) is None and str(value).strip() not in ("0", "-1")):
        raise EsError(
            400,
            "parse_exception",
            f"failed to parse setting [{setting}] with value [{value}] as a size in bytes: unit is missing or unrecognized",
        )
    unit = (m.group(2) or "b").lower()
    factor = 1 if unit == "b" else dict(_BYTE_UNITS)[unit]
    return int(float(m.group(1)) * factor)


def iso_millis(epoch_ms: int) -> str:
    """An Instant as XContentBuilder.timeField renders it: 2024-05-01T10:00:00.123Z."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000.0, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
