"""create_dest_index (CreateDestIndexOperator): the index it creates, and which existing index it
reuses or refuses."""

from __future__ import annotations

import pytest

from es_embedding.errors import EmbeddingError
from es_embedding.index import CreateDestIndexOperator
from tests.unit.fakes import FakeEs, FakeHook, api_error, context, settings, with_hook

ELSER = {"trained_model_configs": [{"model_id": "m", "inference_config": {"text_expansion": {}}}]}
SOURCE = {
    "mappings": {"properties": {"content": {"type": "text"}}},
    "settings": {"index": {"number_of_shards": "2"}},
}
OURS = {
    "_meta": {"managed_by": "es_embedding"},
    "properties": {"content": {"type": "text"}, "content_embedding": {"type": "sparse_vector"}},
}


def create(client: FakeEs) -> dict:
    operator = CreateDestIndexOperator(
        task_id="create_dest_index",
        source_index="src",
        dest_index="dst",
        model_id="m",
        alias="src-embedded",
        settings=settings(),
    )
    return with_hook(operator, FakeHook(client)).execute(context(run_id="manual__7"))


def test_a_new_destination_has_the_source_mapping_the_embedding_field_and_our_meta():
    client = FakeEs(
        **{
            "ml.get_trained_models": [ELSER],
            "indices.exists": [False],
            "indices.get": [{"src": SOURCE}],
            "indices.create": [{"acknowledged": True}],
        }
    )
    assert create(client) == {"dest_index": "dst", "created": True}
    [sent] = client.calls["indices.create"]
    assert sent["index"] == "dst"
    assert sent["mappings"]["properties"]["content_embedding"] == {"type": "sparse_vector"}
    assert sent["mappings"]["_meta"] == {
        "managed_by": "es_embedding",
        "source_index": "src",
        "model_id": "m",
        "output_field": "content_embedding",
        "dag_run_id": "manual__7",
        "backend": "ingest_pipeline",
        "alias": "src-embedded",
    }
    assert sent["settings"] == {"index": {"number_of_shards": "2"}}


def test_an_existing_compatible_destination_of_ours_is_reused():
    client = FakeEs(
        **{
            "ml.get_trained_models": [ELSER],
            "indices.exists": [True],
            "indices.get_mapping": [{"dst": {"mappings": OURS}}],
        }
    )
    assert create(client) == {"dest_index": "dst", "created": False}
    assert "indices.create" not in client.calls


def test_one_created_meanwhile_is_checked_like_an_existing_one():
    exists = api_error(400, "resource_already_exists_exception", "index [dst/abc] already exists")
    client = FakeEs(
        **{
            "ml.get_trained_models": [ELSER],
            "indices.exists": [False],
            "indices.get": [{"src": SOURCE}],
            "indices.create": [exists],
            "indices.get_mapping": [{"dst": {"mappings": OURS}}],
        }
    )
    assert create(client) == {"dest_index": "dst", "created": True}


@pytest.mark.parametrize(
    ("mappings", "problem"),
    [
        (
            {"properties": {"content_embedding": {"type": "sparse_vector"}}},
            "it was not created by es_embedding (mapping _meta.managed_by)",
        ),
        (
            {**OURS, "properties": {"content_embedding": {"type": "dense_vector", "dims": 384}}},
            "its field [content_embedding] is mapped as {'type': 'dense_vector', 'dims': 384}, not {'type': 'sparse_vector'}",
        ),
    ],
)
def test_an_existing_index_it_cannot_reuse_is_refused(mappings, problem):
    client = FakeEs(
        **{
            "ml.get_trained_models": [ELSER],
            "indices.exists": [True],
            "indices.get_mapping": [{"dst": {"mappings": mappings}}],
        }
    )
    with pytest.raises(EmbeddingError) as refused:
        create(client)
    assert str(refused.value) == (
        f"destination index [dst] exists and cannot be reused: {problem}. Choose another Param 'dest_index' "
        "or delete that index"
    )


def test_a_destination_that_is_an_alias_is_refused():
    client = FakeEs(
        **{
            "ml.get_trained_models": [ELSER],
            "indices.exists": [True],
            "indices.get_mapping": [{"dst-v1": {"mappings": OURS}}],
        }
    )
    with pytest.raises(EmbeddingError, match=r"^\[dst\] is an alias, not an index"):
        create(client)
