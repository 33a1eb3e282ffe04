"""Reading the session state for tools, and committing a tool's new draft (validated, canvas in step)."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from agent import edits
from agent.state import CanvasConfig, MediaFile, SessionState
from agent.tools.base import ToolError, ToolResult
from renderer.music.catalogue import CATALOGUE
from renderer.schema.draft import FIT_MODES, MOTIONS, TRANSITIONS, Draft, Track

Aspect = Literal["9:16", "16:9", "1:1", "4:5"]
TransitionName = Literal[TRANSITIONS]  # type: ignore[valid-type]
MotionName = Literal[("auto", *MOTIONS)]  # type: ignore[valid-type]
FitName = Literal[FIT_MODES]  # type: ignore[valid-type]
FitChoice = Literal[("auto", *FIT_MODES)]  # type: ignore[valid-type]
# Past this ratio between a photo's aspect and the canvas's, cover would crop away too much of the
# photo (a portrait photo on a landscape canvas keeps a third of itself): show it whole on a blurred
# copy instead, as editors do. 4:3 on 16:9 (1.33) still covers.
AUTO_FIT_MAX_RATIO = 1.5
ORIENTATION_ASPECT: dict[str, Aspect] = {"portrait": "9:16", "landscape": "16:9", "square": "1:1"}
TRANSITION_ZH = {
    "crossfade": "交叉淡化",
    "dissolve": "溶解",
    "fade_black": "黑场过渡",
    "fade_white": "白场过渡",
    "none": "无",
}
MUSIC_VOLUME = 0.35


def visual_media(state: SessionState) -> list[MediaFile]:
    return [f for f in state.video_infos if f.file_type in ("image", "video")]


def audio_media(state: SessionState) -> list[MediaFile]:
    return [f for f in state.video_infos if f.file_type == "audio"]


def clip_srcs(state: SessionState) -> set[str]:
    return {f.cdn_url for f in state.video_infos if f.file_type == "video"}


def natural_ms(state: SessionState) -> dict[str, int]:
    """Own length of every source that has one: uploaded clips and songs, built-in tracks."""
    lengths = {f.cdn_url: round(f.duration * 1000) for f in state.video_infos if f.duration}
    lengths.update({t.src: t.duration_ms for t in CATALOGUE.values()})
    return lengths


def clip_lengths(state: SessionState) -> dict[str, int]:
    return {
        f.cdn_url: round(f.duration * 1000)
        for f in state.video_infos
        if f.file_type == "video" and f.duration
    }


def majority_aspect(media: list[MediaFile]) -> Aspect:
    counts = Counter(f.orientation for f in media if f.orientation)
    if not counts:
        return "9:16"
    best = max(counts.values())
    for orientation in ("portrait", "landscape", "square"):  # ties go to portrait: phones first
        if counts.get(orientation) == best:
            return ORIENTATION_ASPECT[orientation]
    return "9:16"


def visual_item(f: MediaFile, state: SessionState) -> edits.VisualItem:
    focus = state.video_analyses.get(f.media_id, {}).get("focus")
    ok = isinstance(focus, list | tuple) and len(focus) == 2 and all(0 <= float(v) <= 1 for v in focus)
    return edits.VisualItem(
        src=f.cdn_url,
        name=f.filename,
        kind="clip" if f.file_type == "video" else "photo",
        width=f.width,
        height=f.height,
        clip_ms=round(f.duration * 1000) if f.file_type == "video" and f.duration else None,
        focus=(float(focus[0]), float(focus[1])) if ok and focus else None,
    )


def auto_fit(media: MediaFile | None, width: int, height: int) -> str:
    if media is None or not media.width or not media.height:
        return "cover"
    ratio = (media.width / media.height) / (width / height)
    return "cover" if max(ratio, 1 / ratio) <= AUTO_FIT_MAX_RATIO else "blur"


FIT_CHOSEN = "fit_chosen"  # a segment meta key: the user chose this photo's fit; auto leaves it


def refit(draft: Draft, state: SessionState) -> Draft:
    """Re-choose each segment's fit when the video track's fit is 'auto' (the default), except
    where the user chose one photo's fit ("show the whole dog photo")."""
    video = edits.video_track(draft)
    if video is None or getattr(video.m, "fit", "auto") != "auto":
        return draft
    by_src = {f.cdn_url: f for f in state.video_infos}
    segs = [
        s.model_copy(
            update={
                "m": s.m.model_copy(
                    update={"fit": auto_fit(by_src.get(s.src or ""), draft.m.width, draft.m.height)}
                )
            }
        )
        if not (s.m.model_extra or {}).get(FIT_CHOSEN)
        else s
        for s in video.sg
    ]
    return edits.replace_track(draft, video.model_copy(update={"sg": segs}))


def require_draft(state: SessionState) -> Draft:
    if state.draft is None or edits.video_track(state.draft) is None:
        raise ToolError(
            "there is no timeline yet: make a slideshow first (make_slideshow)",
            "还没有时间线：请先用照片做成视频",
        )
    return state.draft


def require_video(state: SessionState) -> tuple[Draft, Track]:
    """The draft and its video track (require_draft makes sure there is one)."""
    draft = require_draft(state)
    video = edits.video_track(draft)
    assert video is not None
    return draft, video


def commit(state: SessionState, draft: Draft, **extra: Any) -> SessionState:
    """Validate the new draft as a client would send it, and keep canvas_config in step with it."""
    try:
        checked = Draft.model_validate(draft.to_json())
    except ValueError as exc:
        raise ToolError(f"the edit would make an invalid draft: {exc}") from None
    canvas = CanvasConfig(
        width=checked.m.width,
        height=checked.m.height,
        ratio=edits.ratio_name(checked.m.width, checked.m.height),
    )
    return state.model_copy(update={"draft": checked, "canvas_config": canvas, **extra})


def secs(ms: int) -> str:
    return f"{round(ms / 1000, 1):g}"


def result(state: SessionState, en: str, zh: str, changed: bool = True, **facts: Any) -> ToolResult:
    payload = {"ok": True, "duration_ms": state.draft.d if state.draft else 0, **facts}
    return ToolResult(state=state, result=payload, summary=en, summary_zh=zh, changed=changed)
