"""Date values as queries and sorts read them: epoch numbers, ISO dates and date math."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

_MATH_RE = re.compile(r"([+-]\d+|/)([yMwdhHms])")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "H": 3600, "m": 60, "s": 1}


def parse_date(value: Any, *, now: datetime | None = None, round_up: bool = False) -> float:
    """Epoch milliseconds of a date value: epoch numbers, ISO dates, and date math (now-1d/d, x||+1M)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if text.startswith("now"):
        anchor, math_part = now or datetime.now(UTC), text[3:]
    elif "||" in text:
        base, _, math_part = text.partition("||")
        anchor = datetime.fromtimestamp(parse_date(base) / 1000, UTC)
    else:
        try:  # strict_date_optional_time first, then epoch_millis, as the default date format does
            moment = _parse_iso(text)
        except ValueError:
            if re.fullmatch(r"-?\d+(\.\d+)?", text):
                return float(text)
            raise
        if round_up:  # missing fields of an upper bound are filled with their largest value
            unit = {4: "y", 7: "M", 10: "d"}.get(len(text))
            if unit:
                moment = _round(moment, unit, True)
        return moment.timestamp() * 1000
    pos = 0
    moment = anchor
    while pos < len(math_part):
        m = _MATH_RE.match(math_part, pos)
        if not m:
            raise ValueError(f"invalid date math [{text}]")
        op, unit = m.group(1), m.group(2)
        moment = _round(moment, unit, round_up) if op == "/" else _shift(moment, int(op), unit)
        pos = m.end()
    return moment.timestamp() * 1000


def date_or_none(value: Any) -> float | None:
    try:
        return parse_date(value)
    except (TypeError, ValueError, OverflowError):
        return None


def looks_like_date(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith("now") or bool(re.match(r"^\d{4}-\d{2}", value)))


def _parse_iso(text: str) -> datetime:
    normalized = text.replace(" ", "T").replace("Z", "+00:00")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", normalized):
        normalized += "T00:00:00"
    if re.fullmatch(r"\d{4}", normalized):
        normalized += "-01-01T00:00:00"
    if re.fullmatch(r"\d{4}-\d{2}", normalized):
        normalized += "-01T00:00:00"
    moment = datetime.fromisoformat(normalized)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    if unit == "y":
        return moment.replace(year=moment.year + amount)
    if unit == "M":
        month = moment.month - 1 + amount
        return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)
    return moment + timedelta(seconds=amount * _UNIT_SECONDS[unit])


def _round(moment: datetime, unit: str, up: bool) -> datetime:
    if unit == "y":
        start = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = start.replace(year=start.year + 1)
    elif unit == "M":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = _shift(start, 1, "M")
    elif unit == "w":
        start = (moment - timedelta(days=moment.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        nxt = start + timedelta(weeks=1)
    else:
        seconds = _UNIT_SECONDS[unit]
        epoch = moment.timestamp()
        start = datetime.fromtimestamp(epoch - epoch % seconds, UTC)
        nxt = start + timedelta(seconds=seconds)
    return nxt - timedelta(milliseconds=1) if up else start
