"""The model family: the stages that make a model ready to embed with, through an ingest pipeline.

- trained_model: `ensure_model` (put the model, which starts its download), `wait_model_download`
- deployment: `start_deployment` (within the free ML processors), `wait_deployment` (allocated)
- pipeline: `put_pipeline` (the inference processor)
- teardown: `stop_deployment` (after the run, when asked and no one else uses it)
- known: the models Elasticsearch downloads by id
- group: the task group `model`, the stages in order, as both DAGs open with them (`model_group`)
"""

from es_embedding.model.deployment import DeploymentStateSensor, StartDeploymentOperator
from es_embedding.model.group import ModelStages, model_group
from es_embedding.model.pipeline import PutPipelineOperator
from es_embedding.model.teardown import StopDeploymentOperator
from es_embedding.model.trained_model import EnsureModelOperator, ModelDownloadSensor

__all__ = [
    "DeploymentStateSensor",
    "EnsureModelOperator",
    "ModelDownloadSensor",
    "ModelStages",
    "PutPipelineOperator",
    "StartDeploymentOperator",
    "StopDeploymentOperator",
    "model_group",
]
