"""The render process a worker spawns for each attempt, and the typed messages the two exchange.

The child renders to `part` and reports over a pipe: `Progress` while it works, then exactly one
of `Done`, `Failed` (a RenderError: the render cannot succeed) or `Crashed` (anything else). The
parent sends `Cancel` when the user cancels. The render function arrives as the function itself
(spawn pickles it by module and name, so it must be a module-level function), never as a string.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer.errors import RenderError
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec, RenderProgress, RenderResult

# render(draft, sources, out_path, output, *, device, encoder, on_progress, should_cancel), as
# renderer.render.render; returns a RenderResult (or its JSON dict).
RenderFn = Callable[..., RenderResult | dict[str, Any]]


def render_draft(*args: Any, **kwargs: Any) -> RenderResult:
    """renderer.render.render, imported in the child only: the worker's parent process (the server,
    embedded) never loads torch, OpenCV or PyAV."""
    from renderer.render import render

    return render(*args, **kwargs)


def render_part_draft(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """One part of a split job (renderer.chunks.steps.render_part_file), imported in the child only."""
    from renderer.chunks.steps import render_part_file

    return render_part_file(*args, **kwargs)


def join_draft(*args: Any, **kwargs: Any) -> RenderResult:
    """The soundtrack and the join of a split job's parts (renderer.chunks.steps.join_part_files),
    imported in the child only."""
    from renderer.chunks.steps import join_part_files

    return join_part_files(*args, **kwargs)


@dataclass(frozen=True)
class Progress:
    """Child -> parent, any number of times: where the render is."""

    phase: str
    percent: int
    eta_seconds: float | None


@dataclass(frozen=True)
class Done:
    """Child -> parent, last: `part` is complete; `result` is the RenderResult as JSON."""

    result: dict[str, Any]


@dataclass(frozen=True)
class Failed:
    """Child -> parent, last: a RenderError (bad media, a missing source, cancelled)."""

    code: str
    message: str


@dataclass(frozen=True)
class Crashed:
    """Child -> parent, last: an unexpected exception; the message names only its type."""

    message: str


@dataclass(frozen=True)
class Cancel:
    """Parent -> child: stop rendering (the render raises RenderError("cancelled"))."""


ChildMessage = Progress | Done | Failed | Crashed

CHILD_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(processName)s]: %(message)s"


def _watch_parent(parent_pid: int) -> None:
    """A render orphaned by a killed worker stops itself: nobody would ever rename its file."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent_pid:
            os._exit(3)


def resolve_sources(sources: dict[str, str], data_dir: Path) -> dict[str, Path]:
    """The job row's `sources` (src -> stored key, absolute path or `builtin:<name>`) as files."""
    paths: dict[str, Path] = {}
    for src, where in sources.items():
        if where.startswith("builtin:"):
            from renderer.music.synth import ensure_track  # numpy: only in the child

            paths[src] = ensure_track(where.removeprefix("builtin:"), data_dir / "builtin")
        else:
            path = Path(where)
            paths[src] = path if path.is_absolute() else data_dir / path
    return paths


def child_main(
    conn: Any,
    render: RenderFn,
    draft_json: str,
    sources: dict[str, str],
    data_dir: str,
    part: str,
    output_json: str,
    device: str,
    encoder: str,
    log_level: int = logging.INFO,
) -> None:
    """Entry of the spawned render process: render to `part`, report over `conn`, exit.

    A spawned process starts with logging unconfigured, which would drop the renderer's own lines
    (device, encoder); they go to stderr, which the child shares with the worker's log, at the
    worker's level, each tagged with the process name (`render-<job id>`)."""
    logging.basicConfig(level=log_level, format=CHILD_LOG_FORMAT)
    log = logging.getLogger("nemo.render")
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    lock = threading.Lock()  # renders may report from several pipeline threads
    cancelled = False

    def send(msg: ChildMessage) -> None:
        with lock:
            conn.send(msg)

    def should_cancel() -> bool:
        nonlocal cancelled
        with lock:
            while not cancelled and conn.poll():
                cancelled = isinstance(conn.recv(), Cancel)
        return cancelled

    def on_progress(p: RenderProgress) -> None:
        send(Progress(p.phase, p.progress, p.eta_seconds))

    started = time.monotonic()
    try:
        try:
            draft = Draft.model_validate_json(draft_json)
            log.info("render started: %dx%d, %.1f s at %d fps, %d track(s), %d source file(s)",
                     draft.m.width, draft.m.height, draft.d / 1000, draft.m.fps, len(draft.t),
                     len(sources))  # fmt: skip
            result = render(
                draft,
                resolve_sources(sources, Path(data_dir)),
                Path(part),
                OutputSpec.model_validate_json(output_json),
                device=device,
                encoder=encoder,
                on_progress=on_progress,
                should_cancel=should_cancel,
            )
            report = result if isinstance(result, dict) else result.model_dump(mode="json")
            seconds = time.monotonic() - started
            video = float(report.get("duration") or 0.0)
            log.info("render done in %.1f s: device %s, encoder %s, %.1f s of video (%.2f x real time)",
                     seconds, report.get("device"), report.get("encoder"), video,
                     video / seconds if seconds > 0 else 0.0)  # fmt: skip
            send(Done(report))
        except RenderError as exc:
            log.warning("render ended after %.1f s: %s: %s", time.monotonic() - started, exc.code,
                        exc.message)  # fmt: skip
            send(Failed(exc.code, exc.message))
    except Exception as exc:
        # The traceback goes to this process's stderr (the worker's log); the row gets no internals.
        log.exception("render crashed")
        send(Crashed(f"the render failed unexpectedly ({type(exc).__name__})"))
