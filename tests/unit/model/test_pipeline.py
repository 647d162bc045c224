"""put_pipeline (PutPipelineOperator): an unchanged pipeline is left alone, a changed one is put again
with its version + 1, and the processor names the deployment or the model as the settings say."""

from __future__ import annotations

from es_embedding import bodies
from es_embedding.model import PutPipelineOperator
from es_embedding.settings import PipelineSettings
from tests.unit.fakes import FakeEs, FakeHook, context, not_found, settings, with_hook


def put(client: FakeEs, **pipeline: object) -> PutPipelineOperator:
    operator = PutPipelineOperator(
        task_id="put_pipeline",
        model_id="m",
        deployment_id="d",
        settings=settings(embedding_pipeline=pipeline),
    )
    return with_hook(operator, FakeHook(client))


def test_a_new_pipeline_is_version_1_naming_the_deployment():
    client = FakeEs(
        **{
            "ingest.get_pipeline": [not_found("pipeline [es-embedding] is missing")],
            "ingest.put_pipeline": [{}],
        }
    )
    assert put(client).execute(context()) == {"pipeline_id": "es-embedding", "pipeline_version": 1}
    [sent] = client.calls["ingest.put_pipeline"]
    assert sent["id"] == "es-embedding" and sent["version"] == 1
    assert sent["processors"][1]["inference"]["model_id"] == "d"


def test_an_unchanged_pipeline_is_left_alone():
    stored = {**bodies.pipeline_definition(PipelineSettings(), "d"), "version": 4}
    client = FakeEs(**{"ingest.get_pipeline": [{"es-embedding": stored}]})
    assert put(client).execute(context()) == {"pipeline_id": "es-embedding", "pipeline_version": 4}
    assert "ingest.put_pipeline" not in client.calls


def test_a_changed_pipeline_is_put_again_with_the_next_version():
    stored = {**bodies.pipeline_definition(PipelineSettings(), "d"), "version": 4}
    client = FakeEs(**{"ingest.get_pipeline": [{"es-embedding": stored}], "ingest.put_pipeline": [{}]})
    result = put(client, processor_model="model_id").execute(context())
    assert result == {"pipeline_id": "es-embedding", "pipeline_version": 5}
    [sent] = client.calls["ingest.put_pipeline"]
    assert sent["processors"][1]["inference"]["model_id"] == "m"
