"""The fake's render function (`server.fake.render.render`), run by the real worker in its child.

It renders for real (valid H.264/AAC MP4s), only smaller and faster: the canvas scaled so its
short side is `short_side` (never up) with the fastest x264 preset, unless the request asked for
full size. Render faults ride in the same `output.fake` object: `fail` (the job ends `failed`
with the error), `slow` (progress creeps for `seconds` before the render), `stuck` (stays in
`processing` for `seconds`, default an hour; cancel still works).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from renderer.errors import RenderError
from renderer.schema.draft import Draft
from renderer.schema.output import OutputSpec, RenderProgress, RenderResult

_TICK = 0.1


def _even(value: float) -> int:
    return max(16, round(value / 2) * 2)


def small_draft(draft: Draft, short_side: int) -> Draft:
    """The same draft on a canvas whose short side is `short_side` (everything else is relative)."""
    width, height = draft.m.width, draft.m.height
    scale = min(1.0, short_side / min(width, height))
    if scale >= 1.0:
        return draft
    meta = draft.m.model_copy(update={"width": _even(width * scale), "height": _even(height * scale)})
    return draft.model_copy(update={"m": meta})


def _wait(
    seconds: float,
    should_cancel: Callable[[], bool] | None,
    report: Callable[[int], None] | None = None,
    top: int = 0,
) -> None:
    """Sleep `seconds` in ticks, reporting progress up to `top`, stopping at once on cancel."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        if should_cancel is not None and should_cancel():
            raise RenderError("cancelled", "cancelled by the user")
        if report is not None:
            report(int(top * elapsed / seconds) if seconds else top)
        time.sleep(min(_TICK, seconds - elapsed))


def render(
    draft: Draft,
    sources: Mapping[str, Path],
    out_path: Path,
    output: OutputSpec,
    *,
    on_progress: Callable[[RenderProgress], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    **options: Any,
) -> RenderResult:
    from renderer.render import render as real_render

    fake: dict[str, Any] = dict((output.model_extra or {}).get("fake") or {})

    def report(progress: int, phase: str = "decode") -> None:
        if on_progress is not None:
            on_progress(RenderProgress(phase=phase, progress=max(0, min(99, progress))))

    fault = fake.get("fault")
    seconds = float(fake.get("seconds") or 0.0)
    if fault == "fail":
        report(10)
        message = fake.get("message") or "the render failed (injected by the fake)"
        raise RenderError("render_failed", str(message))
    if fault == "stuck":
        report(5)
        _wait(seconds, should_cancel)
    elif fault == "slow":
        _wait(seconds, should_cancel, report, top=50)
    if not fake.get("full_size"):
        draft = small_draft(draft, int(fake.get("short_side") or 240))
        output = output.model_copy(update={"resolution": None, "preset": fake.get("preset") or "ultrafast"})
    return real_render(
        draft, sources, out_path, output, on_progress=on_progress, should_cancel=should_cancel, **options
    )
