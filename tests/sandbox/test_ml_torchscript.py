"""Uploaded TorchScript models really run when `torch` is installed (requirements-torch.txt): each
test scripts a tiny model here, uploads it as eland does (definition parts + vocabulary), deploys it
and checks that `_infer` answers with that model's own output, computed here on the same tokens.

This is the suite's one allowed skip: torch is an optional extra, not a requirement, so without it
these tests are skipped (the deterministic stand-ins, tested elsewhere, answer instead)."""

from __future__ import annotations

import base64
import io
import math

import pytest

from tests.sandbox.ml_support import deploy

torch = pytest.importorskip(
    "torch", reason="torch is optional (requirements-torch.txt): uploaded models run only with it"
)

# Elasticsearch runs TorchScript (what eland exports), which torch now marks deprecated
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.:DeprecationWarning")

VOCABULARY = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "these",
    "are",
    "my",
    "words",
    "sky",
    "##s",
    "blue",
]
ID = {token: i for i, token in enumerate(VOCABULARY)}
BERT = {"bert": {"do_lower_case": True, "with_special_tokens": True}}


class Encoder(torch.nn.Module):
    """Mean-pooled token embeddings, then a linear head with `outputs` values (0: the embedding)."""

    def __init__(self, outputs: int = 0, per_token: bool = False) -> None:
        super().__init__()
        torch.manual_seed(7)
        self.table = torch.nn.Embedding(len(VOCABULARY), 4)
        self.head = torch.nn.Linear(4, max(outputs, 1))
        self.outputs = outputs
        self.per_token = per_token

    def forward(self, input_ids, attention_mask, token_type_ids, position_ids):
        vectors = self.table(input_ids) * attention_mask.unsqueeze(-1)
        if self.per_token:
            return self.head(vectors)
        pooled = vectors.sum(1) / attention_mask.sum(1, keepdim=True)
        return self.head(pooled) if self.outputs else pooled


def run_locally(module: Encoder, tokens: list[str]) -> torch.Tensor:
    ids = torch.tensor([[ID[t] for t in tokens]])
    with torch.no_grad():
        return module(
            ids, torch.ones_like(ids), torch.zeros_like(ids), torch.arange(len(tokens)).unsqueeze(0)
        )


def upload(es, model_id: str, module: Encoder, task: str, settings: dict | None = None) -> None:
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(module), buffer)
    data = buffer.getvalue()
    es.ml.put_trained_model(
        model_id=model_id,
        model_type="pytorch",
        input={"field_names": ["text_field"]},
        inference_config={task: {"tokenization": BERT, **(settings or {})}},
    )
    half = len(data) // 2
    for part, chunk in enumerate((data[:half], data[half:])):
        es.ml.put_trained_model_definition_part(
            model_id=model_id,
            part=part,
            definition=base64.b64encode(chunk).decode(),
            total_definition_length=len(data),
            total_parts=2,
        )
    es.ml.put_trained_model_vocabulary(model_id=model_id, vocabulary=VOCABULARY)
    deploy(es, model_id)


def infer(es, model_id: str, text: str) -> dict:
    return es.ml.infer_trained_model(model_id=model_id, docs=[{"text_field": text}])["inference_results"][0]


def test_text_embedding_is_the_models_output_on_wordpiece_tokens(es):
    module = Encoder()
    upload(es, "tiny-embedder", module, "text_embedding", {"embedding_size": 4})
    # lower-cased, [CLS]/[SEP] around, "skys" split into sky + ##s
    expected = run_locally(module, ["[CLS]", "these", "are", "my", "sky", "##s", "[SEP]"])[0].tolist()
    assert infer(es, "tiny-embedder", "These are my SKYS")["predicted_value"] == pytest.approx(
        expected, rel=1e-5
    )


def test_text_classification_scores_are_the_models_softmax(es):
    module = Encoder(outputs=2)
    upload(
        es,
        "tiny-sentiment",
        module,
        "text_classification",
        {"classification_labels": ["negative", "positive"]},
    )
    logits = run_locally(module, ["[CLS]", "blue", "sky", "[SEP]"])[0].tolist()
    exps = [math.exp(v) for v in logits]
    probabilities = [e / sum(exps) for e in exps]
    result = infer(es, "tiny-sentiment", "blue sky")
    best = max(range(2), key=lambda i: probabilities[i])
    assert result["predicted_value"] == ["negative", "positive"][best]
    assert result["prediction_probability"] == pytest.approx(probabilities[best], rel=1e-5)
    assert sorted(c["class_probability"] for c in result["top_classes"]) == pytest.approx(
        sorted(probabilities)
    )


