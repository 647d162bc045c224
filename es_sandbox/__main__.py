"""python -m es_sandbox [--host H] [--port N] [--version 9.x.y|8.x.y] ... (see --help)"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from es_sandbox.config import DEFAULT_VERSION, SandboxConfig
from es_sandbox.server import serve


def parse_args(argv: list[str] | None = None) -> SandboxConfig:
    p = argparse.ArgumentParser(
        prog="python -m es_sandbox", description="An Elasticsearch-compatible local server."
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9200, help="0 picks a free port (printed when ready)")
    p.add_argument(
        "--version", default=DEFAULT_VERSION, help="the Elasticsearch version to act as (9.x.y or 8.x.y)"
    )
    p.add_argument("--ml-nodes", type=int, default=1, help="number of ML nodes (0: none)")
    p.add_argument("--ml-processors", type=int, default=8, help="allocated processors of each ML node")
    p.add_argument(
        "--download-seconds", type=float, default=2.0, help="how long a built-in model download takes"
    )
    p.add_argument("--inference-ms", type=float, default=10.0, help="time of one inference on one thread")
    p.add_argument(
        "--adaptive-trigger-seconds",
        type=float,
        default=10.0,
        help="how often the adaptive allocations scaler looks at the load (ES: 10s)",
    )
    p.add_argument(
        "--scale-to-zero-seconds",
        type=float,
        default=24 * 3600.0,
        help="an adaptive deployment with min 0 scales to zero after this long without requests (ES: 24h)",
    )
    p.add_argument(
        "--scale-up-cooldown-seconds",
        type=float,
        default=300.0,
        help="no adaptive scale-down for this long after a scale-up (ES: 5m)",
    )
    p.add_argument("--data-dir", type=Path, default=None, help="persist indices, pipelines and models here")
    auth = p.add_mutually_exclusive_group()
    auth.add_argument(
        "--api-key", default=None, help="require this encoded API key (Authorization: ApiKey ...)"
    )
    auth.add_argument("--user", default=None, metavar="NAME:PASSWORD", help="require HTTP basic auth")
    p.add_argument("--license", choices=["trial", "basic"], default="trial")
    p.add_argument("--cluster-name", default="es-sandbox")
    p.add_argument(
        "--tls",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve HTTPS: a CA and a certificate for --host are kept in DIR; clients trust DIR/ca.crt",
    )
    args = p.parse_args(argv)
    try:
        return SandboxConfig(**vars(args))
    except ValueError as exc:
        p.error(str(exc))


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(parse_args(argv))


if __name__ == "__main__":
    main()
