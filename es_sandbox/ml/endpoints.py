"""What the ML APIs must know about inference endpoints (the `_inference` API lives in another
subsystem, es_sandbox/inference/, which registers itself here with `MlService.endpoints.register`).

Elasticsearch refuses, through the trained models API, to change a deployment that an `elasticsearch`
(or `elser`) inference endpoint manages:
- `_update` of a deployment whose id is an endpoint's id (the endpoint created it, deployment id =
  inference id): 409 "Cannot update deployment [d] as it was created by inference endpoint [e]. This
  model deployment must be updated through the inference API." (TransportUpdateTrainedModelDeploymentAction);
- `_stop` without `force` of a deployment an endpoint created, or one an endpoint attached to with
  `service_settings.deployment_id` (CreateFromDeploymentIT, TextEmbeddingCrudIT assert these texts;
  the status is not asserted there: 409 as for the other stop refusals).

The endpoint's own `_update` and `DELETE` go around these checks (`internal=True`, `force=True`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from es_sandbox.ml.errors import conflict


@dataclass(frozen=True)
class EndpointUse:
    inference_id: str
    created_deployment: bool  # True: the endpoint created it; False: attached by `deployment_id`


class EndpointRegistry(Protocol):
    def endpoints_using_deployment(self, deployment_id: str) -> list[EndpointUse]:
        """The `elasticsearch`/`elser` endpoints whose id is `deployment_id` (created_deployment=True)
        or whose `service_settings.deployment_id` is it (created_deployment=False)."""
        ...


class EndpointLinks:
    """The registered registry (none until the inference subsystem registers one)."""

    def __init__(self) -> None:
        self._registry: EndpointRegistry | None = None

    def register(self, registry: EndpointRegistry) -> None:
        self._registry = registry

    def using(self, deployment_id: str) -> list[EndpointUse]:
        return self._registry.endpoints_using_deployment(deployment_id) if self._registry else []

    def check_update_allowed(self, deployment_id: str) -> None:
        creator = next((u for u in self.using(deployment_id) if u.created_deployment), None)
        if creator is not None:
            raise conflict(
                f"Cannot update deployment [{deployment_id}] as it was created by inference endpoint "
                f"[{creator.inference_id}]. This model deployment must be updated through the inference API."
            )

    def check_stop_allowed(self, deployment_id: str) -> None:
        uses = self.using(deployment_id)
        if uses:
            how = "was created by" if uses[0].created_deployment else "is used by"
            raise conflict(
                f"Cannot stop deployment [{deployment_id}] as it {how} inference endpoint [{uses[0].inference_id}]"
            )
