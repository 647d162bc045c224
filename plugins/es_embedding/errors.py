"""Elasticsearch errors turned into messages that say what happened, where, and what to do.

Two families matter to Airflow's retry policy: `TransientClusterError` (connection trouble, 429,
5xx: worth a retry with backoff) and everything else derived from `EmbeddingError` (a retry would
fail the same way, so the DAG fails at once).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterable

import elastic_transport
from elasticsearch import ApiError

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# 409 reasons a wait fixes: a deployment being allocated again after a node restart (the stages
# that infer wait for the allocation first: es_embedding.index.allocation; this catches the race).
TRANSIENT_CONFLICTS = ("is not allocated to any nodes",)


class EmbeddingError(Exception):
    """A failure of the embedding chain that a retry would not fix."""


class SettingsError(EmbeddingError):
    """A Variable or Param is invalid; raised before the first cluster call."""


class ClusterRequestError(EmbeddingError):
    """The cluster refused a request (4xx other than 408/429)."""

    def __init__(self, message: str, status: int | None = None, error_type: str | None = None):
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class TransientClusterError(ClusterRequestError):
    """The cluster could not be reached, or answered 408/429/5xx: a retry may succeed."""


class AuthenticationError(ClusterRequestError):
    """The cluster refused the connection's credentials (401) or their privileges (403 security_exception).

    Not transient: a wrong, expired or invalidated key stays refused until someone fixes the connection.
    """


class LicenseError(ClusterRequestError):
    """The cluster's licence does not include the feature the request needs (403 "current license is
    non-compliant for [ml]"). Not transient: it stays refused until the licence changes."""


class CapacityError(EmbeddingError):
    """The ML nodes lack the processors the deployment settings ask for."""


class DeploymentFailedError(EmbeddingError):
    """A deployment reached `failed`, or cannot be reused as configured."""


class ModelDownloadError(EmbeddingError):
    """The model's download failed or vanished."""


class ReindexFailedError(EmbeddingError):
    """The reindex task ended with an error or with failures the policy does not tolerate."""


class VerificationError(EmbeddingError):
    """The destination index does not hold what the reindex promised."""


class AliasError(EmbeddingError):
    """The alias cannot be moved safely."""


# LicenseUtils.newComplianceException's reason, e.g. "current license is non-compliant for [ml]".
LICENSE_REASON = "current license is non-compliant for"
LICENSE_HINT = (
    "the cluster's licence does not include machine learning: it needs a Platinum or Enterprise "
    "licence, or a trial (POST _license/start_trial?acknowledge=true)"
)


def api_error_reason(exc: ApiError) -> tuple[str | None, str]:
    """(type, reason) of an ES error body, the root cause's reason appended when it differs."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    if isinstance(error, str):
        return None, error
    if not isinstance(error, dict):
        return None, str(exc.message)
    reason = str(error.get("reason") or exc.message)
    caused_by = error.get("caused_by")
    if isinstance(caused_by, dict) and caused_by.get("reason") and caused_by["reason"] != reason:
        reason = f"{reason} (caused by {caused_by.get('type')}: {caused_by['reason']})"
    return error.get("type"), reason


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def credentials_hint(status: int | None, error_type: str | None, conn_id: str | None) -> str | None:
    """What to do when the cluster refused the connection's credentials, or None for other errors."""
    conn = f"connection '{conn_id}'" if conn_id else "the Elasticsearch connection"
    if status == 401:
        return (
            f"the cluster refused the credentials of {conn} (a wrong, expired or invalidated API key, or a "
            "wrong login/password): put a valid key in the connection's extra 'api_key', or fix its login "
            "and password"
        )
    if status == 403 and error_type == "security_exception":
        return f"the credentials of {conn} lack the privilege this request needs: grant it to the key or user"
    return None


def translate(
    exc: Exception, action: str, secrets: Iterable[str] = (), conn_id: str | None = None
) -> Exception:
    """The exception to raise for `exc`, raised while `action` (e.g. "starting deployment [x]") on the
    connection `conn_id` (named in authentication errors)."""
    if isinstance(exc, ApiError):
        status = exc.meta.status if exc.meta is not None else None
        error_type, reason = api_error_reason(exc)
        message = f"{action} failed: HTTP {status} {error_type or ''}: {reason}".replace("  ", " ")
        if status == 403 and error_type == "security_exception" and LICENSE_REASON in reason:
            return LicenseError(
                redact(f"{message}; {LICENSE_HINT}", secrets), status=status, error_type=error_type
            )
        if hint := credentials_hint(status, error_type, conn_id):
            return AuthenticationError(
                redact(f"{message}; {hint}", secrets), status=status, error_type=error_type
            )
        if status == 409 and any(text in reason for text in TRANSIENT_CONFLICTS):
            message += "; the deployment is being allocated (a node restart?): the task's retry waits for it"
            return TransientClusterError(redact(message, secrets), status=status, error_type=error_type)
        cls = TransientClusterError if status in TRANSIENT_STATUSES else ClusterRequestError
        return cls(redact(message, secrets), status=status, error_type=error_type)
    if isinstance(exc, elastic_transport.TlsError):
        # A certificate the client does not trust stays untrusted on every retry.
        conn = f"connection '{conn_id}'" if conn_id else "the Elasticsearch connection"
        message = (
            f"{action} failed: TLS: {exc.message}; the cluster's certificate is not trusted by {conn}: "
            "set its extra 'ca_certs' to the path of the CA that signed the cluster's certificate "
            "(or 'verify_certs': false, never in production)"
        )
        return ClusterRequestError(redact(message, secrets))
    if isinstance(exc, elastic_transport.TransportError):
        # Connection refused, client-side timeouts: the cluster may come back.
        message = redact(f"{action} failed: {type(exc).__name__}: {exc.message}", secrets)
        return TransientClusterError(message)
    return exc


@contextlib.contextmanager
def cluster_call(
    action: str, secrets: Iterable[str] = (), conn_id: str | None = None
) -> Generator[None, None, None]:
    """Run cluster calls; ES and transport errors leave as `EmbeddingError`s naming `action`."""
    try:
        yield
    except (ApiError, elastic_transport.TransportError) as exc:
        raise translate(exc, action, secrets, conn_id) from None


def status_of(exc: BaseException) -> int | None:
    meta = getattr(exc, "meta", None)
    return getattr(meta, "status", None) if meta is not None else getattr(exc, "status", None)


def transient_only_retry_policy():
    """Airflow retry policy: retry connection trouble, 408/429/5xx; fail at once on anything else
    (bad settings, refusals, failed deployments), since a retry would fail the same way."""
    from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

    return ExceptionRetryPolicy(
        rules=[
            RetryRule(
                exception=[f"{__name__}.TransientClusterError", "elastic_transport.TransportError"],
                action=RetryAction.RETRY,
                reason="transient cluster error (connection, 408, 429 or 5xx)",
            ),
        ],
        default=RetryAction.FAIL,
    )


def transient_retry_args() -> dict:
    """The DAGs' task defaults: a few retries with exponential backoff, for transient errors only."""
    from datetime import timedelta

    return {
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=10),
        "retry_policy": transient_only_retry_policy(),
    }
