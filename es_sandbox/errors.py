"""Elasticsearch's error envelope, and constructors for the errors several modules raise.

Every error the sandbox answers with is an EsError; the HTTP layer turns it into
{"error": {"root_cause": [...], "type": ..., "reason": ..., ...}, "status": N}.
"""

from __future__ import annotations

from typing import Any


class ConnectionDropped(Exception):
    """Raised to make the server close the connection without an answer (an injected fault)."""


class EsError(Exception):
    def __init__(
        self,
        status: int,
        type: str,
        reason: str,
        *,
        caused_by: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        root_cause: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"[{status}] {type}: {reason}")
        self.status = status
        self.type = type
        self.reason = reason
        self.caused_by = caused_by
        self.extra = extra or {}
        self.root_cause = root_cause
        self.headers = headers or {}

    def to_xcontent(self) -> dict[str, Any]:
        """The exception object alone, as it appears inside `error`, `caused_by` or a bulk item."""
        body: dict[str, Any] = {"type": self.type, "reason": self.reason, **self.extra}
        if self.caused_by:
            body["caused_by"] = self.caused_by
        return body

    def body(self) -> dict[str, Any]:
        root = self.root_cause or [{"type": self.type, "reason": self.reason, **self.extra}]
        return {"error": {"root_cause": root, **self.to_xcontent()}, "status": self.status}


def index_not_found(name: str) -> EsError:
    return EsError(
        404,
        "index_not_found_exception",
        f"no such index [{name}]",
        extra={"resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_", "index": name},
    )


def resource_not_found(reason: str) -> EsError:
    return EsError(404, "resource_not_found_exception", reason)


def illegal_argument(reason: str) -> EsError:
    return EsError(400, "illegal_argument_exception", reason)


def validation_failed(*problems: str) -> EsError:
    """ActionRequestValidationException: 'Validation Failed: 1: a;2: b;'"""
    listed = "".join(f"{i}: {p};" for i, p in enumerate(problems, start=1))
    return EsError(400, "action_request_validation_exception", f"Validation Failed: {listed}")


def status_exception(status: int, reason: str, *, caused_by: dict[str, Any] | None = None) -> EsError:
    return EsError(status, "status_exception", reason, caused_by=caused_by)


def parse_error(reason: str) -> EsError:
    return EsError(400, "parsing_exception", reason)
