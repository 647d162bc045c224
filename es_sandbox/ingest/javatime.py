"""Date formats as Elasticsearch's DateFormatter reads them: java.time patterns (parsed the way
DateTimeFormatter parses in STRICT mode, with adjacent-value parsing, optional sections, offsets and
zones), the built-in names the date processor meets (iso8601, strict_date_optional_time, epoch_millis,
...), `||` alternatives, and ZoneId strings. Failures carry Java's exception types and messages.

English month and day names only (Locale.ROOT and en*); week fields follow the locale's week rules."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class JavaTimeError(Exception):
    """A Java exception (type in snake case, message as Java writes it), with an optional cause."""

    def __init__(self, kind: str, message: str, cause: JavaTimeError | None = None) -> None:
        super().__init__(message)
        self.kind, self.message, self.cause = kind, message, cause

    def xcontent(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.kind, "reason": self.message}
        if self.cause is not None:
            body["caused_by"] = self.cause.xcontent()
        return body


class Unsupported(Exception):
    """A valid format the sandbox cannot run (refused when the pipeline is put)."""


def _illegal(message: str, cause: JavaTimeError | None = None) -> JavaTimeError:
    return JavaTimeError("illegal_argument_exception", message, cause)


# --- zones ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Zone:
    """A ZoneId: its id as Java prints it and the tzinfo that gives its offsets."""

    id: str
    tz: tzinfo

    @property
    def is_offset(self) -> bool:
        return isinstance(self.tz, timezone)


UTC_ZONE = Zone("Z", UTC)  # ZoneOffset.UTC
_OFFSET_ID = re.compile(r"([+-])(\d{1,2})(?::?(\d{2})(?::?(\d{2}))?)?")


def _offset(text: str) -> Zone:
    """ZoneOffset.of: +h, +hh, +hh:mm, +hhmm, +hh:mm:ss, +hhmmss."""
    match = _OFFSET_ID.fullmatch(text)
    if match is None or (len(match.group(2)) == 1 and match.group(3)):
        raise JavaTimeError("date_time_exception", f"Invalid ID for ZoneOffset, invalid format: {text}")
    sign = -1 if match.group(1) == "-" else 1
    hours, minutes, seconds = int(match.group(2)), int(match.group(3) or 0), int(match.group(4) or 0)
    for name, value, high in (("hours", hours, 18), ("minutes", minutes, 59), ("seconds", seconds, 59)):
        if value > high:
            low = -high if name == "hours" else 0
            raise JavaTimeError(
                "date_time_exception",
                f"Zone offset {name} not in valid range: value {value * sign if name == 'hours' else value} "
                f"is not in the range {low} to {high}",
            )
    total = sign * (hours * 3600 + minutes * 60 + seconds)
    if abs(total) > 18 * 3600:
        raise JavaTimeError("date_time_exception", "Zone offset not in valid range: -18:00 to +18:00")
    return offset_zone(total)


def offset_zone(seconds: int) -> Zone:
    if seconds == 0:
        return UTC_ZONE
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")
    return Zone(text, timezone(timedelta(seconds=seconds)))


def zone_of(text: str) -> Zone:
    """ZoneId.of, with Java's errors for unknown ids and malformed offsets."""
    if text == "Z":
        return UTC_ZONE
    if text[:1] in "+-":
        return _offset(text)
    for prefix in ("UTC", "GMT", "UT"):
        if text.startswith(prefix) and text[len(prefix) : len(prefix) + 1] in ("+", "-"):
            inner = _offset(text[len(prefix) :])
            return Zone(f"{prefix}{inner.id if inner.id != 'Z' else ''}", inner.tz)
    if text in ("UTC", "GMT", "UT"):
        return Zone(text, UTC)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9~/._+-]+", text):
        raise JavaTimeError(
            "date_time_exception", f"Invalid ID for region-based ZoneId, invalid format: {text}"
        )
    try:
        return Zone(text, ZoneInfo(text))
    except (ZoneInfoNotFoundError, ValueError):
        raise JavaTimeError("zone_rules_exception", f"Unknown time-zone ID: {text}") from None


# --- locales --------------------------------------------------------------------------------------

