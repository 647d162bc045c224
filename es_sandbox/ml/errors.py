"""The errors the ML APIs answer with, worded as Elasticsearch words them (see the reference notes)."""

from __future__ import annotations

from es_sandbox.errors import EsError, resource_not_found, status_exception, validation_failed

QUEUE_FULL_REASON = "inference process queue is full. Unable to execute command"


def license_non_compliant() -> EsError:
    """LicenseUtils.newComplianceException("ml"): the `es.` metadata is rendered without its prefix."""
    return EsError(
        403,
        "security_exception",
        "current license is non-compliant for [ml]",
        extra={"license.expired.feature": "ml"},
    )


def no_known_model(expression: str) -> EsError:
    """Id expansion (GET, stats, start): ExceptionsHelper.missingTrainedModel."""
    return resource_not_found(f"No known trained model with model_id [{expression}]")


def model_not_found(model_id: str) -> EsError:
    """Direct look-ups (infer, delete, definition parts): Messages.INFERENCE_NOT_FOUND."""
    return resource_not_found(f"Could not find trained model [{model_id}]")


def missing_deployment(deployment_id: str) -> EsError:
    return resource_not_found(f"No known model deployment with id [{deployment_id}]")


def bad_request(reason: str) -> EsError:
    """ExceptionsHelper.badRequestException: an ElasticsearchStatusException with status 400."""
    return status_exception(400, reason)


def conflict(reason: str) -> EsError:
    return status_exception(409, reason)


def process_stopping() -> EsError:
    """What requests still queued or in flight get when their deployment's process stops."""
    return status_exception(500, "Error in inference process: [inference canceled as process is stopping]")


def queue_full() -> EsError:
    """AbstractProcessWorkerExecutorService rejects with EsRejectedExecutionException (429)."""
    return EsError(429, "es_rejected_execution_exception", QUEUE_FULL_REASON)


def invalid(*problems: str) -> EsError:
    return validation_failed(*problems)


def validation_exception(*problems: str) -> EsError:
    """org.elasticsearch.common.ValidationException (raised by the action, not by the request's own
    validate()): the same text as ActionRequestValidationException, type `validation_exception`."""
    return EsError(400, "validation_exception", invalid(*problems).reason)
