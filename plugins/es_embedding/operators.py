"""Every operator and sensor of the library, by its class name: an index of the stage families for
code written against the flat module this used to be (`from es_embedding.operators import ...`).
New code imports from the families (es_embedding.model, .index, .publish, .report, .resolve)."""

from es_embedding.base import EsStage
from es_embedding.index import (
    CompleteIndexOperator,
    CreateDestIndexOperator,
    PooledReindexOperator,
    ReindexTaskSensor,
    StartReindexOperator,
)
from es_embedding.model import (
    DeploymentStateSensor,
    EnsureModelOperator,
    ModelDownloadSensor,
    PutPipelineOperator,
    StartDeploymentOperator,
    StopDeploymentOperator,
)
from es_embedding.publish import (
    AnnounceReadyOperator,
    ApplyRetentionOperator,
    SwapAliasOperator,
    VerifyEmbeddingsOperator,
)
from es_embedding.report import RunReportOperator
from es_embedding.resolve import ResolveSourcesOperator, ValidateRunOperator
from es_embedding.waits import EsWait

__all__ = [
    "AnnounceReadyOperator",
    "ApplyRetentionOperator",
    "CompleteIndexOperator",
    "CreateDestIndexOperator",
    "DeploymentStateSensor",
    "EnsureModelOperator",
    "EsStage",
    "EsWait",
    "ModelDownloadSensor",
    "PooledReindexOperator",
    "PutPipelineOperator",
    "ReindexTaskSensor",
    "ResolveSourcesOperator",
    "RunReportOperator",
    "StartDeploymentOperator",
    "StartReindexOperator",
    "StopDeploymentOperator",
    "SwapAliasOperator",
    "ValidateRunOperator",
    "VerifyEmbeddingsOperator",
]
