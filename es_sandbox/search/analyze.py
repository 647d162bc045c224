"""`_analyze`: the built-in analyzers, tokenizers and token filters people test with, producing
tokens with offsets, types and positions as Lucene's analysis chain does.

The standard tokenizer splits on Unicode word boundaries (UAX #29, through ICU's root word break
iterator): runs of letters and digits are `<ALPHANUM>`, numbers `<NUM>`, and each ideograph or
hiragana character is a token of its own, as Lucene's StandardTokenizer emits them."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.errors import illegal_argument, validation_failed
from es_sandbox.http import Router, json_body
from es_sandbox.search.fields import FieldResolver

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()

POSITION_INCREMENT_GAP = 100  # between the values of an array (TextFieldMapper's default)
MAX_TOKEN_LENGTH = 255
ENGLISH_STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these "
    "they this to was will with".split()
)


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int
    type: str
    position: int


Tokenizer = Callable[[str], list[Token]]
TokenFilter = Callable[[list[Token]], list[Token]]


def _char_type(char: str) -> str:
    name = unicodedata.name(char, "")
    if "CJK" in name and "IDEOGRAPH" in name:
        return "<IDEOGRAPHIC>"
    if name.startswith("HIRAGANA"):
        return "<HIRAGANA>"
    if name.startswith("KATAKANA"):
        return "<KATAKANA>"
    if name.startswith("HANGUL"):
        return "<HANGUL>"
    if name.startswith(("THAI", "LAO", "KHMER", "MYANMAR")):
        return "<SOUTHEAST_ASIAN>"
    return "<NUM>" if unicodedata.category(char) == "Nd" else "<ALPHANUM>"


def standard_tokenizer(text: str) -> list[Token]:
    from es_sandbox.inference.segmentation import WordBreaks  # ICU word boundaries (shared helper)

    breaks = WordBreaks.of(text)
    out: list[Token] = []
    for i in range(1, len(breaks.bounds)):
        if not breaks.is_word[i]:
            continue
        start, end = breaks.bounds[i - 1], breaks.bounds[i]
        segment = text[start:end]
        kinds = {_char_type(c) for c in segment if unicodedata.category(c)[0] in "LN"}
        if kinds & {"<IDEOGRAPHIC>", "<HIRAGANA>"}:
            for offset, char in enumerate(segment):
                out.append(Token(char, start + offset, start + offset + 1, _char_type(char), len(out)))
            continue
        if kinds <= {"<NUM>"}:
            kind = "<NUM>"
        elif len(kinds) == 1:
            kind = next(iter(kinds))
        else:
            kind = "<ALPHANUM>"
        for piece in range(start, end, MAX_TOKEN_LENGTH):
            stop = min(end, piece + MAX_TOKEN_LENGTH)
            out.append(Token(text[piece:stop], piece, stop, kind, len(out)))
    return out


def _runs(text: str, keep: Callable[[str], bool]) -> list[Token]:
    out: list[Token] = []
    start = None
    for i, char in enumerate(text + "\0"):
        if i < len(text) and keep(char):
            start = i if start is None else start
        elif start is not None:
            out.append(Token(text[start:i], start, i, "word", len(out)))
            start = None
    return out


def whitespace_tokenizer(text: str) -> list[Token]:
    return _runs(text, lambda c: not c.isspace())


def letter_tokenizer(text: str) -> list[Token]:
    return _runs(text, str.isalpha)


def keyword_tokenizer(text: str) -> list[Token]:
    return [Token(text, 0, len(text), "word", 0)] if text else []


def _map(fn: Callable[[str], str]) -> TokenFilter:
    return lambda tokens: [replace(t, text=fn(t.text)) for t in tokens]


def _drop(keep: Callable[[Token], bool]) -> TokenFilter:
    """Drop tokens; positions keep their gaps (position increments), as Lucene's filters do."""
    return lambda tokens: [t for t in tokens if keep(t)]


def _unique(tokens: list[Token]) -> list[Token]:
    seen: set[str] = set()
    out = []
    for t in tokens:
        if t.text not in seen:
            seen.add(t.text)
            out.append(t)
    return out


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


