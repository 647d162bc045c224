"""Word and sentence boundaries as Elasticsearch's chunkers see them: ICU's root-locale break
iterators (ES uses ICU4J 77), and ICU's rule status for "is this segment a word".

The boundaries come from ICU itself (icu4py bundles ICU 78 in its wheel: no compiler, no system
ICU). icu4py exposes no rule status, so a segment's status is derived from its characters: ICU
marks a segment as a word (status != WORD_NONE) when a letter, number, kana or ideograph rule ended
it, i.e. when it holds one of those characters, or two or more connector punctuation marks in a row
("__"). Measured against ICU 78's own isWordLike (Node's Intl.Segmenter) on every code point alone,
Unicode categories agree except for the ranges listed below, which are corrected here; on natural
text (the sample corpus, CJK, Thai, Hangul, emoji, URLs, numbers) segments and statuses agree
entirely. Adversarial mixes of dictionary scripts with combining marks or ZWJ emoji can still differ.

Offsets: ICU (and Java) index text in UTF-16 code units; Python indexes code points. Everything
here is in code points; `Utf16Offsets` converts for what ES reports (chunk offsets).
"""

from __future__ import annotations

import bisect
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from icu4py.breakers import SentenceBreaker, WordBreaker

ROOT_LOCALE = ""  # Locale.ROOT
_WORD_CATEGORIES = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl"})
# Code points ICU treats as a word on their own although their category says otherwise ...
_ALSO_WORDS = (
    (0x00B8, 0x00B8), (0x02C2, 0x02C5), (0x02D2, 0x02D7), (0x02DE, 0x02DF), (0x02E5, 0x02EB),
    (0x02ED, 0x02ED), (0x02EF, 0x02FF), (0x055A, 0x055C), (0x055E, 0x055E), (0x058A, 0x058A),
    (0x05F3, 0x05F3), (0x0600, 0x0605), (0x066B, 0x066B), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x109E, 0x109F), (0x19DA, 0x19DA), (0x19DE, 0x19DF),
    (0x1AA0, 0x1AA6), (0x1AA8, 0x1AAD), (0x24B6, 0x24E9), (0x309B, 0x309C), (0x30A0, 0x30A0),
    (0x32D0, 0x32FE), (0x3300, 0x3357), (0xA708, 0xA716), (0xA720, 0xA721), (0xA789, 0xA78A),
    (0xAA77, 0xAA79), (0xAADE, 0xAADF), (0xAB5B, 0xAB5B), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x1173A, 0x1173B), (0x1173F, 0x1173F), (0x16FE4, 0x16FE4), (0x1F130, 0x1F149),
    (0x1F150, 0x1F169), (0x1F170, 0x1F189), (0x1F200, 0x1F200),
)  # fmt: skip
# ... and code points whose category says "letter" that ICU does not count alone.
_NOT_WORDS = frozenset({0x3005, 0x303B, 0xFF9E, 0xFF9F, 0x16FE3})
_ALSO_STARTS = [start for start, _ in _ALSO_WORDS]


@lru_cache(maxsize=4096)
def _is_word_char(char: str) -> bool:
    code = ord(char)
    if code in _NOT_WORDS:
        return False
    if unicodedata.category(char) in _WORD_CATEGORIES:
        return True
    i = bisect.bisect_right(_ALSO_STARTS, code) - 1
    return i >= 0 and _ALSO_WORDS[i][0] <= code <= _ALSO_WORDS[i][1]


def is_word(segment: str) -> bool:
    """Whether ICU's word rules give this segment a status other than WORD_NONE."""
    if any(_is_word_char(c) for c in segment):
        return True
    marks = [c for c in segment if unicodedata.category(c) not in ("Mn", "Me", "Cf")]
    return len(marks) >= 2 and all(unicodedata.category(c) == "Pc" for c in marks)


class Utf16Offsets:
    """Code-point index <-> UTF-16 index for one text (identity when the text has no astral chars)."""

    def __init__(self, text: str) -> None:
        self.identity = all(ord(c) <= 0xFFFF for c in text)
        self._to16: list[int] = []
        if not self.identity:
            position = 0
            for c in text:
                self._to16.append(position)
                position += 2 if ord(c) > 0xFFFF else 1
            self._to16.append(position)
            self._from16 = {u: i for i, u in enumerate(self._to16)}

    def to_utf16(self, index: int) -> int:
        return index if self.identity else self._to16[index]

    def from_utf16(self, index: int) -> int:
        return index if self.identity else self._from16[index]


def _segment_ends(breaker_class: type, text: str) -> list[int]:
    if not text:
        return []
    offsets = Utf16Offsets(text)
    return [offsets.from_utf16(end) for _, end in breaker_class(text, ROOT_LOCALE).segments()]


def sentence_ends(text: str) -> list[int]:
    """The end of every sentence, as ICU's root sentence iterator finds them (no abbreviation rules)."""
    return _segment_ends(SentenceBreaker, text)


@dataclass
class WordBreaks:
    """ICU word boundaries of one text: `bounds[0] == 0`, and `is_word[i]` is the rule status of the
    segment that ends at `bounds[i]` (False for the position 0, as ICU reports there)."""

    bounds: list[int]
    is_word: list[bool]

    @classmethod
    def of(cls, text: str) -> WordBreaks:
        bounds, flags = [0], [False]
        for end in _segment_ends(WordBreaker, text):
            flags.append(is_word(text[bounds[-1] : end]))
            bounds.append(end)
        return cls(bounds, flags)

    def preceding(self, offset: int) -> int:
        """BreakIterator.preceding(offset) then current(): the index (into bounds) of the last
        boundary before `offset`, or 0 at the start of the text."""
        return max(0, bisect.bisect_left(self.bounds, offset) - 1)

    def count_words(self, start: int, end: int) -> int:
        """ChunkerUtils.countWords: from the boundary preceding `start` up to `end` inclusive, counting
        the status of each boundary reached (the first one is the segment ending there, which may lie
        before `start`: ES counts it too)."""
        i = self.preceding(start)
        count = 0
        while i < len(self.bounds) and self.bounds[i] <= end:
            count += self.is_word[i]
            i += 1
        return count

    def skip_words(self, start: int, words: int) -> int:
        """SentenceBoundaryChunker.skipWords: the boundary after `words` counted words from the
        boundary preceding `start` (the text's end when they run out)."""
        i = self.preceding(start)
        count = 0
        while i < len(self.bounds) and count < words:
            count += self.is_word[i]
            i += 1
        return self.bounds[-1] if i >= len(self.bounds) else self.bounds[i]
