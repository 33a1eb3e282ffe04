"""Our programs as an operator runs them: `python -m server` (and the worker) in a subprocess,
configured by NEMO_ variables only, on 127.0.0.1, so a test can kill -9 them and start them again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def operator_env() -> dict[str, str]:
    """This process's environment without the developer's NEMO_ variables, our code importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEMO_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM and wait for a clean exit; SIGKILL after 30 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class ServerProcess:
    """`python -m server` on its own data dir, with one embedded CPU render worker."""

    def __init__(self, data_dir: Path, port: int, log: Path) -> None:
        self.data_dir, self.port, self.log = data_dir, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def in_tmp(cls, tmp_path: Path) -> ServerProcess:
        """A server for `tmp_path/data` on a free port, logging to `tmp_path/server.log`."""
        data_dir = tmp_path / "data"
        data_dir.mkdir()
        return cls(data_dir, free_port(), tmp_path / "server.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings_env(self) -> dict[str, str]:
        """The NEMO_ variables it runs with (a subclass changes some)."""
        return {
            "NEMO_HOST": "127.0.0.1",
            "NEMO_PORT": str(self.port),
            "NEMO_DATA_DIR": str(self.data_dir),
            "NEMO_SECRET_KEY": "restart-test-key",
            "NEMO_LOG_LEVEL": "warning",
            "NEMO_RENDER__WORKERS": "1",
            "NEMO_RENDER__DEVICE": "cpu",
            "NEMO_RENDER__LEASE_SECONDS": "2",
            "NEMO_RENDER__POLL_SECONDS": "0.1",
        }

    def start(self) -> None:
        env = {**operator_env(), **self.settings_env()}
        with open(self.log, "ab") as log:
            # cwd is the temp dir, so no developer .env is read.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server"], cwd=self.data_dir.parent, env=env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while True:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                httpx.post(f"{self.url}/api/auth/anonymous-token", timeout=2)  # 400 without a client id
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
