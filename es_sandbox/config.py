"""Options of one sandbox instance: the CLI flags and the test entry point share this one type."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from es_sandbox.versions import BuildInfo

DEFAULT_VERSION = "9.5.3"  # what the Docker stack runs
_VERSION_RE = re.compile(r"^(8|9)\.\d+\.\d+$")


@dataclass(frozen=True)
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 9200
    version: str = DEFAULT_VERSION
    ml_nodes: int = 1
    ml_processors: int = 8
    download_seconds: float = 2.0
    inference_ms: float = 10.0
    # Adaptive allocations (xpack.ml.trained_models.adaptive_allocations.*): the scaler's tick, the
    # time without requests before scaling to zero, and the wait after a scale-up before scaling down.
    adaptive_trigger_seconds: float = 10.0
    scale_to_zero_seconds: float = 24 * 3600.0
    scale_up_cooldown_seconds: float = 300.0
    data_dir: Path | None = None
    api_key: str | None = field(default=None, repr=False)
    user: str | None = field(default=None, repr=False)  # "name:password"
    license: str = "trial"
    cluster_name: str = "es-sandbox"
    tls: Path | None = None  # serve HTTPS with a CA and certificate kept in this directory

    def __post_init__(self) -> None:
        if not _VERSION_RE.match(self.version):
            raise ValueError(f"version must look like 9.x.y or 8.x.y, got {self.version!r}")
        if self.license not in ("trial", "basic"):
            raise ValueError(f"license must be 'trial' or 'basic', got {self.license!r}")
        if self.ml_nodes < 0 or self.ml_processors < 1:
            raise ValueError("ml_nodes must be >= 0 and ml_processors >= 1")
        if (
            min(self.adaptive_trigger_seconds, self.scale_to_zero_seconds, self.scale_up_cooldown_seconds)
            <= 0
        ):
            raise ValueError("the adaptive allocations times must be > 0")
        if self.api_key and self.user:
            raise ValueError("give either api_key or user, not both")
        if self.user is not None and ":" not in self.user:
            raise ValueError("user must be NAME:PASSWORD")

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def build(self) -> BuildInfo:
        return BuildInfo(self.version)

    @property
    def security_enabled(self) -> bool:
        return bool(self.api_key or self.user)
