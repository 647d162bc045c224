"""Grok: the built-in pattern banks (legacy and ECS v1), expressions expanded into regexes as
Elasticsearch's Grok does, captures typed and collected as it collects them, and the grok processor.

The banks are logstash-patterns-core 4.3.1's pattern files (Apache License 2.0, in grok_patterns/ with
its LICENSE and NOTICE), loaded the way Elasticsearch loads its copy: the same files in the same order,
a later definition replacing an earlier one in place. Elasticsearch's copy differs from them in known
ways, which are reproduced: its ECS captures name fields with dots (`source.ip`) where Logstash writes
field references (`[source][ip]`), and its legacy bank keeps older UNIXPATH and LOGLEVEL definitions and
a two-digit ISO8601_HOUR (the legacy grok-patterns file carries the change, as the licence asks)."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.ingest.oniguruma import Untranslatable, compile_oniguruma
from es_sandbox.ingest.processors import Processor, field_string
from es_sandbox.java import (
    INT_MAX,
    INT_MIN,
    LONG_MAX,
    LONG_MIN,
    float32,
    java_str,
    parse_java_double,
    parse_java_integer,
)

PATTERNS_DIR = Path(__file__).with_name("grok_patterns")
ECS_MODES = ("disabled", "v1")
LEGACY_FILES = (
    "aws bacula bind bro exim firewalls grok-patterns haproxy httpd java junos linux-syslog maven "
    "mcollective-patterns mongodb nagios postgresql rails redis ruby squid"
).split()
ECS_FILES = (
    "aws bacula bind bro exim firewalls grok-patterns haproxy httpd java junos linux-syslog maven "
    "mcollective mongodb nagios postgresql rails redis ruby squid zeek"
).split()
MATCH_INDEX_FIELD = "_ingest._grok_match_index"

_LEADING_SPACE = re.compile(r"^\s+")
_FIELD_REFERENCE = re.compile(r"(%\{\w+:|\(\?<)((?:\[[^\]\[]+\])+)")
# Grok.GROK_PATTERN: %{NAME}, %{NAME:field}, %{NAME:field:type}, %{NAME=definition}
_GROK_REFERENCE = re.compile(
    r"%\{(?P<name>(?P<pattern>[A-z0-9]+)(?::(?P<subname>(?:[^\W_]|[@\[\]_:.-])+))?)"
    r"(?:=(?P<definition>(?:[^{}]+|\.+)+))?\}"
)
_MAX_EXPANSIONS = 100_000


def _dotted_field_names(definition: str) -> str:
    """`%{IP:[source][ip]}` as Elasticsearch's ECS bank writes it: `%{IP:source.ip}`."""
    return _FIELD_REFERENCE.sub(
        lambda m: m.group(1) + ".".join(re.findall(r"\[([^\]]+)\]", m.group(2))), definition
    )


@cache
def builtin_patterns(ecs_compatibility: str) -> dict[str, str]:
    """GrokBuiltinPatterns.get: every pattern of the mode's files, in load order."""
    ecs = ecs_compatibility == "v1"
    bank: dict[str, str] = {}
    for name in ECS_FILES if ecs else LEGACY_FILES:
        path = PATTERNS_DIR / ("ecs-v1" if ecs else "legacy") / name
        for line in path.read_text(encoding="utf-8").splitlines():
            line = _LEADING_SPACE.sub("", line)
            if not line or line.startswith("#"):
                continue
            parts = re.split(r"\s+", line, maxsplit=1)
            if len(parts) == 2:
                bank[parts[0]] = _dotted_field_names(parts[1]) if ecs else parts[1]
    check_bank(bank)
    return bank


def _references(bank: dict[str, str], name: str) -> list[str]:
    """The pattern names a pattern refers to (between %{ and } or :), each existing in the bank."""
    pattern = bank[name]
    found: list[str] = []
    i = pattern.find("%{")
    while i != -1:
        begin = i + 2
        ends = [e for e in (pattern.find("}", begin), pattern.find(":", begin)) if e != -1]
        if not ends:
            raise ValueError(f"pattern [{pattern}] has an invalid syntax")
        other = pattern[begin : min(ends)]
        if other not in found:
            if other not in bank:
                raise ValueError(f"pattern [{name}] is referencing a non-existent pattern [{other}]")
            found.append(other)
        i = pattern.find("%{", i + 1)
    return found


def check_bank(bank: dict[str, str]) -> None:
    """PatternBank.forbidCircularReferences: every reference exists, and no pattern reaches itself."""
    neighbours = {name: _references(bank, name) for name in bank}
    done: set[str] = set()
    for start in bank:
        if start in done:
            continue
        path = [start]
        stack = [iter(neighbours[start])]
        seen = {start}
        while stack:
            node = next(stack[-1], None)
            if node is None:
                stack.pop()
                path.pop()
                continue
            if node == start:
                raise ValueError(f"circular reference detected: {'->'.join([*path, node])}")
            if node in seen:
                continue
            seen.add(node)
            path.append(node)
            stack.append(iter(neighbours[node]))
        done.add(start)