MONTHS = [calendar.month_name[i] for i in range(1, 13)]
DAYS = [calendar.day_name[i] for i in range(7)]  # Monday first
_SUNDAY_FIRST = {"US", "CA", "JP", "BR", "IL", "MX", "PH", "IN", "KR", "TW", "ZA", "AU", "SA", "HK", "PE"}
_ISO_WEEKS = {
    "GB",
    "DE",
    "FR",
    "IT",
    "ES",
    "NL",
    "BE",
    "AT",
    "CH",
    "SE",
    "NO",
    "DK",
    "FI",
    "IE",
    "PL",
    "CZ",
    "PT",
}


@dataclass(frozen=True)
class Locale:
    tag: str
    first_day: int  # 0 = Monday ... 6 = Sunday
    min_days: int

    @property
    def english(self) -> bool:
        return self.tag == "" or self.tag.split("-")[0].lower() == "en"


ROOT = Locale("", 0, 4)  # Elasticsearch's ROOT follows ISO week rules


def locale_of(text: str) -> Locale:
    """LocaleUtils.parse: language[-_]country[-_]variant; week rules from the country."""
    parts = re.split(r"[-_]", text)
    if text in ("", "ROOT", "root"):
        return ROOT
    country = parts[1].upper() if len(parts) > 1 else ""
    if country in _SUNDAY_FIRST:
        return Locale(text, 6, 1)
    if country in _ISO_WEEKS:
        return Locale(text, 0, 4)
    return Locale(text, 0, 1)


def _week_one(year: int, locale: Locale) -> date:
    jan1 = date(year, 1, 1)
    into_week = (jan1.weekday() - locale.first_day) % 7
    start = jan1 - timedelta(days=into_week)
    return start if 7 - into_week >= locale.min_days else start + timedelta(days=7)


def week_fields(day: date, locale: Locale) -> tuple[int, int, int]:
    """(week-based year, week of that year, localized day of week 1-7) of a date."""
    year = day.year
    if day < _week_one(year, locale):
        year -= 1
    elif day >= _week_one(year + 1, locale):
        year += 1
    week = (day - _week_one(year, locale)).days // 7 + 1
    return year, week, (day.weekday() - locale.first_day) % 7 + 1


# --- pattern elements -----------------------------------------------------------------------------


@dataclass
class Fields:
    """What a parse found (ChronoField name -> value), plus the zone or offset."""

    values: dict[str, int] = field(default_factory=dict)
    zone: Zone | None = None


@dataclass
class Element:
    def parse(self, text: str, pos: int, fields: Fields, ctx: Parse) -> int:
        """The position after this element, or -(position + 1) of the failure."""
        raise NotImplementedError

    def format(self, moment: datetime, zone: Zone, locale: Locale) -> str:
        raise NotImplementedError


@dataclass
class Literal(Element):
    text: str

    def parse(self, text, pos, fields, ctx):
        return pos + len(self.text) if text.startswith(self.text, pos) else ~pos

    def format(self, moment, zone, locale):
        return self.text


@dataclass
class Number(Element):
    name: str  # field name
    min_width: int
    max_width: int
    exceeds_pad: bool = False
    reduced: bool = False  # two-digit year, base 2000
    get: Callable[[datetime, Locale], int] | None = None

    @property
    def fixed(self) -> bool:
        return self.min_width == self.max_width

    def parse(self, text, pos, fields, ctx):
        start = pos
        sign = 1
        if self.name in ("year", "year_of_era", "week_based_year") and pos < len(text) and text[pos] in "+-":
            if not self.exceeds_pad and text[pos] == "+":
                return ~pos
            sign = -1 if text[pos] == "-" else 1
            pos += 1
        run = 0
        while pos + run < len(text) and text[pos + run].isdigit() and text[pos + run].isascii():
            run += 1
        digits = min(self.max_width, run - ctx.reserved) if ctx.reserved else min(self.max_width, run)
        pos += max(digits, 0)
        if digits < self.min_width:
            return ~start
        value = int(text[pos - digits : pos]) * sign
        if self.reduced:
            value += 2000
        fields.values[self.name] = value
        return pos

    def format(self, moment, zone, locale):
        value = self.get(moment, locale)
        if self.reduced:
            return f"{value % 100:02d}"
        body = f"{abs(value):0{self.min_width}d}"
        if value < 0:
            return "-" + body
        return ("+" + body) if self.exceeds_pad and len(body) > self.min_width else body