TOKENIZERS: dict[str, Tokenizer] = {
    "standard": standard_tokenizer,
    "whitespace": whitespace_tokenizer,
    "letter": letter_tokenizer,
    "lowercase": lambda text: _map(str.lower)(letter_tokenizer(text)),
    "keyword": keyword_tokenizer,
}
TOKEN_FILTERS: dict[str, TokenFilter] = {
    "lowercase": _map(str.lower),
    "uppercase": _map(str.upper),
    "asciifolding": _map(_fold),
    "trim": _map(str.strip),
    "reverse": _map(lambda s: s[::-1]),
    "stop": _drop(lambda t: t.text not in ENGLISH_STOP_WORDS),
    "unique": _unique,
}
ANALYZERS: dict[str, tuple[str, list[str]]] = {
    "standard": ("standard", ["lowercase"]),
    "simple": ("lowercase", []),
    "whitespace": ("whitespace", []),
    "keyword": ("keyword", []),
    "stop": ("lowercase", ["stop"]),
}


def analyzer_of(name: str) -> tuple[Tokenizer, list[TokenFilter]]:
    found = ANALYZERS.get(name)
    if found is None:
        raise illegal_argument(f"failed to find global analyzer [{name}]")
    tokenizer, filters = found
    return TOKENIZERS[tokenizer], [TOKEN_FILTERS[f] for f in filters]


def custom_chain(tokenizer: Any, filters: list[Any]) -> tuple[Tokenizer, list[TokenFilter]]:
    if not isinstance(tokenizer, str) or tokenizer not in TOKENIZERS:
        raise illegal_argument(f"failed to find global tokenizer under [{tokenizer}]")
    chain = []
    for name in filters:
        if not isinstance(name, str) or name not in TOKEN_FILTERS:
            raise illegal_argument(f"failed to find global token filter under [{name}]")
        chain.append(TOKEN_FILTERS[name])
    return TOKENIZERS[tokenizer], chain


def analyze_texts(texts: list[str], tokenizer: Tokenizer, filters: list[TokenFilter]) -> list[dict[str, Any]]:
    """TransportAnalyzeAction.simpleAnalyze: each value's tokens, positions and offsets continuing
    from the previous value's (a position gap of 100 and an offset gap of 1 between values)."""
    out: list[dict[str, Any]] = []
    last_position, last_offset = -1, 0
    for text in texts:
        produced = tokenizer(text)
        tokens = produced
        for f in filters:
            tokens = f(tokens)
        for token in tokens:
            position = last_position + token.position + 1
            out.append(
                {
                    "token": token.text,
                    "start_offset": last_offset + token.start,
                    "end_offset": last_offset + token.end,
                    "type": token.type,
                    "position": position,
                }
            )
        last_position = (
            last_position + (produced[-1].position + 1 if produced else 0) + POSITION_INCREMENT_GAP
        )
        last_offset += len(text) + 1
    return out


@router.route("/_analyze", "GET", "POST")
@router.route("/{index}/_analyze", "GET", "POST")
async def analyze(request: Request, cluster: Cluster):
    body = await json_body(request)
    for key in ("analyzer", "text", "tokenizer", "field", "normalizer"):
        if key in request.query_params and key not in body:
            body[key] = request.query_params[key]
    texts = body.get("text")
    if texts is None or texts == [] or texts == "":
        raise validation_failed("text is missing")
    texts = [str(t) for t in (texts if isinstance(texts, list) else [texts])]
    analyzer = body.get("analyzer")
    index_name = request.path_params.get("index")
    if analyzer is None and body.get("field") and index_name:
        index = cluster.indices.get(index_name)
        spec = FieldResolver(index.mappings)(body["field"]).spec or {}
        analyzer = spec.get("analyzer") or ("keyword" if spec.get("type") == "keyword" else "standard")
    elif index_name:
        cluster.indices.get(index_name)  # 404 for an unknown index
    if body.get("field") and not index_name:
        raise validation_failed("index is required if field is specified")
    if analyzer is not None and ("tokenizer" in body or "filter" in body):
        raise validation_failed("tokenizer/analyze should be null if analyzer is specified")
    if "tokenizer" in body:
        tokenizer, filters = custom_chain(body["tokenizer"], list(body.get("filter") or []))
    else:
        tokenizer, filters = analyzer_of(analyzer or "standard")
    return {"tokens": analyze_texts(texts, tokenizer, filters)}
