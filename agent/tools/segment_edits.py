"""Scoped edits: one or several named segments get a duration, motion, fit or transition; nothing
else changes. Also the whole video's fade in from / out to black, and removing or keeping a set.

Durations: a photo takes any length; a clip plays at most what is left of its source from its
start (`ss`). The transition *into* a segment is the segment's own (`m.tr`); the first segment has
none. Fades to and from black are the draft's `m.fade_in` / `m.fade_out` (ms).
"""

from __future__ import annotations

import random

from pydantic import BaseModel, Field

from agent import edits
from agent.state import SessionState
from agent.tools.base import ToolContext, ToolError, ToolResult, tool
from agent.tools.segment_list import apply_segments, segments
from agent.tools.segment_refs import Target, display_names, resolve, segment_name
from agent.tools.state_view import (
    FIT_CHOSEN,
    TRANSITION_ZH,
    FitName,
    MotionName,
    TransitionName,
    clip_lengths,
    commit,
    natural_ms,
    require_video,
    result,
    secs,
)
from renderer.schema.draft import Segment, Transition

MOTION_ZH = {
    "none": "静止",
    "zoom_in": "推近（放大）",
    "zoom_out": "拉远（缩小）",
    "pan_left": "向左平移",
    "pan_right": "向右平移",
    "pan_up": "向上平移",
    "pan_down": "向下平移",
}
FIT_ZH = {"cover": "铺满画面", "contain": "完整显示", "blur": "完整显示并用模糊背景填充"}
MAX_SEGMENT_MS = 600_000


class EditSegmentsArgs(BaseModel):
    targets: list[Target] = Field(..., min_length=1, description="the segments to change (only these)")
    seconds: float | None = Field(None, gt=0, le=600, description="how long each shows")
    add_seconds: float | None = Field(
        None, ge=-600, le=600, description=("instead: this much longer (or shorter)")
    )
    factor: float | None = Field(None, gt=0, le=10, description="instead: each one's own time times this")
    full_clip: bool = Field(False, description="clips: play the whole clip from where it starts")
    motion: MotionName | None = None
    fit: FitName | None = None
    transition: TransitionName | None = Field(None, description="the transition into each one")
    transition_seconds: float | None = Field(None, ge=0, le=5)


def _names(state: SessionState, segs: list[Segment], chosen: list[int]) -> str:
    names = display_names(state)
    return ", ".join(segment_name(segs[i], names) for i in chosen)


