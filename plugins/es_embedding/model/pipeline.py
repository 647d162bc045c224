"""The ingest pipeline, `put_pipeline`: an inference processor that embeds the input field with the
deployment, and an on_failure that records the failure on the document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from es_embedding import bodies
from es_embedding.base import EsStage
from es_embedding.settings import PipelineSettings


class PutPipelineOperator(EsStage):
    """`put_pipeline`: the ingest pipeline with the inference processor. Unchanged: left alone; changed:
    put again with version + 1. Pushes pipeline_id, pipeline_version."""

    template_fields: Sequence[str] = (*EsStage.template_fields, "model_id", "deployment_id")

    def __init__(self, *, model_id: str, deployment_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self.deployment_id = deployment_id

    def execute(self, context: Any) -> dict[str, Any]:
        settings = self.run_settings[PipelineSettings]
        pipeline_id = settings.pipeline_id
        model_ref = self.deployment_id if settings.processor_model == "deployment_id" else self.model_id
        wanted = bodies.pipeline_definition(settings, model_ref)
        found = self.get_or_none(
            f"reading pipeline [{pipeline_id}]", self.es.ingest.get_pipeline, id=pipeline_id
        )
        stored = (found or {}).get(pipeline_id)
        if stored and bodies.same_pipeline(stored, wanted):
            self.log.info(
                "Pipeline [%s] version %s is up to date: leaving it", pipeline_id, stored.get("version")
            )
            return self.publish(context, pipeline_id=pipeline_id, pipeline_version=stored.get("version"))
        version = (stored.get("version") or 0) + 1 if stored else 1
        self.log.info(
            "%s pipeline [%s] as version %d", "Updating" if stored else "Creating", pipeline_id, version
        )
        with self.calling(f"putting pipeline [{pipeline_id}]"):
            self.es.ingest.put_pipeline(
                id=pipeline_id,
                version=version,
                description=wanted["description"],
                processors=wanted["processors"],
                on_failure=wanted["on_failure"],
                meta=wanted["_meta"],
            )
        return self.publish(context, pipeline_id=pipeline_id, pipeline_version=version)
