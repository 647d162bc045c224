"""The ML subsystem: trained models, deployments, adaptive allocations and inference.

    service.py      MlService, the subsystem (cluster.ml) and what other subsystems call
    api.py          the `_ml` REST endpoints
    models.py catalog.py downloads.py   model configs, the packaged models, their downloads
    assignments.py deployments.py       starting, updating, stopping deployments; their routes
    adaptive.py     the adaptive allocations scaler (scale with load, to zero, from zero)
    serving.py inference.py encoders.py one inference's path: target, wait for an allocation,
                    the route's queue and workers (the cost model), the model's output
    endpoints.py    what the `_ml` APIs refuse for deployments an inference endpoint manages
    stats.py memory.py                  `_stats`, `_ml/memory/_stats`

For the inference endpoints (es_sandbox/inference/): `cluster.ml.infer_texts(...)` runs endpoint
inference through the same deployments, queues, faults, timeouts and scaler as `_infer` (its
docstring says what it answers and raises); `cluster.ml.start_deployment(StartRequest(...,
deployment_id=inference_id, adaptive_allocations=...))` creates an endpoint's deployment;
`cluster.ml.assignments.update(id, n, adaptive, internal=True)` and `.stop(id, force=True,
allow_no_match=True)` are the endpoint's `_update` and DELETE; `cluster.ml.endpoints.register(r)`
with an `endpoints.EndpointRegistry` makes the `_ml` APIs refuse, as ES does, to update or stop a
deployment an endpoint manages.
"""
