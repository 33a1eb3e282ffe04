"""Running the official NemoVideo CLI (npm `nemovideo-tools`, pinned in scripts/cli_client.py) as a
user would, against a server on 127.0.0.1: its own config file in a temporary home, no update
check, and a stand-in `xdg-open` (setup opens three nemovideo.com pages in a browser; the stand-in
only records them, so nothing leaves the machine)."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import cli_client  # noqa: E402

COMMAND_TIMEOUT_SECONDS = 300
MIN_NODE_MAJOR = 20  # the CLI's own render wait is 5 minutes


@dataclass
class Ran:
    args: list[str]
    code: int
    output: str  # stdout and stderr together (the CLI's spinners write to stderr)

    def ok(self) -> Ran:
        assert self.code == 0, f"nemovideo {' '.join(self.args)} exited {self.code}:\n{self.output}"
        return self


class Cli:
    def __init__(self, command: Path, home: Path) -> None:
        self.command = command
        self.home = home
        self.workdir = home / "work"
        self.workdir.mkdir(parents=True, exist_ok=True)
        browser = home / "bin"
        browser.mkdir(exist_ok=True)
        opener = browser / "xdg-open"
        opener.write_text(f'#!/bin/sh\necho "$@" >> "{home}/opened-pages"\n')
        opener.chmod(0o755)
        self.env = {
            "PATH": f"{browser}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / "config"),  # the CLI's config (npm `conf`) lives here
            "NO_UPDATE_NOTIFIER": "1",  # its update check would ask registry.npmjs.org
            "NO_COLOR": "1",
            "LANG": "C.UTF-8",
        }

    def run(self, *args: str, env: dict[str, str] | None = None) -> Ran:
        done = subprocess.run(
            [str(self.command), *args],
            cwd=self.workdir,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
        )
        return Ran(list(args), done.returncode, done.stdout)

    def converse(self, args: list[str], answers: list[tuple[str, str]]) -> Ran:
        """Run an interactive command, typing each answer once its prompt has been printed (the
        CLI's readline drops lines typed before it asks)."""
        proc = subprocess.Popen(
            [str(self.command), *args],
            cwd=self.workdir,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        assert proc.stdin is not None and proc.stdout is not None
        chunks: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert proc.stdout is not None
            while piece := proc.stdout.read(1):
                chunks.put(piece)
            chunks.put(None)

        threading.Thread(target=pump, daemon=True).start()
        output = ""
        pending = list(answers)
        deadline = time.monotonic() + COMMAND_TIMEOUT_SECONDS
        ended = False
        while not ended and time.monotonic() < deadline:
            try:
                piece = chunks.get(timeout=1)
            except queue.Empty:
                continue
            if piece is None:
                ended = True
                break
            output += piece
            if pending and pending[0][0] in output.rsplit("\n", 1)[-1]:
                proc.stdin.write(pending.pop(0)[1] + "\n")
                proc.stdin.flush()
                if not pending:
                    proc.stdin.close()
        if not ended:
            proc.kill()
        code = proc.wait(timeout=30)
        assert not pending, f"nemovideo {' '.join(args)} never asked {pending[0][0]!r}:\n{output}"
        return Ran(args, code, output)


def cli_or_skip_reason() -> tuple[Path | None, str]:
    """The pinned CLI's command (installed into the cache when missing), or why it cannot run."""
    missing = cli_client.missing_tools()
    if missing:
        tools = " and ".join(missing)
        return None, f"{tools} not found: install Debian's nodejs and npm (`make test` does, as root)"
    command = cli_client.ensure_installed()
    started = subprocess.run(
        [str(command), "--version"],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_UPDATE_NOTIFIER": "1"},
    )
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    major = int(node.lstrip("v").split(".")[0]) if node.lstrip("v")[:1].isdigit() else 0
    if started.returncode != 0 and major < MIN_NODE_MAJOR:
        # Debian 12's nodejs is 18; the CLI's dependencies (commander 14, ora 9, conf 15) want 20.
        return None, f"node {node} cannot run nemovideo-tools {cli_client.VERSION}: it needs node >= 20"
    return command, ""
