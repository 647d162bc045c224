"""Date math index names (DateMathExpressionResolver): `<static{date_math{format|time_zone}}static>`,
e.g. `<logs-{now/d}>` is `logs-2026.09.14` today. The date math is `now` (or a date before `||`) with `+N`/`-N` unit steps and
`/unit` rounding (units y M w d h H m s); the format is a Java date pattern (default `uuuu.MM.dd`) and
the time zone an offset or a region id (default UTC). `\\{` and `\\}` escape braces in static text.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from es_sandbox.errors import EsError

DEFAULT_FORMAT = "uuuu.MM.dd"
_STEP = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")
_PATTERN_LETTERS = re.compile(r"'[^']*'|([a-zA-Z])\1*")


def _parse_error(expression: str, problem: str) -> EsError:
    return EsError(400, "parse_exception", f"invalid dynamic name expression [{expression}]. {problem}")


def is_date_math(name: str) -> bool:
    return name.startswith("<") and name.endswith(">")


def resolve(name: str, now: datetime | None = None) -> str:
    """The index name a date math expression stands for today (other names are returned as they are)."""
    if not is_date_math(name):
        return name
    now = now or datetime.now(UTC)
    inner = name[1:-1]
    out: list[str] = []
    i = 0
    while i < len(inner):
        char = inner[i]
        if char == "\\":
            if i + 1 < len(inner) and inner[i + 1] in "{}":
                out.append(inner[i + 1])
                i += 2
                continue
            out.append(char)
            i += 1
        elif char == "}":
            raise _parse_error(
                inner,
                f"invalid character at position [{i}]. `{{` and `}}` are reserved characters and should be escaped "
                "when used as part of the index name using `\\` (e.g. `\\{text\\}`)",
            )
        elif char == "{":
            end = _placeholder_end(inner, i)
            out.append(_evaluate(inner, inner[i + 1 : end], now))
            i = end + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _placeholder_end(expression: str, start: int) -> int:
    depth = 0
    for i in range(start, len(expression)):
        if expression[i] == "{":
            depth += 1
        elif expression[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise _parse_error(expression, "date math placeholder is open ended")


def _evaluate(expression: str, placeholder: str, now: datetime) -> str:
    math, fmt, zone = placeholder, DEFAULT_FORMAT, UTC
    if "{" in placeholder:
        math, _, rest = placeholder.partition("{")
        if not rest.endswith("}"):
            raise _parse_error(expression, "missing closing `}` for date math format")
        spec = rest[:-1]
        if not spec:
            raise _parse_error(expression, "missing date format")
        fmt, _, zone_name = spec.partition("|")
        zone = _zone(zone_name) if zone_name else UTC
    moment = _date_math(expression, math, now.astimezone(zone))
    return _format(moment, fmt)


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    m = re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})?", name)
    if m is None:
        raise EsError(400, "illegal_argument_exception", f"Unknown time-zone ID: {name}")
    offset = timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
    return timezone(offset if m.group(1) == "+" else -offset)


def _anchor(expression: str, math: str, now: datetime) -> tuple[datetime, str]:
    """`now`, or an explicit date before `||` (an ISO date or epoch millis, as JavaDateMathParser takes
    it), and the math that follows."""
    if math.startswith("now"):
        return now, math[3:]
    date, sep, rest = math.partition("||")
    try:
        if not sep:
            raise ValueError(math)
        if date.isdigit():
            moment = datetime.fromtimestamp(int(date) / 1000, UTC)
        else:
            moment = datetime.fromisoformat(date)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=now.tzinfo)
    except ValueError:
        raise EsError(
            400, "parse_exception", f"could not parse date math expression [{math}] in [{expression}]"
        ) from None
    return moment.astimezone(now.tzinfo), rest


def _date_math(expression: str, math: str, now: datetime) -> datetime:
    moment, rest = _anchor(expression, math, now)
    while rest:
        m = _STEP.match(rest)
        if m is None:
            raise EsError(400, "parse_exception", f"operator not supported for date math [{rest}]")
        if m.group(4):
            moment = _round_down(moment, m.group(4))
        else:
            amount = int(m.group(2)) * (1 if m.group(1) == "+" else -1)
            moment = _add(moment, amount, m.group(3))
        rest = rest[m.end() :]
    return moment


def _add(moment: datetime, amount: int, unit: str) -> datetime:
    if unit in ("y", "M"):
        months = moment.month - 1 + amount * (12 if unit == "y" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    seconds = {"w": 604800, "d": 86400, "h": 3600, "H": 3600, "m": 60, "s": 1}[unit]
    return moment + timedelta(seconds=amount * seconds)


def _round_down(moment: datetime, unit: str) -> datetime:
    if unit == "y":
        return moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "M":
        return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "w":
        start = moment - timedelta(days=moment.weekday())
        return start.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "d":
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit in ("h", "H"):
        return moment.replace(minute=0, second=0, microsecond=0)
    if unit == "m":
        return moment.replace(second=0, microsecond=0)
    return moment.replace(microsecond=0)


def _format(moment: datetime, pattern: str) -> str:
    """A Java DateTimeFormatter pattern's common letters: years, months, days, hours, minutes, seconds."""
    out = []
    last = 0
    for m in _PATTERN_LETTERS.finditer(pattern):
        out.append(pattern[last : m.start()])
        last = m.end()
        token = m.group(0)
        if token.startswith("'"):
            out.append(token[1:-1] or "'")
            continue
        letter, width = token[0], len(token)
        if letter in "yu":
            out.append(f"{moment.year % 100:02d}" if width == 2 else f"{moment.year:0{width}d}")
        elif letter == "M" and width >= 3:
            out.append(moment.strftime("%b" if width == 3 else "%B"))
        elif letter in "MdHmsh":
            value = {
                "M": moment.month,
                "d": moment.day,
                "H": moment.hour,
                "h": (moment.hour % 12) or 12,
                "m": moment.minute,
                "s": moment.second,
            }[letter]
            out.append(f"{value:0{width}d}")
        else:
            raise EsError(
                400,
                "illegal_argument_exception",
                f"es_sandbox does not format [{letter}] in date math index names",
            )
    out.append(pattern[last:])
    return "".join(out)
