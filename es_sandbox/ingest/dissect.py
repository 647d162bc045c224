"""The dissect processor: splitting a string by the delimiters between %{key}s, with the key
modifiers (->, +, +/n, *, &, ?) and the pattern and match errors Elasticsearch's dissect library
gives."""

from __future__ import annotations

import re
from dataclasses import dataclass

from es_sandbox.errors import EsError
from es_sandbox.ingest.config import wrapped_cause
from es_sandbox.ingest.processors import Processor, field_string

_LEADING = re.compile(r"(.*?)%", re.DOTALL)  # matched at the start only
_KEY_AND_DELIMITER = re.compile(r"%\{([^}]*?)}([^%]*)", re.DOTALL)
_MODIFIERS = re.compile(r"[/+*&?]")
_LEFT_MODIFIER = re.compile(r"([+*&?])(.*?)(->)?$", re.DOTALL)
_RIGHT_PADDING = re.compile(r"^(.*?)(->)?$", re.DOTALL)
_APPEND_WITH_ORDER = re.compile(r"[+](.*?)(/)([0-9]+)(->)?$", re.DOTALL)


class DissectError(EsError):
    """DissectException: no ElasticsearchException, so its type is its class name in snake case."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(500, kind, message)
        self.java_class = "org.elasticsearch.dissect.DissectException$" + kind.title().replace("_", "")


_error = DissectError


@dataclass
class Key:
    name: str
    modifier: str  # "", "+", "/", "*", "&", "?"
    skip: bool
    skip_right_padding: bool
    append_position: int = 0

    @classmethod
    def parse(cls, text: str) -> Key:
        modifier = ""
        for count, found in enumerate(_MODIFIERS.findall(text), start=1):
            previous, modifier = modifier, found
            if count > 1 and not (previous == "+" and modifier == "/"):
                raise _error(
                    "key_parse", f"Unable to parse key: {text} Reason: multiple modifiers are not allowed."
                )
        name, padding, position = "", None, 0
        if modifier == "":
            name, padding = _RIGHT_PADDING.match(text).groups()
        elif modifier == "/":
            match = _APPEND_WITH_ORDER.search(text)
            if match is not None:
                name, position, padding = match.group(1), int(match.group(3)), match.group(4)
            else:
                name = None
        else:
            match = _LEFT_MODIFIER.search(text)
            name, padding = match.group(2), match.group(3)
        skip = modifier == "?" or (modifier == "" and name == "") or text == ""
        if name is None or (name == "" and not skip):
            raise _error(
                "key_parse", f"Unable to parse key: {text} Reason: The key name could not be determined"
            )
        return cls(name, modifier, skip, padding is not None, position)


class DissectPattern:
    """DissectParser: the pattern's leading delimiter and its (key, delimiter) pairs."""

    def __init__(self, pattern: str, append_separator: str) -> None:
        self.pattern, self.append_separator = pattern, append_separator
        leading = _LEADING.match(pattern)
        self.leading = leading.group(1) if leading else ""
        pairs = [
            (Key.parse(m.group(1)), m.group(2))
            for m in _KEY_AND_DELIMITER.finditer(pattern[len(self.leading) :])
        ]
        results = {key.name for key, _ in pairs if not key.skip}
        if not pairs or not results:
            raise self._parse_error("Unable to find any keys or delimiters.")
        appended = {key.name for key, _ in pairs if key.modifier in ("+", "/")}
        for key, _ in pairs:
            if key.modifier == "" and key.name in appended:
                key.modifier = "+"
        references: dict[str, list[Key]] = {}
        for key, _ in pairs:
            if key.modifier in ("*", "&"):
                references.setdefault(key.name, []).append(key)
        for keys in references.values():
            if len(keys) != 2:
                raise self._parse_error(
                    f"Found invalid key/reference associations: '{','.join(k.name for k in keys)}' "
                    "Please ensure each '*<key>' is matched with a matching '&<key>"
                )
        self.pairs = pairs
        self.result_count = len(results)

    def _parse_error(self, reason: str) -> EsError:
        return _error("pattern_parse", f"Unable to parse pattern: {self.pattern} Reason: {reason}")

    def parse(self, text: str) -> dict[str, str]:
        """Walks the input left to right looking for each delimiter in turn, as DissectParser.parse."""
        matches: list[tuple[Key, str]] = []
        data = text.encode()
        if len(text) > len(self.leading) and text.startswith(self.leading):
            pairs = iter(self.pairs)
            key, delimiter_text = next(pairs)
            delimiter = delimiter_text.encode()
            i = value_start = len(self.leading.encode())
            while i < len(data):
                if delimiter and data.startswith(delimiter, i):
                    matches.append((key, data[value_start:i].decode(errors="replace")))
                    i += len(delimiter)
                    exhausted = False
                    while i < len(data) and data.startswith(delimiter, i):
                        i += len(delimiter)
                        if not key.skip_right_padding:
                            following = next(pairs, None)
                            if following is None:
                                exhausted = True
                                break
                            key = following[0]
                            matches.append((key, ""))
                    following = None if exhausted else next(pairs, None)
                    if following is None:
                        break
                    key, delimiter = following[0], following[1].encode()
                    value_start = i
                # Like DissectParser's for loop, the byte right after a delimiter is never the start of
                # the next one (so "%{a},%{b}:%{c}" does not match "x,:y").
                i += 1
            if len(matches) != len(self.pairs) and not delimiter:
                matches.append((key, data[value_start:].decode(errors="replace")))
        results = self._results(matches)
        if len(matches) != len(self.pairs) or len(results) != self.result_count:
            raise _error(
                "find_match",
                f"Unable to find match for dissect pattern: {self.pattern} against source: {text}",
            )
        return results

    def _results(self, matches: list[tuple[Key, str]]) -> dict[str, str]:
        simple: dict[str, str] = {}
        references: dict[str, dict[str, str]] = {}
        appends: dict[str, list[tuple[int, int, str]]] = {}
        implicit_order = -1000
        for key, value in matches:
            if key.skip:
                continue
            if key.modifier == "":
                simple[key.name] = value
            elif key.modifier in ("+", "/"):
                order = key.append_position if key.modifier == "/" else implicit_order
                implicit_order += key.modifier == "+"
                parts = appends.setdefault(key.name, [])
                parts.append((order, len(parts), value))
            else:
                references.setdefault(key.name, {})["key" if key.modifier == "*" else "value"] = value
        results = dict(simple)
        for reference in references.values():
            results[reference.get("key")] = reference.get("value")
        for name, parts in appends.items():
            results[name] = self.append_separator.join(value for _, _, value in sorted(parts))
        return results


class DissectProcessor(Processor):
    type = "dissect"

    def __init__(self, tag, description, field, pattern, ignore_missing) -> None:
        super().__init__(tag, description)
        self.field, self.pattern, self.ignore_missing = field, pattern, ignore_missing

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        pattern = cfg.string("pattern")
        append_separator = cfg.string("append_separator", "")
        ignore_missing = cfg.boolean("ignore_missing", False)
        try:
            parsed = DissectPattern(pattern, append_separator)
        except DissectError as err:
            raise wrapped_cause(err, err.java_class) from None
        return cls(cfg.tag, None, field, parsed, ignore_missing)

    async def execute(self, doc):
        text = field_string(doc, self.field, self.ignore_missing)
        if text is None:
            return doc
        for name, value in self.pattern.parse(text).items():
            doc.set(name, value)
        return doc
