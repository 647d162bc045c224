"""An Elasticsearch-compatible local server for the demo and the tests (see README: what it covers)."""

from es_sandbox.config import SandboxConfig
from es_sandbox.server import SandboxProcess, running_sandbox

__all__ = ["SandboxConfig", "SandboxProcess", "running_sandbox"]
