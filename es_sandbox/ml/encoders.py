"""Deterministic stand-ins for the models: no weights, but stable, meaningful-enough outputs.

- text_expansion (ELSER): lower-cased word pieces of the input with positive weights, plus a few
  fixed "expansion" tokens per term, max-pooled as ELSER pools; documents sharing terms with a query
  therefore score higher under a dot product.
- text_embedding (E5 and custom): hashed bag-of-words vectors of the configured size, L2-normalised,
  so texts sharing words have a higher cosine similarity.
- the other NLP task types answer with results shaped as Elasticsearch shapes them.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from functools import lru_cache
from typing import Any

MAX_SEQUENCE_TOKENS = 510  # 512 minus [CLS] and [SEP]
_WORD_RE = re.compile(r"\w+", re.UNICODE)
_EXPANSIONS = (
    "information data system process service report analysis result value method group company market "
    "research development management technology product customer support quality network security "
    "application software model language search document text record event time world people city "
    "health energy water food money price cost trade policy government law school student history "
    "science music sport travel family home work job business finance bank store order number level "
    "example question answer problem solution change growth design plan project team user account"
).split()


def _digest(text: str, size: int) -> bytes:
    return hashlib.blake2b(text.encode(), digest_size=size).digest()


def _words(text: str, lower: bool = True) -> tuple[list[str], bool]:
    words = _WORD_RE.findall(text.lower() if lower else text)
    return words[:MAX_SEQUENCE_TOKENS], len(words) > MAX_SEQUENCE_TOKENS


@lru_cache(maxsize=100_000)
def _term_tokens(term: str) -> tuple[tuple[str, float], ...]:
    """The tokens one input term activates: itself (strongly), a word piece, two expansions (weakly)."""
    h = _digest(term, 8)
    own = round(0.6 + 1.6 * h[0] / 255, 4)
    tokens = [(term, own)]
    if len(term) > 8:
        tokens.append((term[:5], round(own * 0.45, 4)))
    for i in (1, 3):
        expansion = _EXPANSIONS[int.from_bytes(h[i : i + 2], "big") % len(_EXPANSIONS)]
        if expansion != term:
            tokens.append((expansion, round(0.05 + 0.4 * h[5 + i // 2] / 255, 4)))
    return tuple(tokens)


def sparse_encode(text: str) -> tuple[dict[str, float], bool]:
    words, truncated = _words(text)
    weights: dict[str, float] = {}
    for word in words:
        for token, weight in _term_tokens(word):
            if weight > weights.get(token, 0.0):
                weights[token] = weight
    ordered = dict(sorted(weights.items(), key=lambda kv: -kv[1]))
    return ordered, truncated


@lru_cache(maxsize=100_000)
def _term_vector(term: str, dims: int) -> tuple[tuple[int, float], ...]:
    h = _digest(f"{dims}/{term}", 48)
    return tuple(
        (int.from_bytes(h[3 * i : 3 * i + 2], "big") % dims, h[3 * i + 2] / 127.5 - 1.0) for i in range(16)
    )


def dense_encode(text: str, dims: int) -> tuple[list[float], bool]:
    words, truncated = _words(text)
    rng = random.Random(_digest(text, 8))
    vector = [0.02 * (rng.random() * 2.0 - 1.0) for _ in range(dims)]
    for word in words:
        for index, value in _term_vector(word, dims):
            vector[index] += value
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 7) for v in vector], truncated


def _probability(text: str) -> float:
    return round(0.5 + 0.49 * _digest(text, 2)[0] / 255, 6)


def _pick(options: list[str], text: str) -> str:
    return options[int.from_bytes(_digest(text, 4), "big") % len(options)]


def _entities(text: str) -> tuple[str, list[dict[str, Any]]]:
    entities, annotated, last = [], [], 0
    for m in re.finditer(r"\b[A-Z][a-z]+\b", text):
        if m.start() == 0:
            continue
        word = m.group(0)
        class_name = _pick(["PER", "ORG", "LOC", "MISC"], word)
        entities.append(
            {
                "entity": word,
                "class_name": class_name,
                "class_probability": _probability(word),
                "start_pos": m.start(),
                "end_pos": m.end(),
            }
        )
        annotated.append(text[last : m.start()] + f"[{word}]({class_name}&{word.replace(' ', '+')})")
        last = m.end()
    annotated.append(text[last:])
    return "".join(annotated), entities


class BadInput(ValueError):
    """The input's fault, as ES answers it: 400 with this type and reason."""

    def __init__(self, es_type: str, reason: str) -> None:
        super().__init__(reason)
        self.es_type = es_type
        self.reason = reason


