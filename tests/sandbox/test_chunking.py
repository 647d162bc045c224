"""Chunking as Elasticsearch chunks: ICU word and sentence boundaries, the word, sentence, recursive
and none strategies, offsets in UTF-16 code units, and the settings' validation texts.

Expected chunks come from the reference notes' verified examples (ES yaml test 25) and from the
chunkers' documented behaviour; word and sentence boundaries are ICU's own (checked against ICU 78
through Node's Intl.Segmenter when the segmentation module was written)."""

from __future__ import annotations

import pytest

from es_sandbox.errors import EsError
from es_sandbox.inference.chunking import (
    DEFAULT_SETTINGS,
    chunk_offsets,
    chunk_offsets_utf16,
    parse_chunking_settings,
    sentence_chunks,
    word_chunks,
)
from es_sandbox.inference.segmentation import WordBreaks, sentence_ends

ES_SENTENCE = (
    "Elasticsearch is an open source, distributed, RESTful, search engine which is built on top of Lucene "
    "internally and enjoys all the features it provides."
)


def settings(**raw):
    return parse_chunking_settings(raw, default_when_empty=False)


def texts(text: str, offsets) -> list[str]:
    return [text[start:end] for start, end in offsets]


def words(text: str) -> list[str]:
    breaks = WordBreaks.of(text)
    return [
        text[breaks.bounds[i - 1] : breaks.bounds[i]]
        for i in range(1, len(breaks.bounds))
        if breaks.is_word[i]
    ]


def sentences(text: str) -> list[str]:
    out, start = [], 0
    for end in sentence_ends(text):
        out.append(text[start:end])
        start = end
    return out


# --- ICU boundaries -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I don't know; pi is 3.14, e.g. roughly.",
            ["I", "don't", "know", "pi", "is", "3.14", "e.g", "roughly"],
        ),
        ("我爱北京天安门。", ["我", "爱", "北京", "天安门"]),  # ICU's dictionary, not one word per ideograph
        ("東京は日本の首都です", ["東京", "は", "日本", "の", "首都", "です"]),
        ("Write to foo@bar.com now", ["Write", "to", "foo", "bar.com", "now"]),
        ("snake_case __ _ x 👍🏽 !", ["snake_case", "__", "x"]),  # emoji and lone punctuation are no words
    ],
)
def test_words_are_icu_words(text, expected):
    assert words(text) == expected


def test_sentences_have_no_abbreviation_rules_and_keep_trailing_space():
    assert sentences("Mr. Smith went home. He slept.") == ["Mr. ", "Smith went home. ", "He slept."]
    assert sentences("Is it? Yes! No...  ok") == ["Is it? ", "Yes! ", "No...  ok"]
    assert sentences("一つ目。二つ目。") == ["一つ目。", "二つ目。"]


# --- word ---------------------------------------------------------------------------------------------


def test_word_chunks_the_verified_example():
    word = settings(strategy="word", max_chunk_size=10, overlap=1)
    assert texts(ES_SENTENCE, chunk_offsets(ES_SENTENCE, word)) == [
        "Elasticsearch is an open source, distributed, RESTful, search engine which",
        " which is built on top of Lucene internally and enjoys",
        " enjoys all the features it provides.",
    ]
    other = (
        "Elasticsearch is a free, open-source search engine and analytics tool that stores and indexes data."
    )
    assert texts(other, chunk_offsets(other, word)) == [
        "Elasticsearch is a free, open-source search engine and analytics",
        " analytics tool that stores and indexes data.",
    ]


def test_word_chunks_end_at_a_word_and_the_next_begins_with_its_separator():
    def chunk(text, size, overlap):
        return texts(text, [(p.start, p.end) for p in word_chunks(text, size, overlap)])

    assert chunk("Comma, separated", 1, 0) == ["Comma", ", separated"]
    assert chunk("Won't you chunk", 1, 0) == ["Won't", " you", " chunk"]
    numbers = " ".join(str(i) for i in range(30))
    assert chunk(numbers, 20, 10) == [
        " ".join(str(i) for i in range(20)),
        " " + " ".join(str(i) for i in range(10, 30)),
    ]
    for blank in ("", "   ", ". ", " ,"):
        assert chunk(blank, 10, 5) == [blank]