@dataclass
class Fraction(Element):
    width: int

    def parse(self, text, pos, fields, ctx):
        end = pos
        while end < len(text) and end - pos < self.width and text[end].isdigit() and text[end].isascii():
            end += 1
        if end - pos < self.width:
            return ~pos
        fields.values["nano"] = int(text[pos:end].ljust(9, "0"))
        return end

    def format(self, moment, zone, locale):
        return f"{moment.microsecond * 1000:09d}"[: self.width] if self.width <= 9 else ""


@dataclass
class Text(Element):
    name: str  # month, day_of_week, ampm, era
    full: bool

    def _choices(self) -> list[tuple[str, int]]:
        if self.name == "month":
            return [(m if self.full else m[:3], i + 1) for i, m in enumerate(MONTHS)]
        if self.name == "day_of_week":
            return [(d if self.full else d[:3], i + 1) for i, d in enumerate(DAYS)]
        if self.name == "ampm":
            return [("AM", 0), ("PM", 1)]
        return [("Anno Domini" if self.full else "AD", 1), ("Before Christ" if self.full else "BC", 0)]

    def parse(self, text, pos, fields, ctx):
        for word, value in sorted(self._choices(), key=lambda c: -len(c[0])):
            if text.startswith(word, pos):
                fields.values[self.name] = value
                return pos + len(word)
        return ~pos

    def format(self, moment, zone, locale):
        value = {
            "month": moment.month,
            "day_of_week": moment.isoweekday(),
            "ampm": int(moment.hour >= 12),
            "era": 1,
        }[self.name]
        return next(word for word, v in self._choices() if v == value)


@dataclass
class Offset(Element):
    """appendOffset(pattern, noOffsetText): +HH, +HHmm, +HHMM, +HH:mm, +HH:MM, +HHMMss, +HH:MM:ss."""

    pattern: str
    no_offset: str

    def parse(self, text, pos, fields, ctx):
        if self.no_offset and text.startswith(self.no_offset, pos):
            fields.zone = UTC_ZONE
            return pos + len(self.no_offset)
        colon = ":" if ":" in self.pattern else ""
        parts = self.pattern.lstrip("+").split(":") if colon else re.findall(r"HH|MM|mm|SS|ss", self.pattern)
        match = re.compile(r"[+-]\d{2}").match(text, pos)
        if match is None:
            return ~pos
        end, values = match.end(), [int(text[pos + 1 : pos + 3])]
        for part in parts[1:]:
            piece = re.compile(re.escape(colon) + r"\d{2}").match(text, end)
            if piece is None:
                if part.islower():  # optional minutes/seconds
                    break
                return ~pos
            values.append(int(piece.group()[-2:]))
            end = piece.end()
        hours, minutes, seconds = (values + [0, 0])[:3]
        if minutes > 59 or seconds > 59 or hours > 18:
            return ~pos
        sign = -1 if text[pos] == "-" else 1
        fields.zone = offset_zone(sign * (hours * 3600 + minutes * 60 + seconds))
        return end

    def format(self, moment, zone, locale):
        total = int(moment.utcoffset().total_seconds())
        if total == 0 and self.no_offset:
            return self.no_offset
        sign = "-" if total < 0 else "+"
        hours, rest = divmod(abs(total), 3600)
        minutes, seconds = divmod(rest, 60)
        colon = ":" if ":" in self.pattern else ""
        out = f"{sign}{hours:02d}"
        if "MM" in self.pattern or ("mm" in self.pattern and (minutes or seconds)):
            out += f"{colon}{minutes:02d}"
        if "SS" in self.pattern or ("ss" in self.pattern and seconds):
            out += f"{colon}{seconds:02d}"
        return out


@dataclass
class LocalizedOffset(Element):
    full: bool

    def parse(self, text, pos, fields, ctx):
        if not text.startswith("GMT", pos):
            return ~pos
        pattern = r"[+-]\d{2}:\d{2}(?::\d{2})?" if self.full else r"[+-]\d{1,2}(?::\d{2}(?::\d{2})?)?"
        match = re.compile(pattern).match(text, pos + 3)
        if match is None:
            fields.zone = UTC_ZONE
            return pos + 3
        fields.zone = _offset(match.group())
        return match.end()

    def format(self, moment, zone, locale):
        total = int(moment.utcoffset().total_seconds())
        if total == 0:
            return "GMT"
        sign = "-" if total < 0 else "+"
        hours, rest = divmod(abs(total), 3600)
        minutes, seconds = divmod(rest, 60)
        if self.full:
            return f"GMT{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
        return (
            f"GMT{sign}{hours}"
            + (f":{minutes:02d}" if minutes or seconds else "")
            + (f":{seconds:02d}" if seconds else "")
        )


