"""A real run of an uploaded TorchScript model (what eland uploads: definition parts + vocabulary),
as Elasticsearch's pytorch_inference process runs it, for the BERT and MPNet tokenizations.

Only imported when `torch` is installed (requirements-torch.txt; not needed by the sandbox or the
tests): without it, or for a model whose bytes or vocabulary this run did not receive (a restart
with --data-dir keeps lengths, not bytes) or whose tokenizer is not WordPiece, the deterministic
stand-ins in encoders.py answer.

The tokenizer follows ES's BertTokenizer: a basic pass (optional lower-casing and accent
stripping, splitting on whitespace and punctuation, CJK characters apart, the special tokens never
split), then greedy longest-match WordPiece with "##" continuations; [CLS]/[SEP] (MPNet: <s>/</s>)
around the sequence(s) when `with_special_tokens`; `truncate` first/second/none against
`max_sequence_length`. The model gets (input_ids, attention_mask, token_type_ids, position_ids), or
as many of them as its forward() takes, and each task type reads the output as ES's processors do.
"""

from __future__ import annotations

import io
import math
import unicodedata
from dataclasses import dataclass
from typing import Any

import torch

from es_sandbox.ml.encoders import BadInput, classified

WORDPIECE_TOKENIZERS = ("bert", "mpnet")
DEFAULT_NER_LABELS = ["O", "B_MISC", "I_MISC", "B_PER", "I_PER", "B_ORG", "I_ORG", "B_LOC", "I_LOC"]
MAX_WORD_CHARS = 100


@dataclass
class Piece:
    token_id: int
    start: int  # character offsets in the text it came from
    end: int
    word: int  # index of the word it belongs to


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


class WordPiece:
    def __init__(self, vocabulary: list[str], kind: str, settings: dict[str, Any]) -> None:
        self.ids = {token: i for i, token in enumerate(vocabulary)}
        self.vocabulary = vocabulary
        self.lower = bool(settings.get("do_lower_case", False))
        self.special = bool(settings.get("with_special_tokens", True))
        self.max_length = int(settings.get("max_sequence_length", 512))
        self.truncate = settings.get("truncate", "first")
        self.cls, self.sep, self.pad, self.unk, self.mask = (
            ("<s>", "</s>", "<pad>", "<unk>", "<mask>")
            if kind == "mpnet"
            else ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")
        )
        self.kind = kind
        self.never_split = {self.cls, self.sep, self.pad, self.unk, self.mask}

    def _words(self, text: str) -> list[tuple[str, int, int]]:
        """The basic tokenizer: (word, start, end) with offsets into `text`."""
        words: list[tuple[str, int, int]] = []
        i, n = 0, len(text)
        while i < n:
            special = next((s for s in self.never_split if text.startswith(s, i)), None)
            if special:
                words.append((special, i, i + len(special)))
                i += len(special)
                continue
            char = text[i]
            if char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
                i += 1
                continue
            if _is_punctuation(char) or _is_cjk(char):
                words.append((char, i, i + 1))
                i += 1
                continue
            start = i
            while (
                i < n
                and not text[i].isspace()
                and not _is_punctuation(text[i])
                and not _is_cjk(text[i])
                and not any(text.startswith(s, i) for s in self.never_split)
            ):
                i += 1
            words.append((text[start:i], start, i))
        return words

    def _normal(self, word: str) -> str:
        if not self.lower or word in self.never_split:
            return word
        stripped = unicodedata.normalize("NFD", word.lower())
        return "".join(c for c in stripped if unicodedata.category(c) != "Mn")

    def pieces(self, text: str, word_offset: int = 0) -> list[Piece]:
        out: list[Piece] = []
        for w, (word, start, end) in enumerate(self._words(text)):
            normal = self._normal(word)
            if word in self.never_split or len(normal) > MAX_WORD_CHARS:
                out.append(
                    Piece(self.ids.get(normal, self.ids.get(self.unk, 0)), start, end, w + word_offset)
                )
                continue
            found: list[Piece] = []
            begin = 0
            while begin < len(normal):
                stop = len(normal)
                match = None
                while begin < stop:
                    candidate = ("##" if begin else "") + normal[begin:stop]
                    if candidate in self.ids:
                        match = candidate
                        break
                    stop -= 1
                if match is None:
                    found = [Piece(self.ids.get(self.unk, 0), start, end, w + word_offset)]
                    break
                found.append(
                    Piece(self.ids[match], start + begin, start + min(stop, end - start), w + word_offset)
                )
                begin = stop
            out.extend(found)
        return out

    def encode(self, first: str, second: str | None = None) -> tuple[list[Piece], list[int], int]:
        """(pieces in model order, token type per position, index where `first`'s pieces begin)."""
        a = self.pieces(first)
        b = self.pieces(second) if second is not None else None
        specials = (3 if b is not None else 2) if self.special else 0
        if self.kind == "mpnet" and b is not None and self.special:
            specials = 4
        budget = self.max_length - specials - (len(b) if b is not None else 0)
        if b is not None and self.truncate == "second":
            budget = self.max_length - specials - len(a)
        total = len(a) + (len(b) if b is not None else 0) + specials
        if total > self.max_length:
            if self.truncate == "none":
                raise BadInput(
                    "status_exception",
                    f"Input too large. The tokenized input length [{total}] exceeds the maximum sequence length "
                    f"[{self.max_length}]",
                )
            if b is not None and self.truncate == "second":
                b = b[: max(0, budget)]
            else:
                a = a[: max(0, budget)]
        cls = Piece(self.ids.get(self.cls, 0), 0, 0, -1)
        sep = Piece(self.ids.get(self.sep, 0), 0, 0, -1)
        seq: list[Piece] = []
        types: list[int] = []
        if self.special:
            seq.append(cls)
            types.append(0)
        begin = len(seq)
        seq += a
        types += [0] * len(a)
        if self.special:
            seq.append(sep)
            types.append(0)
        if b is not None:
            if self.special and self.kind == "mpnet":
                seq.append(sep)
                types.append(0)
            seq += b
            types += [1] * len(b)
            if self.special:
                seq.append(sep)
                types.append(1)
        return seq, types, begin


