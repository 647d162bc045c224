"""Chunking settings and the four chunkers, with Elasticsearch's validation texts and boundaries
(x-pack core `inference/chunking`: ChunkingSettingsBuilder, {Word,Sentence}Boundary{Chunker,
ChunkingSettings}, Recursive{Chunker,ChunkingSettings}, NoneChunkingSettings).

Chunk offsets here are code-point indices into the text; `chunk_offsets_utf16` gives them as ES
reports them (Java string indices, UTF-16 code units).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.inference.segmentation import Utf16Offsets, WordBreaks, sentence_ends
from es_sandbox.java import INT_MAX, INT_MIN, java_double_str, java_str

STRATEGIES = ("word", "sentence", "recursive", "none")
SCOPE = "chunking_settings"
SEPARATOR_GROUPS = {
    "plaintext": ("(?<!\\n)\\n\\n(?!\\n)", "(?<!\\n)\\n(?!\\n)"),
    "markdown": (
        "\n# ",
        "\n## ",
        "\n### ",
        "\n#### ",
        "\n##### ",
        "\n###### ",
        "\n^(?!\\s*$).*\\n-{1,}\\n",
        "\n^(?!\\s*$).*\\n={1,}\\n",
    ),
}
_VALID_KEYS = {
    "word": ("strategy", "max_chunk_size", "overlap"),
    "sentence": ("strategy", "max_chunk_size", "sentence_overlap"),
    "recursive": ("strategy", "max_chunk_size", "separator_group", "separators"),
}
_UNKNOWN_KEYS_PREFIX = {
    "word": "Word based",
    "sentence": "Sentence based",
    "recursive": "Recursive",
}
_MIN_CHUNK_SIZE = {"word": 10, "sentence": 20, "recursive": 10}


@dataclass(frozen=True)
class ChunkingSettings:
    strategy: str
    max_chunk_size: int | None = None
    overlap: int | None = None  # word
    sentence_overlap: int | None = None  # sentence
    separators: tuple[str, ...] | None = None  # recursive

    def to_xcontent(self) -> dict[str, Any]:
        body: dict[str, Any] = {"strategy": self.strategy}
        if self.strategy == "none":
            return body
        body["max_chunk_size"] = self.max_chunk_size
        if self.strategy == "word":
            body["overlap"] = self.overlap
        elif self.strategy == "sentence":
            body["sentence_overlap"] = self.sentence_overlap
        else:
            body["separators"] = list(self.separators or ())
        return body


DEFAULT_SETTINGS = ChunkingSettings("sentence", 250, sentence_overlap=1)
# Endpoints created before 8.16 have no stored chunking settings and chunk by words.
OLD_DEFAULT_SETTINGS = ChunkingSettings("word", 250, overlap=100)


# --- parsing ---------------------------------------------------------------------------------------


def validation_exception(*problems: str) -> EsError:
    """org.elasticsearch.common.ValidationException as a response ('Validation Failed: 1: a;2: b;')."""
    listed = "".join(f"{i}: {p};" for i, p in enumerate(problems, start=1))
    return EsError(400, "validation_exception", f"Validation Failed: {listed}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and INT_MIN <= value <= INT_MAX


def _not_type(name: str, value: Any, expected: str) -> str:
    return (
        f"field [{name}] is not of the expected type. The value [{java_str(value)}] cannot be "
        f"converted to a [{expected}]"
    )


def _required_positive_int(settings: dict[str, Any], name: str, problems: list[str]) -> int | None:
    """InferenceUtils.extractRequiredPositiveInteger."""
    value = settings.pop(name, None)
    if value is None:
        problems.append(f"[{SCOPE}] does not contain the required setting [{name}]")
        return None
    if not _is_int(value):
        problems.append(_not_type(name, value, "Integer"))
        return None
    if value <= 0:
        problems.append(f"[{SCOPE}] Invalid value [{value}]. [{name}] must be a positive integer")
        return None
    return value


def _at_least(value: int | None, name: str, minimum: int, problems: list[str]) -> int | None:
    if value is not None and value < minimum:
        problems.append(
            f"[{SCOPE}] Invalid value [{java_double_str(value)}]. [{name}] must be a greater than or equal to "
            f"[{java_double_str(minimum)}]"
        )
        return None
    return value


def _unknown_keys(strategy: str, settings: dict[str, Any], problems: list[str]) -> None:
    unknown = [k for k in settings if k not in _VALID_KEYS[strategy]]
    if unknown:
        problems.append(
            f"{_UNKNOWN_KEYS_PREFIX[strategy]} chunking settings can not have the following settings: "
            f"[{', '.join(unknown)}]"
        )


def parse_chunking_settings(raw: Any, *, default_when_empty: bool) -> ChunkingSettings | None:
    """ChunkingSettingsBuilder.fromMap: an endpoint's settings default to sentence/250/1 when empty;
    a semantic_text mapping's are None when null or empty (the endpoint's then apply)."""
    if raw is None or raw == {}:
        return DEFAULT_SETTINGS if default_when_empty else None
    if not isinstance(raw, dict):
        raise illegal_argument(f"[{SCOPE}] must be an object, found [{java_str(raw)}]")
    if "strategy" not in raw:
        raise illegal_argument("Can't generate Chunker without ChunkingStrategy provided")
    strategy = java_str(raw["strategy"])
    if strategy not in STRATEGIES:
        raise illegal_argument(f"Invalid chunkingStrategy {strategy}")
    if strategy == "none":
        return ChunkingSettings("none")
    settings = dict(raw)
    problems: list[str] = []
    _unknown_keys(strategy, settings, problems)
    size = _at_least(
        _required_positive_int(settings, "max_chunk_size", problems),
        "max_chunk_size",
        _MIN_CHUNK_SIZE[strategy],
        problems,
    )
    if strategy == "word":
        return _word_settings(settings, size, problems)
    if strategy == "sentence":
        return _sentence_settings(settings, size, problems)
    return _recursive_settings(settings, size, problems)


def _word_settings(settings: dict[str, Any], size: int | None, problems: list[str]) -> ChunkingSettings:
    overlap = None
    if size is not None:
        overlap = _required_positive_int(settings, "overlap", problems)
        if overlap is not None and overlap > size // 2:
            problems.append(
                f"[{SCOPE}] Invalid value [{java_double_str(overlap)}]. [overlap] must be a less than or equal to "
                f"[{java_double_str(size // 2)}]"
            )
    if problems:
        raise validation_exception(*problems)
    return ChunkingSettings("word", size, overlap=overlap)


def _sentence_settings(settings: dict[str, Any], size: int | None, problems: list[str]) -> ChunkingSettings:
    overlap = settings.pop("sentence_overlap", None)
    if overlap is None:
        overlap = 1
    elif not _is_int(overlap):
        problems.append(_not_type("sentence_overlap", overlap, "Integer"))
    elif overlap not in (0, 1):
        problems.append(f"sentence_overlap[{overlap}] must be either 0 or 1")
    if problems:
        raise validation_exception(*problems)
    return ChunkingSettings("sentence", size, sentence_overlap=overlap)


def _recursive_settings(settings: dict[str, Any], size: int | None, problems: list[str]) -> ChunkingSettings:
    group = settings.pop("separator_group", None)
    separators = settings.pop("separators", None)
    group_separators = None
    if group is not None:
        if not isinstance(group, str):
            problems.append(_not_type("separator_group", group, "String"))
        elif group == "":
            problems.append(
                f"[{SCOPE}] Invalid value empty string. [separator_group] must be a non-empty string"
            )
        elif group.strip().lower() not in SEPARATOR_GROUPS:
            problems.append(
                f"[{SCOPE}] Invalid value [{group}] received. [separator_group] must be one of "
                f"[{', '.join(sorted(SEPARATOR_GROUPS))}]"
            )
        else:
            group_separators = SEPARATOR_GROUPS[group.strip().lower()]
    if separators is not None:
        if not isinstance(separators, list):
            problems.append(_not_type("separators", separators, "List"))
            separators = None
        else:
            for item in separators:
                if not isinstance(item, str):
                    problems.append(_not_type("separators", item, "String"))
    if separators is not None and group is not None:
        problems.append("Recursive chunking settings can not have both separators and separator_set")
    if group_separators is not None:
        separators = list(group_separators)
    elif separators is not None and not separators:
        problems.append("Recursive chunking settings can not have an empty list of separators")
    if problems:
        raise validation_exception(*problems)
    chosen = tuple(separators) if separators is not None else SEPARATOR_GROUPS["plaintext"]
    return ChunkingSettings("recursive", size, separators=chosen)


# --- chunkers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkPosition:
    start: int
    end: int
    words: int


def word_chunks(text: str, max_size: int, overlap: int) -> list[ChunkPosition]:
    """WordBoundaryChunker.chunkPositions: a chunk ends at the end of its last word; the next starts
    at the end of the (max - overlap)-th word of the window, so it begins with the separator."""
    breaks = WordBreaks.of(text)
    positions: list[ChunkPosition] = []
    step = max_size - overlap
    count = since_mark = 0
    window_start = next_start = 0
    for boundary, word in zip(breaks.bounds[1:], breaks.is_word[1:], strict=True):
        if not word:
            continue
        count += 1
        since_mark += 1
        if count >= max_size:
            positions.append(ChunkPosition(window_start, boundary, count))
            count = overlap
            if overlap == 0:
                next_start = boundary
            window_start = next_start
        if since_mark == step:
            next_start = boundary
            since_mark = 0
    if count > overlap or not positions:
        positions.append(ChunkPosition(window_start, len(text), count))
    return positions


def sentence_chunks(text: str, max_size: int, include_preceding: bool) -> list[tuple[int, int]]:
    """SentenceBoundaryChunker.chunk: whole sentences up to max_size words; with overlap the next
    chunk repeats the previous sentence (its last min(max/2, 20) words when both do not fit); a piece
    still too long is split by the word chunker and its last split stays open."""
    breaks = WordBreaks.of(text)
    chunks: list[tuple[int, int]] = []
    chunk_start = chunk_end = sentence_start = chunk_words = 0
    preceding_words = preceding_start = 0
    for sentence_end in sentence_ends(text):
        words = breaks.count_words(sentence_start, sentence_end)
        if chunk_words + words > max_size:
            next_words = words
            if chunk_words > 0:
                chunks.append((chunk_start, chunk_end))
                if include_preceding:
                    if preceding_words + words > max_size:
                        skip = max(0, preceding_words - min(max_size // 2, 20))
                        chunk_start = breaks.skip_words(preceding_start, skip)
                        chunk_words = preceding_words - skip + words
                    else:
                        chunk_words = preceding_words + words
                        chunk_start = preceding_start
                    next_words = chunk_words
                else:
                    chunk_start = chunk_end
                    chunk_words = words
            if next_words > max_size:
                splits = word_chunks(text[chunk_start:sentence_end], max_size, min(20, (max_size - 1) // 2))
                chunks.extend((chunk_start + s.start, chunk_start + s.end) for s in splits[:-1])
                chunk_start += splits[-1].start
                chunk_words = splits[-1].words
        else:
            chunk_words += words
        if include_preceding:
            preceding_start, preceding_words = sentence_start, words
        sentence_start = chunk_end = sentence_end
    if chunk_words > 0:
        chunks.append((chunk_start, len(text)))
    return chunks or [(0, len(text))]


def recursive_chunks(text: str, max_size: int, separators: tuple[str, ...]) -> list[tuple[int, int]]:
    """RecursiveChunker: split before each match of a separator, re-merge neighbours while they fit,
    recurse with the next separator on what is still too long, and fall back to sentence chunking
    without overlap."""
    breaks = WordBreaks.of(text)

    def measured(start: int, end: int) -> ChunkPosition:
        return ChunkPosition(start, end, breaks.count_words(start, end))

    def split(start: int, end: int, separator: str) -> list[ChunkPosition]:
        try:
            pattern = re.compile(separator, re.MULTILINE)
        except re.error as exc:
            raise illegal_argument(f"Invalid separator regex [{separator}]: {exc}") from None
        pieces, piece_start = [], start
        for match in pattern.finditer(text[start:end]):  # the region's bounds are opaque, as in Java
            cut = start + match.start()
            if piece_start < cut:
                pieces.append(measured(piece_start, cut))
            piece_start = cut
        if piece_start < end:
            pieces.append(measured(piece_start, end))
        return pieces

    def merge(pieces: list[ChunkPosition]) -> list[ChunkPosition]:
        if len(pieces) < 2:
            return pieces
        merged, current = [], pieces[0]
        for piece in pieces[1:]:
            candidate = ChunkPosition(current.start, piece.end, current.words + piece.words)
            if candidate.words <= max_size:
                current = candidate
            else:
                merged.append(current)
                current = piece
        merged.append(current)
        return merged

    def chunk(start: int, end: int, level: int) -> list[tuple[int, int]]:
        if start == end or measured(start, end).words <= max_size:
            return [(start, end)]
        if level >= len(separators):
            return [(start + s, start + e) for s, e in sentence_chunks(text[start:end], max_size, False)]
        out: list[tuple[int, int]] = []
        for piece in merge(split(start, end, separators[level])):
            if piece.words <= max_size:
                out.append((piece.start, piece.end))
            else:
                out.extend(chunk(piece.start, piece.end, level + 1))
        return out

    return chunk(0, len(text), 0)


def chunk_offsets(text: str, settings: ChunkingSettings) -> list[tuple[int, int]]:
    """The chunks of one input, as code-point offsets into it."""
    if settings.strategy == "none":
        return [(0, len(text))]
    assert settings.max_chunk_size is not None
    if settings.strategy == "word":
        return [(p.start, p.end) for p in word_chunks(text, settings.max_chunk_size, settings.overlap or 0)]
    if settings.strategy == "sentence":
        return sentence_chunks(text, settings.max_chunk_size, bool(settings.sentence_overlap))
    return recursive_chunks(
        text, settings.max_chunk_size, settings.separators or SEPARATOR_GROUPS["plaintext"]
    )


def chunk_offsets_utf16(text: str, settings: ChunkingSettings) -> list[tuple[int, int]]:
    """The chunks as Elasticsearch reports their offsets: Java string indices (UTF-16 code units)."""
    offsets = Utf16Offsets(text)
    return [(offsets.to_utf16(s), offsets.to_utf16(e)) for s, e in chunk_offsets(text, settings)]