@tool(
    "edit_segments",
    "Change only the named photos or clips: how long each shows, its motion, its fit, or the "
    "transition into it. Every other segment stays as it is.",
    EditSegmentsArgs,
)
def edit_segments(state: SessionState, args: EditSegmentsArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    chosen = sorted({resolve(state, t) for t in args.targets})
    clips = clip_lengths(state)
    en: list[str] = []
    zh: list[str] = []
    timed = (
        args.seconds is not None or args.add_seconds is not None or args.factor is not None or args.full_clip
    )
    for i in chosen:
        seg = segs[i]
        meta = seg.m.model_copy()
        d = seg.d
        if timed:
            if args.full_clip:
                d = clips.get(seg.src or "", d) - seg.ss if seg.src in clips else d
            elif args.seconds is not None:
                d = round(args.seconds * 1000)
            elif args.add_seconds is not None:
                d = seg.d + round(args.add_seconds * 1000)
            else:
                d = round(seg.d * (args.factor or 1) / 50) * 50
            d = max(edits.MIN_PHOTO_MS // 2, min(MAX_SEGMENT_MS, d))
            own = clips.get(seg.src or "")
            if own is not None and d > own - seg.ss:
                if own - seg.ss >= d - 10:
                    d = own - seg.ss
                elif own >= d:  # start earlier in the clip so it can play that long
                    seg = seg.model_copy(update={"ss": own - d})
                else:
                    d = own - seg.ss
        if args.motion is not None:
            meta.motion = "none" if seg.src in clips else args.motion
        if args.fit is not None:
            meta = meta.model_copy(update={"fit": args.fit, FIT_CHOSEN: True})
        if (args.transition is not None or args.transition_seconds is not None) and i > 0:
            old = meta.tr
            kind = args.transition or (old.type if old else "crossfade")
            length = round(
                (
                    args.transition_seconds
                    if args.transition_seconds is not None
                    else (old.d / 1000 if old else 0.5)
                )
                * 1000
            )
            meta.tr = None if kind == "none" or length == 0 else Transition(type=kind, d=length)
        segs[i] = seg.model_copy(update={"d": d, "m": meta})
    # a transition longer than half a neighbour is clamped by relayout; make room where asked
    if args.transition_seconds is not None:
        need = round(args.transition_seconds * 2000)
        for i in chosen:
            for j in (i - 1, i):
                if 0 <= j < len(segs) and segs[j].d < need and segs[j].src not in clips:
                    segs[j] = segs[j].model_copy(update={"d": need})
    new = apply_segments(state, segs)
    names = _names(state, segs, chosen)
    after = segments(new)
    if timed:
        shown = sorted({secs(after[i].d) for i in chosen})
        en.append(f"{'/'.join(shown)} s each" if len(chosen) > 1 else f"{shown[0]} s")
        zh.append(f"每个 {'/'.join(shown)} 秒" if len(chosen) > 1 else f"{shown[0]} 秒")
    if args.motion is not None:
        en.append(f"motion {args.motion.replace('_', ' ')}")
        zh.append(f"镜头{MOTION_ZH.get(args.motion, args.motion)}")
    if args.fit is not None:
        en.append(
            {"cover": "fills the frame", "contain": "shown whole", "blur": "shown whole on a blurred copy"}[
                args.fit
            ]
        )
        zh.append(FIT_ZH[args.fit])
    if args.transition is not None or args.transition_seconds is not None:
        tr = after[chosen[-1]].m.tr if chosen[-1] > 0 else None
        kind = tr.type if tr else "none"
        span = f" ({secs(tr.d)} s)" if tr else ""
        en.append(f"transition into it: {kind.replace('_', ' ')}{span}")
        zh.append(f"进入它的转场：{TRANSITION_ZH.get(kind, kind)}{f'（{secs(tr.d)} 秒）' if tr else ''}")
    d = new.draft.d if new.draft else 0
    return result(
        new,
        f"Changed {names}: {', '.join(en)} (video {secs(d)} s).",
        f"已修改 {names}：{'，'.join(zh)}（视频共 {secs(d)} 秒）。",
        segments=[s.id for s in (after[i] for i in chosen)],
    )


class RemoveSegmentsArgs(BaseModel):
    targets: list[Target] = Field(..., min_length=1)
    keep: bool = Field(False, description="true: keep only these and remove every other segment")


@tool(
    "remove_segments",
    "Take several photos or clips off the timeline at once, or keep only the named ones.",
    RemoveSegmentsArgs,
)
def remove_segments(state: SessionState, args: RemoveSegmentsArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    named = {resolve(state, t) for t in args.targets}
    gone = [i for i in range(len(segs)) if (i not in named) == args.keep]
    if len(gone) == len(segs):
        raise ToolError("the video needs at least one photo or clip", "视频至少需要一个照片或片段")
    if not gone:
        return result(state, "Nothing to remove.", "没有需要删除的。", changed=False)
    kept = [s for i, s in enumerate(segs) if i not in gone]
    new = apply_segments(state, kept, positions_from=segs)
    names = _names(state, segs, gone)
    left = len(kept)
    return result(
        new,
        f"Removed {names}; {left} left.",
        f"已删除 {names}，还剩 {left} 个。",
        removed=[segs[i].id for i in gone],
    )


class ShuffleArgs(BaseModel):
    seed: int | None = Field(None, description="the same seed gives the same order")


@tool("shuffle_segments", "Put the photos and clips in a random new order.", ShuffleArgs)
def shuffle_segments(state: SessionState, args: ShuffleArgs, ctx: ToolContext) -> ToolResult:
    segs = segments(state)
    if len(segs) < 2:
        return result(
            state, "There is only one segment to shuffle.", "只有一个片段，无法打乱。", changed=False
        )
    rng = random.Random(args.seed if args.seed is not None else len(segs) * 7919 + round(ctx.now()))
    order = list(segs)
    while [s.id for s in order] == [s.id for s in segs]:
        rng.shuffle(order)
    new = apply_segments(state, order, positions_from=segs)
    names = _names(new, segments(new), list(range(len(order))))
    return result(new, f"Shuffled the order: {names}.", f"已随机打乱顺序：{names}。")


class VideoFadesArgs(BaseModel):
    fade_in_seconds: float | None = Field(None, ge=0, le=10, description="fade in from black at the start")
    fade_out_seconds: float | None = Field(None, ge=0, le=10, description="fade out to black at the end")


@tool(
    "set_video_fades",
    "Fade the whole video in from black at the start and/or out to black at the end (0 removes).",
    VideoFadesArgs,
)
def set_video_fades(state: SessionState, args: VideoFadesArgs, ctx: ToolContext) -> ToolResult:
    draft, _video = require_video(state)
    extra: dict[str, int] = {}
    en, zh = [], []
    for key, value, e, z in (
        ("fade_in", args.fade_in_seconds, "fades in from black", "开头从黑场淡入"),
        ("fade_out", args.fade_out_seconds, "fades out to black", "结尾淡出到黑场"),
    ):
        if value is None:
            continue
        ms = round(value * 1000)
        extra[key] = ms
        en.append(f"{e} over {secs(ms)} s" if ms else f"no longer {e}")
        zh.append(f"{z} {secs(ms)} 秒" if ms else f"取消{z}")
    if not en:
        raise ToolError("say fade_in_seconds or fade_out_seconds", "请说明开头淡入或结尾淡出")
    meta = draft.m.model_copy(update=extra)
    new = commit(state, edits.fit_to_length(draft.model_copy(update={"m": meta}), natural_ms(state)))
    return result(new, f"The video now {' and '.join(en)}.", f"视频现在{'，'.join(zh)}。")
