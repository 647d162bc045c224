"""The endpoint family: the stages that make an inference endpoint ready to embed with, for the
semantic_text backend (Variable `embedding_inference.backend`), beside the model family's pipeline.

- known: what an endpoint is, from the cluster's answers (preconfigured ones, task types, the
  deployment behind one, the name of the ones this package creates)
- ensure: `ensure_endpoint` (create with the run's model and capacity, or reuse as it is)
- wait: `wait_endpoint` (allocated; an endpoint scaled to zero is woken)
- validate: the checks `validate_settings` makes of the endpoint a run names
- group: the stages in order (`endpoint_group`)
"""

from es_embedding.endpoint.ensure import EnsureEndpointOperator
from es_embedding.endpoint.wait import EndpointAllocatedSensor

__all__ = ["EndpointAllocatedSensor", "EnsureEndpointOperator"]