def expand(expression: str, bank: dict[str, str]) -> str:
    """Grok.toRegex: each %{...} replaced by its pattern, as a named group when it names a field."""
    done: list[str] = []
    for _ in range(_MAX_EXPANSIONS):
        match = _GROK_REFERENCE.search(expression)
        if match is None:
            return "".join(done) + expression
        name, pattern_name, subname = match.group("name"), match.group("pattern"), match.group("subname")
        pattern = bank.get(pattern_name)
        if pattern is None:
            raise ValueError(f"Unable to find pattern [{pattern_name}] in Grok's pattern dictionary")
        if f"%{{{pattern_name}}}" in pattern or f"%{{{pattern_name}:" in pattern:
            raise ValueError(f"circular reference in pattern back [{pattern_name}]")
        part = f"(?<{name}>{pattern})" if subname is not None else f"(?:{pattern})"
        done.append(expression[: match.start()])
        expression = part + expression[match.end() :]
    raise ValueError("Can not convert grok patterns to regular expression")


def _number_format(text: str) -> EsError:
    return EsError(500, "number_format_exception", f'For input string: "{text}"')


def _typed(value: str, capture_type: str) -> Any:
    """GrokCaptureType: int, long, float, double, boolean; anything else stays a string."""
    if capture_type in ("int", "long"):
        low, high = (INT_MIN, INT_MAX) if capture_type == "int" else (LONG_MIN, LONG_MAX)
        number = parse_java_integer(value, low, high) if not value.startswith(("0x", "-0x")) else None
        if number is None:
            raise _number_format(value)
        return number
    if capture_type in ("float", "double"):
        number = parse_java_double(value)
        if number is None:
            raise _number_format(value)
        return float32(number) if capture_type == "float" else number
    if capture_type == "boolean":
        return value.lower() == "true"
    return value


class Grok:
    """A compiled grok expression: captures(text) -> {field: value} or None when it does not match."""

    def __init__(self, bank: dict[str, str], expression: str) -> None:
        regex, names = compile_oniguruma(expand(expression, bank))
        self.regex = regex
        self.captures_by_field: dict[str, list[tuple[str, str]]] = {}
        for index, name in enumerate(names):
            parts = name.split(":")
            field = parts[1] if len(parts) >= 2 else parts[0]
            capture_type = parts[2] if len(parts) == 3 else "string"
            self.captures_by_field.setdefault(field, []).append((f"g{index}", capture_type))

    def captures(self, text: str) -> dict[str, Any] | None:
        match = self.regex.search(text)
        if match is None:
            return None
        result: dict[str, Any] = {}
        for field, groups in self.captures_by_field.items():
            values = [_typed(match.group(g), t) for g, t in groups if match.group(g) is not None]
            if values:
                result[field] = values[0] if len(values) == 1 else values
        return result


@lru_cache(maxsize=512)
def _compiled(ecs_compatibility: str, custom: tuple[tuple[str, str], ...], expression: str) -> Grok:
    bank = builtin_patterns(ecs_compatibility)
    if custom:
        bank = {**bank, **dict(custom)}
        check_bank(bank)
    return Grok(bank, expression)


def combine(patterns: list[str], trace_match: bool) -> str:
    """GrokProcessor.combinePatterns: alternatives, named by index when trace_match is on."""
    if len(patterns) == 1:
        return patterns[0]
    if trace_match:
        return "|".join(f"(?<{MATCH_INDEX_FIELD}.{i}>{p})" for i, p in enumerate(patterns))
    return "|".join(f"(?:{p})" for p in patterns)


class GrokProcessor(Processor):
    type = "grok"

    def __init__(self, tag, description, field, patterns, grok, trace_match, ignore_missing) -> None:
        super().__init__(tag, description)
        self.field, self.patterns, self.grok = field, patterns, grok
        self.trace_match, self.ignore_missing = trace_match, ignore_missing

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        patterns = cfg.list("patterns", required=True)
        trace_match = cfg.boolean("trace_match", False)
        ignore_missing = cfg.boolean("ignore_missing", False)
        ecs_compatibility = cfg.string("ecs_compatibility", "disabled")
        if ecs_compatibility not in ECS_MODES:
            raise cfg.error("ecs_compatibility", f"unsupported mode '{ecs_compatibility}'")
        if not patterns:
            raise cfg.error("patterns", "List of patterns must not be empty")
        custom = cfg.map("pattern_definitions") or {}
        try:
            definitions = tuple((str(k), v if isinstance(v, str) else java_str(v)) for k, v in custom.items())
            grok = _compiled(ecs_compatibility, definitions, combine(patterns, trace_match))
        except (ValueError, Untranslatable) as err:
            listed = "[" + ", ".join(java_str(p) for p in patterns) + "]"
            prefix = "es_sandbox cannot run it with Python's re: " if isinstance(err, Untranslatable) else ""
            raise cfg.error("patterns", f"Invalid regex pattern found in: {listed}. {prefix}{err}") from None
        return cls(cfg.tag, None, field, patterns, grok, trace_match, ignore_missing)

    async def execute(self, doc):
        text = field_string(doc, self.field, self.ignore_missing)
        if text is None:
            return doc
        matches = self.grok.captures(text)
        if matches is None:
            raise illegal_argument(f"Provided Grok expressions do not match field value: [{text}]")
        for name, value in matches.items():
            doc.set(name, value)
        if self.trace_match:
            if len(self.patterns) > 1:
                matched = doc.get(MATCH_INDEX_FIELD)
                doc.set(MATCH_INDEX_FIELD, next(iter(matched)))
            else:
                doc.set(MATCH_INDEX_FIELD, "0")
        return doc