# --- sentence -----------------------------------------------------------------------------------------


def test_default_is_sentence_250_with_one_sentence_overlap():
    assert DEFAULT_SETTINGS.to_xcontent() == {
        "strategy": "sentence",
        "max_chunk_size": 250,
        "sentence_overlap": 1,
    }
    assert texts(ES_SENTENCE, chunk_offsets(ES_SENTENCE, DEFAULT_SETTINGS)) == [ES_SENTENCE]


def numbered_sentences(lengths: list[int]) -> str:
    """Sentences 'Sn 1 2 ... k. ' with the given word counts."""
    return "".join(
        f"S{n} " + " ".join(str(i) for i in range(1, length)) + ". " for n, length in enumerate(lengths)
    )


def test_sentence_chunks_pack_whole_sentences():
    text = numbered_sentences([8, 8, 8, 8])
    no_overlap = texts(text, sentence_chunks(text, 20, False))
    assert no_overlap == [numbered_sentences([8, 8]), text[len(numbered_sentences([8, 8])) :]]
    with_overlap = texts(text, sentence_chunks(text, 20, True))
    assert [c.split()[0] for c in with_overlap] == ["S0", "S1", "S2"]  # each repeats the previous sentence
    assert all(c.rstrip().endswith(".") for c in with_overlap)


def test_a_sentence_longer_than_the_chunk_is_split_by_words():
    text = numbered_sentences([15, 30, 20, 5])
    chunks = texts(text, sentence_chunks(text, 40, True))
    assert len(chunks) == 5
    assert chunks[0] == numbered_sentences([15])
    assert chunks[1].startswith("S0") and not chunks[1].rstrip().endswith(".")
    assert chunks[2].rstrip().endswith(".") and chunks[3].rstrip().endswith(".")
    assert chunks[4].startswith("S2") and "S3" in chunks[4]
    long_sentence = " ".join(f"w{i}" for i in range(25)) + "."
    split = texts(long_sentence, sentence_chunks(long_sentence, 10, False))
    # split with an overlap of min(20, (10 - 1) / 2) = 4 words, the last split staying open
    assert split[0] == " ".join(f"w{i}" for i in range(10))
    assert split[1].split()[0] == "w6"


# --- recursive and none -------------------------------------------------------------------------------


def test_recursive_splits_on_separators_then_falls_back_to_sentences():
    text = (
        "First paragraph has five words.\n\nSecond paragraph has five words too.\n\nThird one: "
        + " ".join(f"x{i}" for i in range(12))
    )
    recursive = settings(strategy="recursive", max_chunk_size=10)
    assert recursive.to_xcontent()["separators"] == ["(?<!\\n)\\n\\n(?!\\n)", "(?<!\\n)\\n(?!\\n)"]
    assert texts(text, chunk_offsets(text, recursive)) == [
        "First paragraph has five words.",
        "\n\nSecond paragraph has five words too.",
        "\n\nThird one: x0 x1 x2 x3 x4 x5 x6 x7",
        " x4 x5 x6 x7 x8 x9 x10 x11",
    ]
    markdown = settings(strategy="recursive", max_chunk_size=20, separator_group="markdown")
    doc = "# Title\nIntro.\n## Part A\nalpha beta.\n## Part B\ngamma delta."
    assert texts(doc, chunk_offsets(doc, markdown)) == [doc]
    tight = settings(strategy="recursive", max_chunk_size=10, separators=["\n## "])
    doc = "Intro " * 6 + "\n## A " + "a " * 6 + "\n## B " + "b " * 6
    assert [c.split()[0] for c in texts(doc, chunk_offsets(doc, tight))] == ["Intro", "##", "##"]


def test_none_is_one_chunk():
    assert chunk_offsets(ES_SENTENCE, settings(strategy="none")) == [(0, len(ES_SENTENCE))]


