"""The official NemoVideo CLI (npm `nemovideo-tools`), pinned, installed into a cache dir for the
tests that drive it against our server (tests/clients). `make test` runs `install` first.

    python scripts/cli_client.py install   # npm install into the cache dir (the npm registry only)
    python scripts/cli_client.py path      # where its `nemovideo` command is

The cache dir is NEMO_CLI_CACHE, else `.cache/clients/` in the repository (git-ignored). An install
goes to a temporary dir first and is renamed into place, so a cut install is never taken for one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "nemovideo-tools"
VERSION = "0.1.8"  # the version whose dist/index.js the gateway (server/gateway) was written from
ROOT = Path(__file__).resolve().parent.parent


class CliUnavailable(RuntimeError):
    """node or npm is missing: the CLI cannot run here."""


def cache_dir() -> Path:
    base = os.environ.get("NEMO_CLI_CACHE")
    return Path(base) if base else ROOT / ".cache" / "clients"


def install_dir() -> Path:
    return cache_dir() / f"{PACKAGE}-{VERSION}"


def command_path() -> Path:
    return install_dir() / "node_modules" / ".bin" / "nemovideo"


def missing_tools() -> list[str]:
    return [tool for tool in ("node", "npm") if shutil.which(tool) is None]


def ensure_installed(timeout_seconds: float = 600) -> Path:
    """The `nemovideo` command of the pinned CLI, installing it first when the cache lacks it."""
    command = command_path()
    if command.exists():
        return command
    missing = missing_tools()
    if missing:
        raise CliUnavailable(f"{' and '.join(missing)} not found; install Debian's nodejs and npm")
    target = install_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".installing-") as tmp:
        subprocess.run(
            ["npm", "install", "--prefix", tmp, "--no-audit", "--no-fund", "--loglevel=error",
             f"{PACKAGE}@{VERSION}"],
            check=True,
            timeout=timeout_seconds,
            env={**os.environ, "NO_UPDATE_NOTIFIER": "1"},
        )  # fmt: skip
        if not target.exists():
            os.replace(tmp, target)
            Path(tmp).mkdir()  # TemporaryDirectory removes its own path on exit
    return command


def main(argv: list[str]) -> int:
    action = argv[1] if len(argv) > 1 else "install"
    if action == "path":
        print(command_path())
        return 0
    if action != "install":
        print(__doc__, file=sys.stderr)
        return 2
    try:
        print(f"{PACKAGE} {VERSION}: {ensure_installed()}")
    except CliUnavailable as exc:
        print(f"WARNING: {exc}; the official CLI's tests will be skipped.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
