"""Optional security: with --api-key or --user every request must authenticate, as on a secured node."""

from __future__ import annotations

import base64
import binascii
import hmac

from starlette.requests import Request

from es_sandbox.config import SandboxConfig
from es_sandbox.errors import EsError

_CHALLENGE = 'Basic realm="security", charset="UTF-8", ApiKey'


class Security:
    def __init__(self, config: SandboxConfig) -> None:
        self.api_key = config.api_key
        self.user, _, self.password = (config.user or "").partition(":")
        self.enabled = config.security_enabled

    def __repr__(self) -> str:  # never show the secrets
        return f"Security(enabled={self.enabled})"

    def authenticate(self, request: Request) -> dict | None:
        """The authenticated principal, or None when security is off; raises 401 otherwise."""
        if not self.enabled or request.url.path.startswith("/_sandbox"):
            return None
        header = request.headers.get("authorization")
        query = request.url.query
        path = request.url.path + (f"?{query}" if query else "")  # ES quotes the request URI
        if not header:
            raise self._unauthorized(f"missing authentication credentials for REST request [{path}]")
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "apikey" and self.api_key and hmac.compare_digest(credentials.strip(), self.api_key):
            return {
                "username": "sandbox-api-key",
                "authentication_type": "api_key",
                "api_key": {"name": "sandbox"},
            }
        if scheme == "basic" and self.user:
            try:
                name, _, password = base64.b64decode(credentials).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                name, password = "", ""
            if name == self.user and hmac.compare_digest(password, self.password):
                return {"username": name, "authentication_type": "realm"}
            raise self._unauthorized(f"unable to authenticate user [{name}] for REST request [{path}]")
        raise self._unauthorized(
            "unable to authenticate with provided credentials and anonymous access is not allowed for this request"
        )

    @staticmethod
    def _unauthorized(reason: str) -> EsError:
        return EsError(
            401,
            "security_exception",
            reason,
            extra={"header": {"WWW-Authenticate": [_CHALLENGE]}},
            headers={"WWW-Authenticate": _CHALLENGE},
        )
