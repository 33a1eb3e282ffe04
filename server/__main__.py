"""`python -m server`: Settings from the environment, then uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from server.app import create_app
from server.config import Settings
from server.db import DatabaseFileError


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m server", description="NemoVideo-compatible backend")
    parser.add_argument("--host", help="overrides NEMO_HOST")
    parser.add_argument("--port", type=int, help="overrides NEMO_PORT")
    parser.add_argument("--fake", action="store_true", help="integration-test fake mode (NEMO_MODE=fake)")
    args = parser.parse_args(argv)
    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port is not None:
        overrides["port"] = args.port
    if args.fake:
        overrides["mode"] = "fake"
    settings = Settings(**overrides)  # type: ignore[arg-type]
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        app = create_app(settings)
    except DatabaseFileError as exc:  # one line an operator can act on, never a traceback
        print(f"nemo server: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    # The caller's address decides who owns a client id and the per-IP limits, so proxy headers
    # are believed only from the proxies the operator names.
    trusted = settings.forwarded_allow_ips
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


if __name__ == "__main__":
    main()