def _softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(v - top) for v in scores]
    return [e / sum(exps) for e in exps]


def _label_scores(labels: list[str], text: str) -> list[float]:
    """A stable distribution over labels for a text (the stand-in's classifier)."""
    return _softmax([3.0 * _digest(f"{label}/{text}", 2)[0] / 255 for label in labels])


def classified(field: str, labels: list[str], probabilities: list[float], wanted: int) -> dict[str, Any]:
    """NlpClassificationInferenceResults: the best label, the top classes asked for (-1: all), and the
    best label's probability."""
    ranked = sorted(range(len(labels)), key=lambda i: -probabilities[i])
    result: dict[str, Any] = {field: labels[ranked[0]]}
    chosen = ranked if wanted < 0 else ranked[:wanted]
    if chosen:
        result["top_classes"] = [
            {"class_name": labels[i], "class_probability": probabilities[i], "class_score": probabilities[i]}
            for i in chosen
        ]
    result["prediction_probability"] = probabilities[ranked[0]]
    return result


def _fill_mask(field: str, config: dict[str, Any], text: str) -> dict[str, Any]:
    mask = config.get("mask_token") or "[MASK]"
    found = text.count(mask)
    if found == 0:
        raise BadInput("illegal_argument_exception", f"no {mask} token could be found")
    if found > 1:
        raise BadInput("illegal_argument_exception", f"only one {mask} token should exist in the input")
    tokens = ["the", "a", "and", "of", "to", "in"]
    result = classified(field, tokens, _label_scores(tokens, text), int(config.get("num_top_classes", 5)))
    result[f"{field}_sequence"] = text.replace(mask, result[field], 1)
    return result


def infer(task_type: str, config: dict[str, Any], text: str) -> dict[str, Any]:
    """One inference result, shaped as `_infer` returns it for the task type."""
    field = config.get("results_field") or "predicted_value"
    result: dict[str, Any]
    truncated = False
    if task_type == "text_expansion":
        value, truncated = sparse_encode(text)
        result = {field: value}
    elif task_type == "text_embedding":
        value, truncated = dense_encode(text, int(config.get("embedding_size") or 384))
        result = {field: value}
    elif task_type == "pass_through":
        value, truncated = dense_encode(text, 8)
        result = {field: [value]}
    elif task_type == "text_classification":
        labels = list(config.get("classification_labels") or [])
        result = classified(
            field, labels, _label_scores(labels, text), int(config.get("num_top_classes", -1))
        )
    elif task_type == "zero_shot_classification":
        labels = list(config.get("labels") or [])
        if not labels:
            raise BadInput("status_exception", "zero_shot_classification requires non-empty [labels]")
        result = classified(field, labels, _label_scores(labels, text), -1)
    elif task_type == "fill_mask":
        result = _fill_mask(field, config, text)
    elif task_type == "ner":
        annotated, entities = _entities(text)
        result = {field: annotated, "entities": entities}
    elif task_type == "question_answering":
        if not config.get("question"):
            raise BadInput("status_exception", "Question is required for question answering")
        words = text.split()
        answer = " ".join(words[:3])
        result = {
            field: answer,
            "start_offset": 0,
            "end_offset": len(answer),
            "prediction_probability": _probability(f"{config['question']}/{text}"),
        }
    elif task_type == "text_similarity":
        if not config.get("text"):
            raise BadInput(
                "status_exception",
                "please provide configuration update for text_similarity task including the desired [text]",
            )
        result = {field: _probability(f"{config['text']}/{text}") * 10}
    else:  # classification (lang_ident): every text is English to the stand-in
        result = {
            field: "en",
            "prediction_probability": _probability(text),
            "prediction_score": _probability(text),
        }
    if truncated:
        result["is_truncated"] = True
    return result
