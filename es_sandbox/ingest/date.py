"""The date processor: the field parsed with each of `formats` in turn (ISO8601, UNIX, UNIX_MS,
TAI64N or a java.time pattern), in the templated `timezone` and `locale`, written to `target_field`
with `output_format`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from es_sandbox.errors import EsError
from es_sandbox.ingest.config import config_error, wrapped_cause
from es_sandbox.ingest.document import render
from es_sandbox.ingest.javatime import (
    ROOT,
    UTC_ZONE,
    Formatter,
    JavaTimeError,
    Locale,
    Unsupported,
    Zone,
    formatter_for,
    locale_of,
    zone_of,
)
from es_sandbox.ingest.processors import Processor
from es_sandbox.java import LONG_MAX, LONG_MIN, java_str, parse_java_double, parse_java_integer

DEFAULT_OUTPUT_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"
_EPOCH = datetime.fromtimestamp(0, UTC)


def _number_format(text: str) -> JavaTimeError:
    return JavaTimeError("number_format_exception", f'For input string: "{text}"' if text else "empty String")


def _unix(text: str, zone: Zone, locale: Locale) -> datetime:
    """Instant.ofEpochMilli((long) (Double.parseDouble(date) * 1000.0))."""
    seconds = parse_java_double(text)
    if seconds is None:
        raise _number_format(text.strip())
    return _EPOCH + timedelta(milliseconds=int(seconds * 1000.0))


def _unix_ms(text: str, zone: Zone, locale: Locale) -> datetime:
    millis = parse_java_integer(text, LONG_MIN, LONG_MAX) if not text.startswith(("0x", "-0x")) else None
    if millis is None:
        raise _number_format(text)
    return _EPOCH + timedelta(milliseconds=millis)


def _tai64n(text: str, zone: Zone, locale: Locale) -> datetime:
    body = text[1:] if text.startswith("@") else text
    try:
        base, rest = int(body[1:16], 16), int(body[16:24], 16)
    except ValueError:
        raise _number_format(body[1:16]) from None
    return _EPOCH + timedelta(milliseconds=base * 1000 - 10000 + rest // 1_000_000)


class _Parser:
    """One entry of `formats`: a special keyword or a DateFormatter."""

    _KEYWORDS = {"UNIX": _unix, "UNIX_MS": _unix_ms, "TAI64N": _tai64n}

    def __init__(self, format_string: str) -> None:
        self.keyword = self._KEYWORDS.get(format_string)
        self.formatter: Formatter | None = None
        self.error: JavaTimeError | None = None
        if self.keyword is None:
            pattern = "iso8601" if format_string == "ISO8601" else format_string
            pattern = pattern[1:] if pattern.startswith("8") else pattern
            try:
                self.formatter = formatter_for(pattern)
            except JavaTimeError as err:  # an invalid pattern fails each document, as in Elasticsearch
                self.error = err

    def parse(self, text: str, zone: Zone, locale: Locale) -> datetime:
        if self.keyword is not None:
            return self.keyword(text, zone, locale)
        if self.error is not None:
            raise self.error
        # ISO8601 reads month and day names (there are none) with Locale.ROOT whatever the locale.
        return self.formatter.parse(text, zone, ROOT if self.formatter.name == "iso8601" else locale)


class DateProcessor(Processor):
    type = "date"

    def __init__(self, tag, description, field, target_field, parsers, timezone, locale, output) -> None:
        super().__init__(tag, description)
        self.field, self.target_field, self.parsers = field, target_field, parsers
        self.timezone, self.locale, self.output = timezone, locale, output

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        target_field = cfg.string("target_field", "@timestamp")
        timezone = cfg.optional_string("timezone")
        locale = cfg.optional_string("locale")
        formats = cfg.list("formats", required=True)
        output_format = cfg.string("output_format", DEFAULT_OUTPUT_FORMAT)
        try:
            output = formatter_for(output_format)
        except JavaTimeError as err:
            cause = JavaTimeError(
                "illegal_argument_exception", f"invalid output format [{output_format}]", err
            )
            raise wrapped_cause(_es_error(cause), "java.lang.IllegalArgumentException") from None
        except Unsupported as err:
            raise config_error(
                f"es_sandbox does not support {err} in date formats", prop="output_format"
            ) from None
        parsers = []
        for entry in formats:
            try:
                parsers.append(_Parser(java_str(entry)))
            except Unsupported as err:
                raise config_error(
                    f"es_sandbox does not support {err} in date formats", prop="formats"
                ) from None
        return cls(cfg.tag, None, field, target_field, parsers, timezone, locale, output)

    async def execute(self, doc):
        value = doc.get(self.field)
        text = None if value is None else java_str(value)
        try:
            zone = UTC_ZONE if self.timezone is None else zone_of(render(self.timezone, doc))
            locale = ROOT if self.locale is None else locale_of(render(self.locale, doc))
        except JavaTimeError as err:
            raise _unable(text, [err]) from None
        errors: list[JavaTimeError] = []
        for parser in self.parsers:
            try:
                moment = parser.parse(text if text is not None else "", zone, locale)
            except JavaTimeError as err:
                errors.append(err)
                continue
            doc.set(self.target_field, self.output.format(moment, zone, locale))
            return doc
        raise _unable(text, errors)


def _unable(text: str | None, errors: list[JavaTimeError]) -> EsError:
    """IllegalArgumentException("unable to parse date [..]", first failure with the others suppressed)."""
    caused_by = None
    if errors:
        caused_by = errors[0].xcontent()
        if len(errors) > 1:
            caused_by["suppressed"] = [e.xcontent() for e in errors[1:]]
    return EsError(
        400, "illegal_argument_exception", f"unable to parse date [{java_str(text)}]", caused_by=caused_by
    )


def _es_error(err: JavaTimeError) -> EsError:
    return EsError(400, err.kind, err.message, caused_by=err.cause.xcontent() if err.cause else None)