def _softmax(values: list[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    return [e / sum(exps) for e in exps]


class TorchScriptModel:
    def __init__(self, definition: bytes, vocabulary: list[str], inference_config: dict[str, Any]) -> None:
        self.module = torch.jit.load(io.BytesIO(definition), map_location="cpu")
        self.module.eval()
        ((self.task_type, config),) = inference_config.items()
        ((kind, settings),) = (config.get("tokenization") or {"bert": {}}).items()
        self.tokenizer = WordPiece(vocabulary, kind, settings or {})
        self.inputs = max(1, len(self.module.forward.schema.arguments) - 1)

    def _run(self, seq: list[Piece], types: list[int]) -> Any:
        ids = torch.tensor([[p.token_id for p in seq]], dtype=torch.long)
        args = [
            ids,
            torch.ones_like(ids),
            torch.tensor([types], dtype=torch.long),
            torch.arange(len(seq)).unsqueeze(0),
        ]
        with torch.no_grad():
            output = self.module(*args[: self.inputs])
        return output

    @staticmethod
    def _first(output: Any) -> torch.Tensor:
        return output[0] if isinstance(output, (tuple, list)) else output

    def infer(self, task_type: str, config: dict[str, Any], text: str) -> dict[str, Any]:
        field = config.get("results_field") or "predicted_value"
        if task_type == "zero_shot_classification":
            return self._zero_shot(field, config, text)
        if task_type == "question_answering":
            if not config.get("question"):
                raise BadInput("status_exception", "Question is required for question answering")
            return self._answer(field, config, config["question"], text)
        if task_type == "text_similarity":
            if not config.get("text"):
                raise BadInput(
                    "status_exception",
                    "please provide configuration update for text_similarity task including the desired [text]",
                )
            seq, types, _ = self.tokenizer.encode(config["text"], text)
            score = self._first(self._run(seq, types)).reshape(-1)[0].item()
            return {field: score}
        seq, types, begin = self.tokenizer.encode(text)
        output = self._first(self._run(seq, types))
        if task_type == "text_embedding":
            return {field: output.reshape(-1).tolist() if output.dim() <= 2 else output[0][0].tolist()}
        if task_type == "text_expansion":
            weights = output.reshape(-1).tolist()
            vocabulary = self.tokenizer.vocabulary
            tokens = {vocabulary[i]: w for i, w in enumerate(weights) if w > 0 and i < len(vocabulary)}
            return {field: dict(sorted(tokens.items(), key=lambda kv: -kv[1]))}
        if task_type == "pass_through":
            return {field: output[0].tolist()}
        if task_type == "text_classification":
            labels = list(config.get("classification_labels") or [])
            scores = _softmax(output.reshape(-1).tolist())
            if len(scores) != len(labels):
                raise BadInput(
                    "status_exception",
                    f"Expected exactly [{len(labels)}] values in text_classification result; got [{len(scores)}]",
                )
            return classified(field, labels, scores, int(config.get("num_top_classes", -1)))
        if task_type == "fill_mask":
            return self._fill_mask(field, config, text, seq, output)
        if task_type == "ner":
            return self._entities(field, config, text, seq, output)
        return {field: output.tolist()}

    def _fill_mask(
        self, field: str, config: dict[str, Any], text: str, seq: list[Piece], output: Any
    ) -> dict[str, Any]:
        mask_id = self.tokenizer.ids.get(self.tokenizer.mask)
        positions = [i for i, p in enumerate(seq) if p.token_id == mask_id]
        mask = config.get("mask_token") or self.tokenizer.mask
        if not positions:
            raise BadInput("illegal_argument_exception", f"no {mask} token could be found")
        if len(positions) > 1:
            raise BadInput("illegal_argument_exception", f"only one {mask} token should exist in the input")
        scores = _softmax(output[0][positions[0]].tolist())
        vocabulary = self.tokenizer.vocabulary
        result = classified(field, vocabulary[: len(scores)], scores, int(config.get("num_top_classes", 5)))
        result[f"{field}_sequence"] = text.replace(mask, result[field], 1)
        return result

    def _entities(
        self, field: str, config: dict[str, Any], text: str, seq: list[Piece], output: Any
    ) -> dict[str, Any]:
        labels = list(config.get("classification_labels") or DEFAULT_NER_LABELS)
        words: dict[int, tuple[str, float, int, int]] = {}  # word -> (label, probability, start, end)
        for position, piece in enumerate(seq):
            if piece.word < 0:
                continue
            scores = _softmax(output[0][position].tolist())
            best = max(range(len(scores)), key=lambda i: scores[i])
            if piece.word not in words:
                words[piece.word] = (labels[best], scores[best], piece.start, piece.end)
            else:
                label, probability, start, _ = words[piece.word]
                words[piece.word] = (label, probability, start, piece.end)
        entities: list[dict[str, Any]] = []
        for label, probability, start, end in (words[w] for w in sorted(words)):
            kind = label[2:] if label[:2] in ("B_", "I_", "B-", "I-") else label
            if label == "O":
                continue
            if entities and label[:1] == "I" and entities[-1]["class_name"] == kind:
                last = entities[-1]
                last["end_pos"] = end
                last["entity"] = text[last["start_pos"] : end]
                last["_probabilities"].append(probability)
                continue
            entities.append({"entity": text[start:end], "class_name": kind, "_probabilities": [probability],
                             "start_pos": start, "end_pos": end})  # fmt: skip
        annotated, last = [], 0
        for entity in entities:
            probabilities = entity.pop("_probabilities")
            entity["class_probability"] = sum(probabilities) / len(probabilities)
            annotated.append(text[last : entity["start_pos"]])
            annotated.append(
                f"[{entity['entity']}]({entity['class_name']}&{entity['entity'].replace(' ', '+')})"
            )
            last = entity["end_pos"]
        annotated.append(text[last:])
        ordered = [
            {k: e[k] for k in ("entity", "class_name", "class_probability", "start_pos", "end_pos")}
            for e in entities
        ]
        return {field: "".join(annotated), "entities": ordered}

    def _zero_shot(self, field: str, config: dict[str, Any], text: str) -> dict[str, Any]:
        labels = list(config.get("labels") or [])
        if not labels:
            raise BadInput("status_exception", "zero_shot_classification requires non-empty [labels]")
        nli = [
            c.lower()
            for c in config.get("classification_labels") or ["entailment", "neutral", "contradiction"]
        ]
        entail, contra = nli.index("entailment"), nli.index("contradiction")
        template = config.get("hypothesis_template") or "This example is {}."
        logits = []
        for label in labels:
            seq, types, _ = self.tokenizer.encode(text, template.replace("{}", label))
            logits.append(self._first(self._run(seq, types)).reshape(-1).tolist())
        if config.get("multi_label"):
            scores = [_softmax([row[entail], row[contra]])[0] for row in logits]
        else:
            scores = _softmax([row[entail] for row in logits])
        return classified(field, labels, scores, -1)

    def _answer(self, field: str, config: dict[str, Any], question: str, context: str) -> dict[str, Any]:
        seq, types, _ = self.tokenizer.encode(question, context)
        output = self._run(seq, types)
        start_logits, end_logits = (output[0].reshape(-1).tolist(), output[1].reshape(-1).tolist())
        starts, ends = _softmax(start_logits), _softmax(end_logits)
        longest = int(config.get("max_answer_length", 15))
        in_context = [i for i, t in enumerate(types) if t == 1 and seq[i].word >= 0]
        best = max(
            ((s, e) for s in in_context for e in in_context if s <= e < s + longest),
            key=lambda se: starts[se[0]] * ends[se[1]],
        )
        start, end = seq[best[0]].start, seq[best[1]].end
        return {
            field: context[start:end],
            "start_offset": start,
            "end_offset": end,
            "prediction_probability": starts[best[0]] * ends[best[1]],
        }