# --- offsets ------------------------------------------------------------------------------------------


def test_offsets_are_utf16_code_units():
    text = "😀 Emoji first. Then 𝔘𝔫𝔦 text follows here."
    sentence = settings(strategy="sentence", max_chunk_size=20, sentence_overlap=0)
    assert chunk_offsets(text, sentence) == [(0, 42)]
    assert chunk_offsets_utf16(text, sentence) == [(0, 46)]  # four astral characters, two units each
    word = settings(strategy="word", max_chunk_size=10, overlap=1)
    text = "😀 " + " ".join(f"w{i}" for i in range(12))
    assert chunk_offsets(text, word) == [(0, 31), (28, 39)]
    assert chunk_offsets_utf16(text, word) == [(0, 32), (29, 40)]


# --- settings -----------------------------------------------------------------------------------------


def error(raw, *, default_when_empty=False) -> tuple[int, str, str]:
    with pytest.raises(EsError) as info:
        parse_chunking_settings(raw, default_when_empty=default_when_empty)
    return info.value.status, info.value.type, info.value.reason


def test_empty_settings():
    assert parse_chunking_settings(None, default_when_empty=True) == DEFAULT_SETTINGS
    assert parse_chunking_settings({}, default_when_empty=True) == DEFAULT_SETTINGS
    assert parse_chunking_settings({}, default_when_empty=False) is None
    assert settings(strategy="sentence", max_chunk_size=100).to_xcontent() == {
        "strategy": "sentence",
        "max_chunk_size": 100,
        "sentence_overlap": 1,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"max_chunk_size": 10},
            (400, "illegal_argument_exception", "Can't generate Chunker without ChunkingStrategy provided"),
        ),
        ({"strategy": "lines"}, (400, "illegal_argument_exception", "Invalid chunkingStrategy lines")),
        (
            {"strategy": "word", "max_chunk_size": 10, "overlap": 1, "extra": "stuff"},
            (
                400,
                "validation_exception",
                "Validation Failed: 1: Word based chunking settings can not have the following settings: [extra];",
            ),
        ),
        (
            {"strategy": "word"},
            (
                400,
                "validation_exception",
                "Validation Failed: 1: [chunking_settings] does not contain the required setting [max_chunk_size];",
            ),
        ),
        (
            {"strategy": "word", "max_chunk_size": 10, "overlap": 0},
            (
                400,
                "validation_exception",
                "Validation Failed: 1: [chunking_settings] Invalid value [0]. [overlap] must be a positive integer;",
            ),
        ),
        (
            {"strategy": "word", "max_chunk_size": 10, "overlap": 6},
            (
                400,
                "validation_exception",
                "Validation Failed: 1: [chunking_settings] Invalid value [6.0]. [overlap] must be a less than or equal "
                "to [5.0];",
            ),
        ),
        (
            {"strategy": "sentence", "max_chunk_size": 10, "sentence_overlap": 2},
            (
                400,
                "validation_exception",
                "Validation Failed: 1: [chunking_settings] Invalid value [10.0]. [max_chunk_size] must be a greater than "
                "or equal to [20.0];2: sentence_overlap[2] must be either 0 or 1;",
            ),
        ),
        (
            {"strategy": "sentence", "max_chunk_size": "250"},
            (
                400,
                "validation_exception",
                "Validation Failed: 1: field [max_chunk_size] is not of the expected type. The value [250] cannot be "
                "converted to a [Integer];",
            ),
        ),
        (
            {"strategy": "recursive", "max_chunk_size": 20, "separators": []},
            (
                400,
                "validation_exception",
                "Validation Failed: 1: Recursive chunking settings can not have an empty list of separators;",
            ),
        ),
        (
            {"strategy": "recursive", "max_chunk_size": 20, "separator_group": "html"},
            (
                400,
                "validation_exception",
                "Validation Failed: 1: [chunking_settings] Invalid value [html] received. [separator_group] must be one "
                "of [markdown, plaintext];",
            ),
        ),
    ],
)
def test_settings_validation(raw, expected):
    assert error(raw) == expected
