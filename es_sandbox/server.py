"""Running a sandbox: in the foreground (the CLI), or as a subprocess for tests and the demo."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Generator
from dataclasses import fields
from pathlib import Path

import uvicorn

from es_sandbox.app import create_app
from es_sandbox.config import SandboxConfig
from es_sandbox.tls import ensure_server_files

READY_PREFIX = "es_sandbox listening on "


class _Server(uvicorn.Server):
    def capture_signals(self):
        return contextlib.nullcontext()


def serve(config: SandboxConfig) -> None:
    """Serve until SIGTERM/SIGINT; print the ready line once requests are accepted."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: without it every keep-alive answer waits ~40 ms (Nagle and
    # delayed ACK), because the headers and the body leave in two writes.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((config.host, config.port))
    port = sock.getsockname()[1]
    app = create_app(config)
    tls = ensure_server_files(config.tls, config.host) if config.tls else None
    server = _Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            server_header=False,
            date_header=False,
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
        )
    )

    async def announce() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        print(f"{READY_PREFIX}{config.scheme}://{config.host}:{port}", flush=True)

    async def main() -> None:
        # Our own handlers: uvicorn's would re-raise the signal after a graceful shutdown, and a
        # clean stop should exit 0.
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        announcer = asyncio.create_task(announce())
        await server.serve(sockets=[sock])
        announcer.cancel()

    asyncio.run(main())


def cli_args(config: SandboxConfig) -> list[str]:
    """The CLI flags that recreate `config` (defaults left out)."""
    defaults = SandboxConfig()
    args = []
    for f in fields(SandboxConfig):
        value = getattr(config, f.name)
        if value != getattr(defaults, f.name) and value is not None:
            args += [f"--{f.name.replace('_', '-')}", str(value)]
    return args


class SandboxProcess:
    """A sandbox in a subprocess: `url` once ready; `stop()` sends SIGTERM and waits."""

    def __init__(self, config: SandboxConfig, *, log_path: Path | None = None) -> None:
        self.config = config
        cmd = [sys.executable, "-m", "es_sandbox", *cli_args(config)]
        self._log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONPATH": _pythonpath()},
        )
        self.url = self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(READY_PREFIX):
                return line[len(READY_PREFIX) :].strip()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"es_sandbox exited with {self.proc.returncode} before it was ready")
        self.stop()
        raise TimeoutError("es_sandbox did not become ready in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if hasattr(self._log, "close"):
            self._log.close()


def _pythonpath() -> str:
    root = str(Path(__file__).resolve().parents[1])
    extra = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{extra}" if extra else root


@contextlib.contextmanager
def running_sandbox(config: SandboxConfig | None = None, **options) -> Generator[str, None, None]:
    """`with running_sandbox(ml_nodes=2, port=0) as url:` a sandbox on a free port unless told."""
    if config is None:
        config = SandboxConfig(**{"port": 0, **options})
    proc = SandboxProcess(config)
    try:
        yield proc.url
    finally:
        proc.stop()