def test_text_expansion_keeps_the_positive_weights_by_token(es):
    module = Encoder(outputs=len(VOCABULARY))
    upload(es, "tiny-expander", module, "text_expansion")
    weights = run_locally(module, ["[CLS]", "my", "words", "[SEP]"])[0].tolist()
    expected = {VOCABULARY[i]: w for i, w in enumerate(weights) if w > 0}
    tokens = infer(es, "tiny-expander", "my words")["predicted_value"]
    assert tokens.keys() == expected.keys()
    assert [tokens[t] for t in expected] == pytest.approx(list(expected.values()), rel=1e-5)


def test_fill_mask_reads_the_logits_at_the_mask(es):
    module = Encoder(outputs=len(VOCABULARY), per_token=True)
    upload(es, "tiny-masker", module, "fill_mask")
    logits = run_locally(module, ["[CLS]", "the" if "the" in ID else "[UNK]", "[MASK]", "[SEP]"])[0][
        2
    ].tolist()
    best = VOCABULARY[max(range(len(logits)), key=lambda i: logits[i])]
    result = infer(es, "tiny-masker", "the [MASK]")
    assert result["predicted_value"] == best
    assert result["predicted_value_sequence"] == f"the {best}"
    assert len(result["top_classes"]) == 5


def test_zero_shot_runs_one_nli_pair_per_label(es):
    module = Encoder(outputs=3)  # entailment, neutral, contradiction
    upload(es, "tiny-nli", module, "zero_shot_classification")
    labels = ["sky", "words"]
    # [CLS] text [SEP] "This example is <label>." [SEP]; words outside the vocabulary are [UNK]
    pairs = [
        ["[CLS]", "blue", "sky", "[SEP]", "[UNK]", "[UNK]", "[UNK]", label, "[UNK]", "[SEP]"]
        for label in labels
    ]
    entailment = [run_locally(module, tokens)[0][0].item() for tokens in pairs]
    exps = [math.exp(v) for v in entailment]
    expected = {label: e / sum(exps) for label, e in zip(labels, exps, strict=True)}
    result = es.ml.infer_trained_model(
        model_id="tiny-nli",
        docs=[{"text_field": "blue sky"}],
        inference_config={"zero_shot_classification": {"labels": labels}},
    )["inference_results"][0]
    assert result["predicted_value"] == max(expected, key=expected.get)
    assert {c["class_name"]: c["class_probability"] for c in result["top_classes"]} == pytest.approx(expected)


def test_text_similarity_scores_the_pair(es):
    module = Encoder(outputs=1)
    upload(es, "tiny-similarity", module, "text_similarity")
    expected = run_locally(module, ["[CLS]", "my", "words", "[SEP]", "these", "words", "[SEP]"])[0][0].item()
    result = es.ml.infer_trained_model(
        model_id="tiny-similarity",
        docs=[{"text_field": "these words"}],
        inference_config={"text_similarity": {"text": "my words"}},
    )["inference_results"][0]
    assert result["predicted_value"] == pytest.approx(expected, rel=1e-5)


def test_ner_tags_words_by_their_first_piece(es):
    module = Encoder(outputs=9, per_token=True)
    upload(es, "tiny-ner", module, "ner")
    tokens = ["[CLS]", "these", "are", "my", "words", "[SEP]"]
    labels = ["O", "B_MISC", "I_MISC", "B_PER", "I_PER", "B_ORG", "I_ORG", "B_LOC", "I_LOC"]
    per_token = run_locally(module, tokens)[0]
    tagged = {tokens[i]: labels[int(per_token[i].argmax())] for i in range(1, 5)}
    result = infer(es, "tiny-ner", "these are my words")
    entities = result["entities"]
    assert entities, tagged
    for entity in entities:  # words tagged I_ of the same class continue the entity before them
        words = entity["entity"].split()
        assert all(tagged[w] != "O" for w in words)
        assert entity["class_name"] == tagged[words[0]][2:]
        assert "these are my words"[entity["start_pos"] : entity["end_pos"]] == entity["entity"]
        assert f"[{entity['entity']}]({entity['class_name']}&" in result["predicted_value"]
