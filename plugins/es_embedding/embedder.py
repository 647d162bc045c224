"""Which backend embeds a run's documents (Variable `embedding_inference.backend`), and what the later
stages take from the stages that made it ready, whichever ran.

After the model is downloaded, `choose_backend` (ChooseBackendOperator, a branch) continues with one
family and skips the other: `ingest_pipeline` runs the model family's deployment and pipeline
(start_deployment, wait_deployment, put_pipeline), `semantic_text` the endpoint family
(ensure_endpoint, wait_endpoint). The destination index follows both, after whichever ran.

Later stages get the deployment and the pipeline as templates that pull them from either family
(`from_backend`): the deployment's id comes from `start_deployment` or `ensure_endpoint`; the pipeline
id is empty on the semantic_text backend, which embeds in the bulk path without one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.standard.operators.branch import BaseBranchOperator

from es_embedding.settings import InferenceSettings, RunSettings

# The first task of each backend's stages, the branch's choice.
FIRST_STAGE = {"ingest_pipeline": "start_deployment", "semantic_text": "ensure_endpoint"}
# Which stages push what the later stages take, per key, on either backend.
PUSHED_BY = {
    "deployment_id": ("start_deployment", "ensure_endpoint"),
    "pipeline_id": ("put_pipeline",),
    "inference_id": ("ensure_endpoint",),
}


def from_backend(key: str) -> str:
    """A templated argument: the XCom `key` of the stage that pushed it on the run's backend (the other
    family's stages were skipped and pushed nothing); empty when no stage of the backend pushes it."""
    task_ids = list(PUSHED_BY[key])
    return f"{{{{ ti.xcom_pull(task_ids={task_ids!r}, key='{key}') | select | first | default('', true) }}}}"


class ChooseBackendOperator(BaseBranchOperator):
    """`choose_backend`: continues with the first stage of the run's backend (its settings snapshot)
    and skips the other family's."""

    template_fields: Sequence[str] = ("settings",)
    ui_color = "#f3e7ff"

    def __init__(self, *, settings: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings

    def choose_branch(self, context: Any) -> str:
        backend = RunSettings.of(self.settings)[InferenceSettings].backend
        self.log.info(
            "Backend %s (Variable 'embedding_inference'): continuing with %s", backend, FIRST_STAGE[backend]
        )
        return FIRST_STAGE[backend]
