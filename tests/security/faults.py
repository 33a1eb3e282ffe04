"""Faults the hardening tests inject, as an operator would meet them: a small real filesystem that
fills up, and a render that never looks at its cancel flag. Boundaries we do not own only: the
disk (a tmpfs mounted for the test) and the render function a worker runs (a `module:function`).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec, RenderProgress, RenderResult


@contextlib.contextmanager
def small_disk(path: Path, size_mb: int = 16) -> Iterator[Path]:
    """A tmpfs of `size_mb` at `path` (root only; skips the test elsewhere), unmounted afterwards."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a small real filesystem needs root (mount -t tmpfs)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode(errors='replace').strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path, leave_bytes: int = 0) -> Path:
    """Write a filler file on `path`'s filesystem until only about `leave_bytes` stay free."""
    filler = path / f"filler-{time.monotonic_ns()}"
    free = os.statvfs(path).f_bavail * os.statvfs(path).f_frsize
    block = b"\0" * (1 << 16)
    with open(filler, "wb") as fh:
        written = 0
        try:
            while written < max(0, free - leave_bytes):
                written += fh.write(block[: max(1, min(len(block), free - leave_bytes - written))])
                fh.flush()
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler


def stubborn_render(
    draft: Draft,
    sources: Mapping[str, Path],
    out_path: Path,
    output: OutputSpec,
    *,
    device: str = "auto",
    encoder: str = "auto",
    on_progress: Callable[[RenderProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    **_: Any,
) -> RenderResult:
    """A render deep in one long step (an encoder flushing a 3-hour file): it reports progress once
    and never looks at `should_cancel` again."""
    out_path.write_bytes(b"partial")
    if on_progress is not None:
        on_progress(RenderProgress(phase="encode", progress=1, eta_seconds=3600.0))
    time.sleep(3600)
    raise AssertionError("unreachable: the worker kills this process when the render is cancelled")


class SilentLLM:
    """An LLM endpoint on 127.0.0.1 that takes requests and never answers (the LLM boundary): a turn
    that asks it sits mid-turn, holding its credits, for as long as the test likes."""

    def __init__(self) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.asked = threading.Event()
        self._conns: list[Any] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            self.asked.set()

    def close(self) -> None:
        self.sock.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):
                conn.close()