@dataclass
class ZoneText(Element):
    """VV (zone id) or z (short zone name)."""

    id_only: bool

    def parse(self, text, pos, fields, ctx):
        match = re.compile(r"[A-Za-z][A-Za-z0-9~/._+-]*").match(text, pos)
        if match is None:
            return ~pos
        candidate = match.group()
        while candidate:
            try:
                fields.zone = zone_of(candidate)
                return pos + len(candidate)
            except JavaTimeError:
                candidate = candidate[:-1]
        return ~pos

    def format(self, moment, zone, locale):
        if self.id_only:
            return zone.id
        if zone.is_offset:
            return zone.id
        return moment.tzname() or zone.id


@dataclass
class Optional(Element):
    elements: list[Element]

    def parse(self, text, pos, fields, ctx):
        trial = Fields(dict(fields.values), fields.zone)
        end = parse_elements(self.elements, text, pos, trial, ctx)
        if end < 0:
            return pos
        fields.values, fields.zone = trial.values, trial.zone
        return end

    def format(self, moment, zone, locale):
        return "".join(e.format(moment, zone, locale) for e in self.elements)


@dataclass
class Parse:
    """Adjacent value parsing: digits the fixed-width numbers right after this one need."""

    reserved: int = 0


def parse_elements(elements: list[Element], text: str, pos: int, fields: Fields, ctx: Parse) -> int:
    for i, element in enumerate(elements):
        reserved = 0
        if isinstance(element, Number) and not element.fixed:
            for following in elements[i + 1 :]:
                if isinstance(following, Number) and following.fixed:
                    reserved += following.min_width
                elif isinstance(following, Fraction):
                    reserved += following.width
                else:
                    break
        pos = element.parse(text, pos, fields, Parse(reserved))
        if pos < 0:
            return pos
    return pos


# --- pattern compiler -----------------------------------------------------------------------------


def _year(moment, locale):
    return moment.year


def _week_year(moment, locale):
    return week_fields(moment.date(), locale)[0]


def _getter(name: str) -> Callable[[datetime, Locale], int]:
    return {
        "year": _year,
        "year_of_era": _year,
        "week_based_year": _week_year,
        "month": lambda m, loc: m.month,
        "day": lambda m, loc: m.day,
        "day_of_year": lambda m, loc: m.timetuple().tm_yday,
        "hour": lambda m, loc: m.hour,
        "hour12": lambda m, loc: (m.hour % 12) or 12,
        "hour24": lambda m, loc: m.hour or 24,
        "hour11": lambda m, loc: m.hour % 12,
        "minute": lambda m, loc: m.minute,
        "second": lambda m, loc: m.second,
        "nano_value": lambda m, loc: m.microsecond * 1000,
        "week": lambda m, loc: week_fields(m.date(), loc)[1],
        "local_day_of_week": lambda m, loc: week_fields(m.date(), loc)[2],
    }[name]


def _number(
    name: str, min_width: int, max_width: int, exceeds_pad: bool = False, reduced: bool = False
) -> Number:
    return Number(name, min_width, max_width, exceeds_pad, reduced, _getter(name))


_TWO_DIGIT_FIELDS = {
    "d": "day",
    "H": "hour",
    "h": "hour12",
    "k": "hour24",
    "K": "hour11",
    "m": "minute",
    "s": "second",
}
_UNSUPPORTED = set("QqWFgBNAp")  # valid java.time letters the sandbox does not run


