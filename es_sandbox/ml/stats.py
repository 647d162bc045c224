"""GET _ml/trained_models/<ids>/_stats: one entry per model, or per deployment of a deployed model
(TransportGetTrainedModelsStatsAction)."""

from __future__ import annotations

import fnmatch
import time
from typing import TYPE_CHECKING, Any

from es_sandbox.ml import catalog
from es_sandbox.ml.errors import no_known_model

if TYPE_CHECKING:
    from es_sandbox.ml.deployments import Deployment
    from es_sandbox.ml.models import TrainedModel
    from es_sandbox.ml.service import MlService


def node_xcontent(service: MlService) -> dict[str, dict[str, Any]]:
    """DiscoveryNode.toXContent, keyed by node id."""
    config = service.cluster.config
    min_index, max_index = ("8000099", "8525000") if config.major == 8 else ("8000099", "9033000")
    return {
        node.id: {
            node.id: {
                "name": node.name,
                "ephemeral_id": node.ephemeral_id,
                "transport_address": node.transport_address,
                "external_id": node.name,
                "attributes": service.node_attributes(node),
                "roles": list(node.roles),
                "version": config.version,
                "minIndexVersion": min_index,
                "maxIndexVersion": max_index,
            }
        }
        for node in service.cluster.nodes
    }


def required_native_memory(model: TrainedModel, deployments: list[Deployment]) -> int:
    """StartTrainedModelDeploymentAction.estimateMemoryUsageBytes (ELSER has a fixed estimate)."""
    if model.model_type != "pytorch":
        return 0
    if model.model_id.startswith((".elser_model_1", ".elser_model_2")):
        return catalog.ELSER_MEMORY_BYTES
    return catalog.MODEL_MEMORY_OVERHEAD + 2 * model.definition_length


def _expand(
    service: MlService, expression: str | None, allow_no_match: bool
) -> list[tuple[TrainedModel, str | None]]:
    """Ids may name models, aliases or deployments; (model, deployment_id or None for all of them)."""
    deployments = service.assignments.deployments
    tokens = [t.strip() for t in (expression or "_all").split(",") if t.strip()] or ["_all"]
    picked: dict[tuple[str, str | None], TrainedModel] = {}
    missing: list[str] = []
    models = service.all_models()
    for token in tokens:
        pattern = "*" if token == "_all" else token
        if "*" in pattern:
            hits = [(m, None) for model_id, m in models.items() if fnmatch.fnmatchcase(model_id, pattern)]
            hits += [
                (models[d.model_id], d.deployment_id)
                for d in deployments.values()
                if fnmatch.fnmatchcase(d.deployment_id, pattern) and d.model_id in models
            ]
            if not hits and not allow_no_match:
                missing.append(token)
        else:
            concrete = service.aliases.get(token, token)
            if concrete in models:
                hits = [(models[concrete], None)]
            elif concrete in deployments and deployments[concrete].model_id in models:
                hits = [(models[deployments[concrete].model_id], concrete)]
            else:
                hits = []
                missing.append(token)
        picked.update(((model.model_id, deployment_id), model) for model, deployment_id in hits)
    if missing:
        raise no_known_model(",".join(missing))
    whole = {model_id for model_id, deployment_id in picked if deployment_id is None}
    kept = [(m, d) for (model_id, d), m in picked.items() if d is None or model_id not in whole]
    return sorted(kept, key=lambda p: (p[0].model_id, p[1] or ""))


def trained_model_stats(
    service: MlService, expression: str | None, *, allow_no_match: bool, start: int, size: int
) -> dict[str, Any]:
    picked = _expand(service, expression, allow_no_match)
    nodes = node_xcontent(service)
    entries: list[dict[str, Any]] = []
    for model, deployment_id in picked:
        using = service.assignments.using_model(model.model_id)
        chosen = [d for d in using if deployment_id is None or d.deployment_id == deployment_id]
        base = _model_entry(service, model, using)
        if not chosen:
            entries.append(base)
        for deployment in chosen:
            entries.append(
                {
                    **base,
                    "inference_stats": _inference_stats([deployment]),
                    "deployment_stats": deployment.stats(nodes),
                }
            )
    return {"count": len(entries), "trained_model_stats": entries[start : start + size]}


def _model_entry(service: MlService, model: TrainedModel, deployments: list[Deployment]) -> dict[str, Any]:
    ids = {model.model_id, *service.aliases_of(model.model_id), *(d.deployment_id for d in deployments)}
    pipeline_count = len(service.pipelines_referencing(ids))
    size = model.definition_length if model.model_type == "pytorch" else model.model_size_bytes
    entry: dict[str, Any] = {
        "model_id": model.model_id,
        "model_size_stats": {
            "model_size_bytes": size,
            "required_native_memory_bytes": required_native_memory(model, deployments),
        },
        "pipeline_count": pipeline_count,
    }
    if pipeline_count > 0:
        entry["ingest"] = service.model_ingest_stats(model.model_id, ids) or {
            "total": {"count": 0, "time_in_millis": 0, "current": 0, "failed": 0},
            "pipelines": {},
        }
    entry["inference_stats"] = _inference_stats(deployments)
    return entry


def _inference_stats(deployments: list[Deployment]) -> dict[str, Any]:
    """AssignmentStats.getOverallInferenceStats for deployed models; zeros otherwise."""
    workers = [r.worker for d in deployments for r in d.routes.values()]
    count = sum(w.inference_count for w in workers)
    failures = sum(w.error_count + w.rejected_execution_count + w.timeout_count for w in workers)
    return {
        "failure_count": failures,
        "inference_count": count,
        "cache_miss_count": count - sum(w.cache_hit_count for w in workers),
        "missing_all_fields_count": 0,
        "timestamp": int(time.time() * 1000),
    }
