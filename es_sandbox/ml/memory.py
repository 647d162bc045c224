"""GET _ml/memory/_stats: each node's memory as ML sees it (TransportMlMemoryAction, MlMemoryAction).

Nodes without the `ml` role report zero ML memory. On ML nodes `native_code_overhead` is the 30 MB
of the native process once any model is assigned there, and `native_inference` the estimated memory
of the deployments routed there (the figure `_stats` reports as required_native_memory_bytes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from es_sandbox.ml.service import MACHINE_MEMORY, MAX_JVM_SIZE, ML_MEMORY_MB
from es_sandbox.ml.stats import required_native_memory
from es_sandbox.ml.units import byte_size_str

if TYPE_CHECKING:
    from es_sandbox.cluster import Node
    from es_sandbox.ml.service import MlService

NATIVE_CODE_OVERHEAD_BYTES = 30 * (1 << 20)  # MachineLearning.NATIVE_EXECUTABLE_CODE_OVERHEAD
JAVA_INFERENCE_CACHE_SHARE = 0.4  # xpack.ml.inference_model.cache_size: 40% of the heap


def _sizes(body: dict[str, Any], human: bool, **sizes: int) -> dict[str, Any]:
    """XContentBuilder.humanReadableField: `x` (with ?human) before `x_in_bytes`."""
    for name, value in sizes.items():
        if human:
            body[name] = byte_size_str(value)
        body[f"{name}_in_bytes"] = value
    return body


def node_memory(service: MlService, node: Node, *, human: bool) -> dict[str, Any]:
    ml: dict[str, Any] = {}
    if node.is_ml:
        models = service.all_models()
        deployments = [d for d in service.assignments.deployments.values() if node.id in d.routes]
        inference = sum(
            required_native_memory(models[d.model_id], [d]) for d in deployments if d.model_id in models
        )
        _sizes(
            ml,
            human,
            max=ML_MEMORY_MB * (1 << 20),
            native_code_overhead=NATIVE_CODE_OVERHEAD_BYTES if deployments else 0,
            anomaly_detectors=0,
            data_frame_analytics=0,
            native_inference=inference,
        )
    else:
        _sizes(
            ml,
            human,
            max=0,
            native_code_overhead=0,
            anomaly_detectors=0,
            data_frame_analytics=0,
            native_inference=0,
        )
    mem = _sizes({}, human, total=MACHINE_MEMORY, adjusted_total=MACHINE_MEMORY)
    mem["ml"] = ml
    jvm = _sizes(
        {},
        human,
        heap_max=MAX_JVM_SIZE,
        java_inference_max=int(MAX_JVM_SIZE * JAVA_INFERENCE_CACHE_SHARE),
        java_inference=0,
    )
    return {
        "name": node.name,
        "ephemeral_id": node.ephemeral_id,
        "transport_address": node.transport_address,
        "attributes": service.node_attributes(node),
        "roles": list(node.roles),
        "mem": mem,
        "jvm": jvm,
    }
