"""Waiting out a deployment that is being allocated again, before a stage sends it inference.

After a node restart (a rolling upgrade, cloud maintenance) Elasticsearch allocates the deployment
again; until a route is started, every inference answers `409 ... is not allocated to any nodes`.
An embed pass sent then records a failure on every document, and the verification's query fails.
So the stages that infer (`complete_index`'s embed and re-embed passes, `verify_embeddings`) look
first and, when the deployment has allocations to come but none started, defer until one is
(the deployment's own trigger, bounded by Variable `embedding_deployment.wait_timeout`), logging
each node's routing state and reason. A deployment scaled to zero by adaptive allocations is not
waited for: the inference itself wakes it. Should the 409 come anyway (between the look and the
call), es_embedding.errors treats it as transient: the task's retry, with backoff, waits it out.
"""

from __future__ import annotations

import time
from datetime import timedelta

from es_embedding import checks
from es_embedding.base import EsStage
from es_embedding.errors import DeploymentFailedError
from es_embedding.settings import DeploymentSettings
from es_embedding.triggers import DeploymentStateTrigger
from es_embedding.waits import BACKSTOP_MARGIN

BOUND_SETTING = "Variable 'embedding_deployment': key 'wait_timeout'"


def being_allocated(stats: dict | None) -> bool:
    """Whether a deployment's stats show allocations wanted but none started (inference answers 409)."""
    if not stats or stats.get("state") not in ("started", "starting"):
        return False
    allocation = stats.get("allocation_status") or {}
    wanted = allocation.get("target_allocation_count") or stats.get("number_of_allocations") or 0
    return wanted > 0 and not allocation.get("allocation_count")


def allocated_or_defer(stage: EsStage, deployment_id: str, method_name: str) -> None:
    """Returns when `deployment_id` can serve inference; otherwise defers `stage` until it can,
    resuming in `method_name` with the trigger's event (see `resumed`)."""
    with stage.calling(f"reading deployment [{deployment_id}]"):
        stats = checks.deployment_stats(dict(stage.es.ml.get_trained_models_stats()), deployment_id)
    if not being_allocated(stats):
        return
    settings = stage.run_settings[DeploymentSettings]
    reasons = "; ".join(checks.route_reasons(stats)) or "no reason given"
    stage.log.warning(
        "Deployment [%s] has no started allocation (%s); a node restart? Waiting up to %g s for it: %s",
        deployment_id,
        (stats.get("allocation_status") or {}).get("state"),
        settings.wait_timeout,
        reasons,
    )
    trigger = DeploymentStateTrigger(
        deployment_id=deployment_id,
        wanted_state="started",
        conn_id=stage.es_conn_id,
        poll_interval=settings.poll_interval,
        deadline=time.time() + settings.wait_timeout,
        bound=f"{settings.wait_timeout:g} s ({BOUND_SETTING})",
    )
    backstop = settings.wait_timeout + settings.poll_interval + BACKSTOP_MARGIN
    stage.defer(trigger=trigger, method_name=method_name, timeout=timedelta(seconds=backstop))


def resumed(event: dict | None) -> None:
    """The deployment's wait ended: returns when it is allocated, raises with the reason otherwise."""
    if not isinstance(event, dict) or event.get("status") != "success":
        message = event.get("message") if isinstance(event, dict) else None
        raise DeploymentFailedError(message or f"unexpected trigger event {event!r}")