def _letter(letter: str, count: int) -> Element:
    def too_many() -> JavaTimeError:
        return _illegal(f"Too many pattern letters: {letter}")

    if letter in "yuY":
        name = {"y": "year_of_era", "u": "year", "Y": "week_based_year"}[letter]
        if count == 2:
            return _number(name, 2, 2, reduced=True)
        return _number(name, count, 19, exceeds_pad=count >= 4)
    if letter in "ML":
        if count <= 2:
            return _number("month", count, 2 if count == 2 else 19)
        if count <= 4:
            return Text("month", full=count == 4)
        raise Unsupported("narrow month names (MMMMM)")
    if letter in _TWO_DIGIT_FIELDS:
        if count > 2:
            raise too_many()
        return _number(_TWO_DIGIT_FIELDS[letter], count, 2 if count == 2 else 19)
    if letter == "D":
        if count > 3:
            raise too_many()
        return _number("day_of_year", count, {1: 19, 2: 3, 3: 3}[count])
    if letter == "S":
        return Fraction(count)
    if letter == "n":
        return _number("nano_value", count, 19)
    if letter == "a":
        if count > 1:
            raise too_many()
        return Text("ampm", full=False)
    if letter == "G":
        if count == 5:
            raise Unsupported("narrow era names (GGGGG)")
        return Text("era", full=count == 4)
    if letter in "Eec":
        if letter in "ec" and count <= 2:
            return _number("local_day_of_week", count, count if count == 2 else 19)
        if count == 5 or (letter == "c" and count == 2):
            raise Unsupported(f"narrow day names ({letter * count})")
        if count > 5:
            raise too_many()
        return Text("day_of_week", full=count == 4)
    if letter == "w":
        if count > 2:
            raise too_many()
        return _number("week", count, 2 if count == 2 else 19)
    if letter == "Z":
        if count <= 3:
            return Offset("+HHMM", "+0000")
        if count == 4:
            return LocalizedOffset(full=True)
        if count == 5:
            return Offset("+HH:MM:ss", "Z")
        raise too_many()
    if letter in "Xx":
        if count > 5:
            raise too_many()
        patterns = ["+HHmm", "+HHMM", "+HH:MM", "+HHMMss", "+HH:MM:ss"]
        zero = ["+00", "+0000", "+00:00", "+0000", "+00:00"]
        return Offset(patterns[count - 1], "Z" if letter == "X" else zero[count - 1])
    if letter == "O":
        if count not in (1, 4):
            raise _illegal(f"Pattern letter count must be 1 or 4: {letter}")
        return LocalizedOffset(full=count == 4)
    if letter == "V":
        if count != 2:
            raise _illegal(f"Pattern letter count must be 2: {letter}")
        return ZoneText(id_only=True)
    if letter == "z":
        if count > 4:
            raise too_many()
        if count == 4:
            raise Unsupported("full time-zone names (zzzz)")
        return ZoneText(id_only=False)
    if letter in _UNSUPPORTED:
        raise Unsupported(f"the pattern letter [{letter}]")
    raise _illegal(f"Unknown pattern letter: {letter}")


def compile_pattern(pattern: str) -> list[Element]:
    """DateTimeFormatterBuilder.appendPattern."""
    stack: list[list[Element]] = [[]]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char.isascii() and char.isalpha():
            end = i
            while end < len(pattern) and pattern[end] == char:
                end += 1
            stack[-1].append(_letter(char, end - i))
            i = end
        elif char == "'":
            end = i + 1
            literal = ""
            while True:
                if end >= len(pattern):
                    raise _illegal(f"Pattern ends with an incomplete string literal: {pattern}")
                if pattern[end] == "'":
                    if end + 1 < len(pattern) and pattern[end + 1] == "'":
                        literal += "'"
                        end += 2
                        continue
                    break
                literal += pattern[end]
                end += 1
            stack[-1].append(Literal(literal if end > i + 1 else "'"))
            i = end + 1
        elif char == "[":
            stack.append([])
            i += 1
        elif char == "]":
            if len(stack) == 1:
                raise _illegal("Pattern invalid as it contains ] without previous [")
            inner = stack.pop()
            stack[-1].append(Optional(inner))
            i += 1
        elif char in "{}#":
            raise _illegal(f"Pattern includes reserved character: '{char}'")
        else:
            stack[-1].append(Literal(char))
            i += 1
    while len(stack) > 1:
        inner = stack.pop()
        stack[-1].append(Optional(inner))
    return stack[0]


# --- resolving parsed fields ----------------------------------------------------------------------

_RANGES = {
    "month": ("MonthOfYear", 1, 12),
    "day": ("DayOfMonth", 1, 31),
    "day_of_year": ("DayOfYear", 1, 366),
    "hour": ("HourOfDay", 0, 23),
    "hour12": ("ClockHourOfAmPm", 1, 12),
    "hour24": ("ClockHourOfDay", 1, 24),
    "hour11": ("HourOfAmPm", 0, 11),
    "minute": ("MinuteOfHour", 0, 59),
    "second": ("SecondOfMinute", 0, 59),
    "week": ("WeekOfWeekBasedYear", 1, 53),
    "local_day_of_week": ("DayOfWeek", 1, 7),
    "nano_value": ("NanoOfSecond", 0, 999_999_999),
}


def _resolve(fields: Fields, zone: Zone, locale: Locale, text: str) -> datetime:
    """DateFormatters.from: missing parts default to the start of the period; no year at all means
    this year (DateFormat.Java). STRICT resolution errors name the field and its valid range."""
    v = fields.values
    for name, (java_name, low, high) in _RANGES.items():
        if name in v and not low <= v[name] <= high:
            raise _unparsable(text, f"Invalid value for {java_name} (valid values {low} - {high}): {v[name]}")
    hour = v.get("hour")
    if hour is None and "hour24" in v:
        hour = v["hour24"] % 24
    if hour is None and ("hour12" in v or "hour11" in v):
        hour = v.get("hour12", 0) % 12 if "hour12" in v else v["hour11"]
        hour += 12 * v.get("ampm", 0)
    nano = v.get("nano", v.get("nano_value", 0))
    clock = (hour or 0, v.get("minute", 0), v.get("second", 0), nano // 1000)
    year = v.get("year", v.get("year_of_era"))
    if year is not None and v.get("era") == 0:
        year = 1 - year
    if year is None and "week_based_year" not in v:
        # DateFormat.Java: this year, then the parsed fields applied (day before month, as it does).
        year, month = datetime.now(UTC).year, v.get("month", 1)
        day = min(v.get("day", 1), calendar.monthrange(year, month)[1])  # with(MONTH) clamps the day
        return datetime(year, month, day, *clock).replace(tzinfo=zone.tz)
    try:
        if "week_based_year" in v and "month" not in v:
            start = _week_one(v["week_based_year"], locale)
            day = start + timedelta(days=(v.get("week", 1) - 1) * 7 + v.get("local_day_of_week", 1) - 1)
        elif "day_of_year" in v and "month" not in v:
            day = date(year, 1, 1) + timedelta(days=v["day_of_year"] - 1)
            if day.year != year:
                raise _unparsable(text, f"Invalid date 'DayOfYear 366' as '{year}' is not a leap year")
        else:
            month, dom = v.get("month", 1), v.get("day", 1)
            if dom > calendar.monthrange(year, month)[1]:
                if month == 2 and dom == 29:
                    raise _unparsable(text, f"Invalid date 'February 29' as '{year}' is not a leap year")
                raise _unparsable(text, f"Invalid date '{calendar.month_name[month].upper()} {dom}'")
            day = date(year, month, dom)
    except (ValueError, OverflowError):
        raise _unparsable(text, f"Invalid value for YearOfEra: {year}") from None
    if "day_of_week" in v and v["day_of_week"] != day.isoweekday():
        raise _unparsable(
            text,
            f"Conflict found: Field DayOfWeek {day.isoweekday()} differs from DayOfWeek {v['day_of_week']} "
            f"derived from {day.isoformat()}",
        )
    tz = (fields.zone or zone).tz
    return datetime(day.year, day.month, day.day, *clock).replace(tzinfo=tz)


def _unparsable(text: str, detail: str) -> JavaTimeError:
    return JavaTimeError("date_time_parse_exception", f"Text '{text}' could not be parsed: {detail}")


# --- formatters -----------------------------------------------------------------------------------


class Formatter:
    """One DateFormatter: parse(text, zone, locale) -> aware datetime; format(datetime, zone, locale)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def parse(self, text: str, zone: Zone, locale: Locale) -> datetime:
        raise NotImplementedError

    def format(self, moment: datetime, zone: Zone, locale: Locale) -> str:
        raise NotImplementedError

    def _failed(self, text: str, cause: JavaTimeError) -> JavaTimeError:
        return _illegal(f"failed to parse date field [{text}] with format [{self.name}]", cause)

    def _resolved(self, fields: Fields, zone: Zone, locale: Locale, text: str) -> datetime:
        """The moment the parsed fields name; a field that cannot resolve fails this format's parse."""
        try:
            return _resolve(fields, zone, locale, text)
        except JavaTimeError as err:
            raise self._failed(text, err) from None


class PatternFormatter(Formatter):
    def __init__(self, name: str, pattern: str) -> None:
        super().__init__(name)
        self.elements = compile_pattern(pattern)
        self.uses_text = any(isinstance(e, Text) for e in _flatten(self.elements))

    def parse(self, text, zone, locale):
        if not text:
            raise _illegal("cannot parse empty datetime")
        if self.uses_text and not locale.english:
            raise _illegal(
                f"es_sandbox knows month and day names in English only, not in locale [{locale.tag}]"
            )
        fields = Fields()
        end = parse_elements(self.elements, text, 0, fields, Parse())
        if end < 0:
            raise self._failed(text, _parse_exception(text, f"could not be parsed at index {~end}"))
        if end < len(text):
            raise self._failed(
                text, _parse_exception(text, f"could not be parsed, unparsed text found at index {end}")
            )
        return self._resolved(fields, zone, locale, text)

    def format(self, moment, zone, locale):
        return _format_elements(self.elements, moment, zone, locale)


def _format_elements(elements: list[Element], moment: datetime, zone: Zone, locale: Locale) -> str:
    local = moment.astimezone(UTC).astimezone(zone.tz)  # normalises a wall time in a DST gap
    return "".join(e.format(local, zone, locale) for e in elements)


def _flatten(elements: list[Element]):
    for element in elements:
        if isinstance(element, Optional):
            yield from _flatten(element.elements)
        else:
            yield element


def _parse_exception(text: str, detail: str) -> JavaTimeError:
    return JavaTimeError("date_time_parse_exception", f"Text '{text}' {detail}")


class IsoFormatter(Formatter):
    """iso8601 / strict_date_optional_time: yyyy[-MM[-dd[THH[:mm[:ss[.fraction]]][zone]]]]."""

    _PRINT = compile_pattern("uuuu-MM-dd'T'HH:mm:ss.SSSXXX")

    def __init__(self, name: str, nanos: bool = False) -> None:
        super().__init__(name)
        self.nanos = nanos
        second = r"(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?"
        time = rf"(?P<hour>\d{{2}})(?::(?P<minute>\d{{2}})(?::{second})?)?"
        zone = r"(?P<zone>Z|[+-]\d{2}(?::?\d{2})?)"
        self.regex = re.compile(
            rf"(?P<year>[+-]\d{{4,9}}|\d{{4}})(?:-(?P<month>\d{{2}})(?:-(?P<day>\d{{2}})(?:T{time}{zone}?)?)?)?"
        )

    def parse(self, text, zone, locale):
        if not text:
            raise _illegal("cannot parse empty datetime")
        match = self.regex.match(text)
        end = match.end() if match else 0
        if match is None or end < len(text):
            raise self._failed(text, _parse_exception(text, f"could not be parsed at index {end}"))
        parts = {k: v for k, v in match.groupdict().items() if v is not None}
        fields = Fields(
            {k: int(parts[k]) for k in ("year", "month", "day", "hour", "minute", "second") if k in parts}
        )
        if "fraction" in parts:
            fields.values["nano"] = int(parts["fraction"].ljust(9, "0"))
        if "zone" in parts:
            fields.zone = UTC_ZONE if parts["zone"] == "Z" else _offset(parts["zone"])
        return self._resolved(fields, zone, locale, text)

    def format(self, moment, zone, locale):
        elements = compile_pattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSSSSSXXX") if self.nanos else self._PRINT
        return _format_elements(elements, moment, zone, locale)


class EpochFormatter(Formatter):
    def __init__(self, name: str, unit_seconds: float) -> None:
        super().__init__(name)
        self.unit = unit_seconds

    def parse(self, text, zone, locale):
        if not re.fullmatch(r"-?\d+(?:\.\d+)?", text or ""):
            raise self._failed(text, _parse_exception(text, "could not be parsed at index 0"))
        seconds = float(text) * self.unit
        return datetime.fromtimestamp(0, UTC) + timedelta(seconds=seconds)

    def format(self, moment, zone, locale):
        seconds = (moment - datetime.fromtimestamp(0, UTC)).total_seconds()
        return str(int(seconds * 1000)) if self.unit < 1 else str(int(seconds))


class AlternativesFormatter(Formatter):
    """`a||b`: parses with the first that succeeds, prints with the first."""

    def __init__(self, name: str, parts: list[Formatter]) -> None:
        super().__init__(name)
        self.parts = parts

    def parse(self, text, zone, locale):
        errors = []
        for part in self.parts:
            try:
                return part.parse(text, zone, locale)
            except JavaTimeError as err:
                errors.append(err)
        raise _illegal(f"failed to parse date field [{text}] with format [{self.name}]", errors[0].cause)

    def format(self, moment, zone, locale):
        return self.parts[0].format(moment, zone, locale)


_NAMED_PATTERNS = {
    "strict_date": "uuuu-MM-dd",
    "date": "uuuu-MM-dd",
    "strict_year_month_day": "uuuu-MM-dd",
    "year_month_day": "uuuu-MM-dd",
    "basic_date": "uuuuMMdd",
    "strict_date_time": "uuuu-MM-dd'T'HH:mm:ss.SSSXXX",
    "date_time": "uuuu-MM-dd'T'HH:mm:ss.SSSXXX",
    "strict_date_time_no_millis": "uuuu-MM-dd'T'HH:mm:ssXXX",
    "date_time_no_millis": "uuuu-MM-dd'T'HH:mm:ssXXX",
    "strict_date_hour_minute_second": "uuuu-MM-dd'T'HH:mm:ss",
    "date_hour_minute_second": "uuuu-MM-dd'T'HH:mm:ss",
    "strict_date_hour_minute_second_millis": "uuuu-MM-dd'T'HH:mm:ss.SSS",
    "date_hour_minute_second_millis": "uuuu-MM-dd'T'HH:mm:ss.SSS",
    "basic_date_time": "uuuuMMdd'T'HHmmss.SSSXX",
    "basic_date_time_no_millis": "uuuuMMdd'T'HHmmssXX",
    "strict_year_month": "uuuu-MM",
    "year_month": "uuuu-MM",
    "strict_year": "uuuu",
    "year": "uuuu",
    "strict_hour_minute_second": "HH:mm:ss",
    "hour_minute_second": "HH:mm:ss",
}
# Every built-in name of Elasticsearch's DateFormatter: the ones above run, the others are refused.
_OTHER_NAMES = {
    f"{prefix}{name}"
    for prefix in ("", "strict_")
    for name in (
        "basic_date_time_no_millis basic_ordinal_date basic_ordinal_date_time basic_ordinal_date_time_no_millis "
        "basic_time basic_time_no_millis basic_t_time basic_t_time_no_millis basic_week_date basic_week_date_time "
        "basic_week_date_time_no_millis date_hour date_hour_minute date_hour_minute_second_fraction hour "
        "hour_minute hour_minute_second_fraction hour_minute_second_millis ordinal_date ordinal_date_time "
        "ordinal_date_time_no_millis time time_no_millis t_time t_time_no_millis week_date week_date_time "
        "week_date_time_no_millis weekyear weekyear_week weekyear_week_day"
    ).split()
} - set(_NAMED_PATTERNS)


def formatter_for(format_string: str) -> Formatter:
    """DateFormatter.forPattern: a built-in name, `||` alternatives, or a java.time pattern.
    Raises JavaTimeError for invalid patterns and Unsupported for what the sandbox does not run."""
    if "||" in format_string:
        return AlternativesFormatter(format_string, [formatter_for(p) for p in format_string.split("||")])
    name = format_string
    if name in ("iso8601", "strict_date_optional_time", "date_optional_time"):
        return IsoFormatter(name)
    if name == "strict_date_optional_time_nanos":
        return IsoFormatter(name, nanos=True)
    if name == "epoch_millis":
        return EpochFormatter(name, 0.001)
    if name == "epoch_second":
        return EpochFormatter(name, 1.0)
    if name in _NAMED_PATTERNS:
        return PatternFormatter(name, _NAMED_PATTERNS[name])
    if name in _OTHER_NAMES:
        raise Unsupported(f"the built-in format [{name}]")
    try:
        return PatternFormatter(name, name)
    except JavaTimeError as err:
        raise _illegal(f"Invalid format: [{name}]: {err.message}", err) from None
