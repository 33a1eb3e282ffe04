"""Layout tools: the slideshow itself, its length, photo timing and the canvas shape."""

from __future__ import annotations

import contextlib
from typing import Literal

from pydantic import BaseModel, Field

from agent import edits
from agent.state import SessionState
from agent.tools.base import ToolContext, ToolError, ToolResult, tool
from agent.tools.beats import CutToBeatArgs, beats_per_cut, cut_to_beat
from agent.tools.segment_refs import Target, describe_target, describe_target_zh, resolve
from agent.tools.state_view import (
    FIT_CHOSEN,
    TRANSITION_ZH,
    Aspect,
    FitChoice,
    MotionName,
    TransitionName,
    clip_lengths,
    clip_srcs,
    commit,
    majority_aspect,
    natural_ms,
    refit,
    require_draft,
    require_video,
    result,
    secs,
    visual_item,
    visual_media,
)
from renderer.schema.draft import ASPECT_SIZES, Segment, SegmentMeta, Transition, empty_draft


class MakeSlideshowArgs(BaseModel):
    media_ids: list[str] | Literal["all"] = Field(
        "all",
        description="media_id or filename of each photo/clip, in order; "
        "'all' for every upload in upload order",
    )
    seconds_per_photo: float | None = Field(
        None, gt=0, le=600, description="how long each photo shows (default 3)"
    )
    total_seconds: float | None = Field(
        None, gt=0, le=3600, description="exact length of the whole video; photos share it"
    )
    transition: TransitionName = Field("crossfade", description="transition between segments")
    transition_seconds: float = Field(0.5, ge=0, le=5)
    motion: MotionName = Field(
        "auto", description="'auto': Ken Burns zoom in/out by turns, pans for panoramas"
    )
    fit: FitChoice = Field(
        "auto", description="'auto': cover when a photo's shape suits the canvas, else blur (whole photo)"
    )
    aspect: Aspect | None = Field(
        None, description="canvas; omit to keep the current one or follow the photos' orientation"
    )


@tool(
    "make_slideshow", "Lay the uploaded photos and clips on the video track (replaces it).", MakeSlideshowArgs
)
def make_slideshow(state: SessionState, args: MakeSlideshowArgs, ctx: ToolContext) -> ToolResult:
    media = visual_media(state)
    if not media:
        raise ToolError("no photos or video clips have been uploaded yet", "还没有上传照片或视频片段")
    if args.media_ids != "all":
        by_key = {k: f for f in media for k in (f.media_id, f.filename)}
        missing = [m for m in args.media_ids if m not in by_key]
        if missing:
            raise ToolError(
                f"unknown media: {', '.join(missing)}; uploaded: {', '.join(f.filename for f in media)}"
            )
        media = [by_key[m] for m in args.media_ids]
    base = state.draft
    if args.aspect:
        width, height = ASPECT_SIZES[args.aspect]
    elif base is not None:
        width, height = base.m.width, base.m.height
    else:
        width, height = ASPECT_SIZES[majority_aspect(media)]
    draft = edits.with_canvas(base or empty_draft(width, height), width, height)
    draft = edits.remove_track(draft, edits.VIDEO_TRACK_ID)
    track = edits.build_visual_track(
        [visual_item(f, state) for f in media],
        first_id=int(edits.next_id(draft)[1:]),
        photo_ms=round((args.seconds_per_photo or edits.DEFAULT_PHOTO_MS / 1000) * 1000),
        transition=args.transition,
        transition_ms=round(args.transition_seconds * 1000),
        motion=args.motion,
        fit="cover" if args.fit == "auto" else args.fit,
    )
    track = track.model_copy(update={"m": track.m.model_copy(update={"fit": args.fit})})
    if args.total_seconds:
        track = track.model_copy(
            update={"sg": edits.fit_total(track.sg, round(args.total_seconds * 1000), clip_lengths(state))}
        )
    draft = edits.fit_to_length(edits.replace_track(draft, track), natural_ms(state))
    new = commit(state, refit(draft, state))
    photos = sum(1 for f in media if f.file_type == "image")
    clips = len(media) - photos
    what = f"{photos} photos" + (f" and {clips} clips" if clips else "")
    what_zh = f"{photos} 张照片" + (f"和 {clips} 个视频片段" if clips else "")
    tr = args.transition
    en = (
        f"Made a {secs(new.draft.d)} s video from {what} in upload order ({tr} transitions, "  # type: ignore[union-attr]
        f"{'Ken Burns motion' if args.motion == 'auto' else args.motion + ' motion'}, {width}x{height})."
    )
    zh = (
        f"已用{what_zh}按上传顺序做成 {secs(new.draft.d)} 秒的视频（{TRANSITION_ZH.get(tr, tr)}转场，"  # type: ignore[union-attr]
        f"{'缓慢推拉镜头' if args.motion == 'auto' else args.motion}，{width}x{height}）。"
    )
    return result(new, en, zh, segments=len(track.sg), photos=photos, clips=clips, width=width, height=height)


class SetDurationArgs(BaseModel):
    total_seconds: float = Field(..., gt=0, le=3600, description="exact length of the whole video")
    keep: list[Target] = Field(
        default_factory=list, description="segments that keep their own time; the others share the rest"
    )


@tool(
    "set_duration", "Make the whole video exactly this long; photos share the time evenly.", SetDurationArgs
)
def set_duration(state: SessionState, args: SetDurationArgs, ctx: ToolContext) -> ToolResult:
    draft, video = require_video(state)
    total = round(args.total_seconds * 1000)
    kept = {resolve(state, t) for t in args.keep}
    if kept and len(kept) < len(video.sg):
        segs = _fit_around(list(video.sg), total, kept, clip_lengths(state))
    else:
        segs = edits.fit_total(video.sg, total, clip_lengths(state))
    new = commit(
        state,
        edits.fit_to_length(
            edits.replace_track(draft, video.model_copy(update={"sg": segs})), natural_ms(state)
        ),
    )
    d = new.draft.d  # type: ignore[union-attr]
    return result(new, f"Set the video length to {secs(d)} s.", f"视频时长已设为 {secs(d)} 秒。")


def _fit_around(segs: list[Segment], total_ms: int, kept: set[int], clip_ms: dict[str, int]) -> list[Segment]:
    """Durations so the video is `total_ms` long while the `kept` segments keep theirs."""
    free = [i for i in range(len(segs)) if i not in kept]
    overlap = sum(s.m.tr.d for s in segs[1:] if s.m.tr)
    room = total_ms + overlap - sum(segs[i].d for i in kept)
    share = max(edits.MIN_PHOTO_MS, room // len(free))
    out = list(segs)
    for i in free:
        cap = clip_ms.get(segs[i].src or "")
        d = min(share, cap - segs[i].ss) if cap is not None else share
        out[i] = segs[i].model_copy(update={"d": d})
    laid = edits.relayout(out)
    diff = total_ms - laid[-1].end
    last = next((i for i in reversed(free) if clip_ms.get(segs[i].src or "") is None), None)
    if diff and last is not None:
        laid[last] = laid[last].model_copy(update={"d": max(edits.MIN_PHOTO_MS, laid[last].d + diff)})
        laid = edits.relayout(laid)
    return laid


class SetSecondsPerPhotoArgs(BaseModel):
    seconds: float | None = Field(None, gt=0, le=600, description="how long each photo shows")
    factor: float | None = Field(
        None,
        ge=0.1,
        le=10,
        description="instead of seconds: multiply each photo's own time (0.75 faster, 1.33 slower); "
        "photos keep their differences",
    )
    target: Target | None = Field(None, description="one photo only; omit for every photo")


MAX_PHOTO_MS = 600_000


def _scaled(ms: int, factor: float) -> int:
    # Whole 50 ms, so that faster then slower (x0.75, then x1.33) lands back on the same times.
    scaled = round(ms * factor / 50) * 50
    return min(MAX_PHOTO_MS, max(scaled, min(ms, edits.MIN_PHOTO_MS)))


@tool(
    "set_seconds_per_photo",
    "Show every photo (or one photo) for this many seconds, or change the pace by a factor "
    "(clips keep their length).",
    SetSecondsPerPhotoArgs,
)
def set_seconds_per_photo(state: SessionState, args: SetSecondsPerPhotoArgs, ctx: ToolContext) -> ToolResult:
    if (args.seconds is None) == (args.factor is None):
        raise ToolError("give either seconds or factor", "请给出秒数或倍数（二选一）")
    draft, video = require_video(state)
    clips = clip_srcs(state)
    if args.target is not None:
        one = resolve(state, args.target)
        if video.sg[one].src in clips:
            raise ToolError(
                "that is a video clip: trim it instead (trim_segment)", "这是视频片段，请用剪辑功能"
            )
        chosen = {one}
    else:
        chosen = {i for i, s in enumerate(video.sg) if s.src not in clips}
        if not chosen and args.factor is not None:
            raise ToolError(
                "there are only video clips, which keep their own length: trim them instead (trim_segment)",
                "时间线上只有视频片段，片段保持自身长度：请改用剪辑",
            )
    fixed = round(args.seconds * 1000) if args.seconds is not None else None
    durations = [
        (fixed if fixed is not None else _scaled(s.d, args.factor or 1)) if i in chosen else s.d
        for i, s in enumerate(video.sg)
    ]
    if args.factor is not None and durations == [s.d for s in video.sg]:
        limit = "shortest" if args.factor < 1 else "longest"
        return result(
            state,
            f"The photos already show for the {limit} time I allow, so the pace stays as it is.",
            "照片的时长已经到了极限，节奏保持不变。",
            changed=False,
        )
    segs = edits.relayout([s.model_copy(update={"d": d}) for s, d in zip(video.sg, durations, strict=True)])
    new = commit(
        state,
        edits.fit_to_length(
            edits.replace_track(draft, video.model_copy(update={"sg": segs})), natural_ms(state)
        ),
    )
    d = new.draft.d  # type: ignore[union-attr]
    if args.target is not None:
        ms = durations[one]
        en, zh = describe_target(new, one), describe_target_zh(new, one)
        return result(
            new,
            f"{en[0].upper()}{en[1:]} now shows for {secs(ms)} s (video {secs(d)} s).",
            f"{zh}现在显示 {secs(ms)} 秒（视频共 {secs(d)} 秒）。",
        )
    if fixed is not None:
        return result(
            new,
            f"Each photo now shows for {secs(fixed)} s (video {secs(d)} s).",
            f"每张照片现在显示 {secs(fixed)} 秒（视频共 {secs(d)} 秒）。",
        )
    faster = (args.factor or 1) < 1
    was = beats_per_cut(state) if args.factor is not None else None
    if was is not None:
        # it was cut to the beat: the new pace snaps back onto the beats, at least one beat
        # faster or slower per photo (rounding alone could land on the old count)
        per = max(1, round(was * (args.factor or 1)))
        if per == was:
            per = max(1, was - 1) if faster else was + 1
        if per == was:
            return result(
                state,
                "Every photo already lasts a single beat: that is as fast as cutting on the beat goes.",
                "每张照片已经只有一拍：卡点的节奏无法再快了。",
                changed=False,
            )
        with contextlib.suppress(ToolError):
            snapped = cut_to_beat(new, CutToBeatArgs(beats_per_segment=per), ctx)
            clip_times = [s.d for s in video.sg if s.src in clips]
            snapped_video = edits.video_track(snapped.state.draft)  # type: ignore[arg-type]
            if snapped_video is not None and clip_times != [s.d for s in snapped_video.sg if s.src in clips]:
                raise ToolError("on the beat the clips would change length: keep them, off the beat")
            return result(
                snapped.state,
                f"Made it {'faster' if faster else 'slower'}, still on the beat: a new photo every {per} "
                f"beat{'s' if per > 1 else ''} (video {secs(draft.d)} s -> {secs(snapped.state.draft.d)} s).",  # type: ignore[union-attr]
                f"已{'加快' if faster else '放慢'}节奏，仍然卡点：每 {per} 拍换一张"
                f"（视频 {secs(draft.d)} 秒 → {secs(snapped.state.draft.d)} 秒）。",  # type: ignore[union-attr]
                beats_per_segment=per,
            )
    return result(
        new,
        f"Made it {'faster' if faster else 'slower'}: every photo's time x{args.factor:g}, clips unchanged "
        f"(video {secs(draft.d)} s -> {secs(d)} s).",
        f"已{'加快' if faster else '放慢'}节奏：每张照片的时长 ×{args.factor:g}，视频片段不变"
        f"（视频 {secs(draft.d)} 秒 → {secs(d)} 秒）。",
    )


class SetAspectArgs(BaseModel):
    aspect: Aspect = Field(
        ...,
        description="9:16 vertical (TikTok, Reels, Shorts), 16:9 landscape, 1:1 square, 4:5 portrait post",
    )


@tool("set_aspect", "Change the canvas shape; photos are re-fitted by the renderer.", SetAspectArgs)
def set_aspect(state: SessionState, args: SetAspectArgs, ctx: ToolContext) -> ToolResult:
    draft = require_draft(state)
    width, height = ASPECT_SIZES[args.aspect]
    new = commit(state, refit(edits.with_canvas(draft, width, height), state))
    changed = (draft.m.width, draft.m.height) != (width, height)
    names = {
        "9:16": ("vertical", "竖屏"),
        "16:9": ("landscape", "横屏"),
        "1:1": ("square", "方形"),
        "4:5": ("4:5", "4:5"),
    }
    en, zh = names[args.aspect]
    return result(
        new,
        f"Canvas is {'now' if changed else 'already'} {en} {args.aspect} ({width}x{height}).",
        f"画面{'已改为' if changed else '已经是'}{zh} {args.aspect}（{width}x{height}）。",
        changed=changed,
    )


class SetTransitionArgs(BaseModel):
    kind: TransitionName = Field(
        ..., description="transition into every segment after the first ('none' for hard cuts)"
    )
    duration_seconds: float | None = Field(None, ge=0, le=5, description="default 0.5")
    keep_length: bool = Field(
        True,
        description="true: the video keeps its length (photos absorb the change); "
        "false: every photo keeps its own time (the video grows or shrinks a little)",
    )


@tool(
    "set_transition",
    "Use one transition between all segments; the video keeps its length.",
    SetTransitionArgs,
)
def set_transition(state: SessionState, args: SetTransitionArgs, ctx: ToolContext) -> ToolResult:
    draft, video = require_video(state)
    ms = round((args.duration_seconds if args.duration_seconds is not None else 0.5) * 1000)
    tr = None if args.kind == "none" or ms == 0 else Transition(type=args.kind, d=ms)
    segs = [s.model_copy(update={"m": s.m.model_copy(update={"tr": tr})}) for s in video.sg]
    # keep_length: the same length as before (photos absorb the change); else each keeps its time
    segs = edits.fit_total(segs, draft.d, clip_lengths(state)) if args.keep_length else edits.relayout(segs)
    new = commit(
        state,
        edits.fit_to_length(
            edits.replace_track(draft, video.model_copy(update={"sg": segs})), natural_ms(state)
        ),
    )
    if tr is None:
        return result(new, "Removed the transitions (hard cuts).", "已去掉转场（直接切换）。")
    return result(
        new,
        f"Transitions are now {args.kind} ({secs(ms)} s).",
        f"转场已改为{TRANSITION_ZH.get(args.kind, args.kind)}（{secs(ms)} 秒）。",
    )


class SetMotionArgs(BaseModel):
    kind: MotionName = Field(
        ..., description="'auto' Ken Burns zoom in/out by turns; 'none' keeps photos still"
    )


@tool("set_motion", "Set the camera motion of every photo.", SetMotionArgs)
def set_motion(state: SessionState, args: SetMotionArgs, ctx: ToolContext) -> ToolResult:
    draft, video = require_video(state)
    clips = clip_srcs(state)
    items = {f.cdn_url: visual_item(f, state) for f in state.video_infos}
    segs = []
    for i, s in enumerate(video.sg):
        if s.src in clips:
            motion = "none"
        elif args.kind == "auto":
            item = items.get(s.src or "") or edits.VisualItem(src=s.src or "", name="", kind="photo")
            motion = edits.auto_motion(item, i)
        else:
            motion = args.kind
        segs.append(s.model_copy(update={"m": s.m.model_copy(update={"motion": motion})}))
    new = commit(state, edits.replace_track(draft, video.model_copy(update={"sg": segs})))
    if args.kind == "none":
        return result(new, "Photos now stay still (no motion).", "照片现在保持静止（无镜头运动）。")
    label = "Ken Burns zoom in/out" if args.kind == "auto" else args.kind
    return result(new, f"Photo motion is now {label}.", f"照片镜头运动已改为 {label}。")


class SetFitArgs(BaseModel):
    mode: FitChoice = Field(
        ...,
        description="cover fills the frame (crops), contain shows all (bars), "
        "blur fills bars with a blurred copy, auto picks cover or blur per photo",
    )


@tool("set_fit", "How photos fill the canvas.", SetFitArgs)
def set_fit(state: SessionState, args: SetFitArgs, ctx: ToolContext) -> ToolResult:
    draft, video = require_video(state)
    video = video.model_copy(update={"m": video.m.model_copy(update={"fit": args.mode})})
    draft = edits.replace_track(draft, video)
    if args.mode == "auto":  # every photo again, the ones the user chose for too
        unchosen = [
            s.model_copy(update={"m": SegmentMeta.model_validate(s.m.model_dump(exclude={FIT_CHOSEN}))})
            for s in video.sg
        ]
        draft = refit(edits.replace_track(draft, video.model_copy(update={"sg": unchosen})), state)
    else:  # photos only: a clip keeps the fit it has (it is footage, framed as filmed)
        clips = clip_srcs(state)
        segs = [
            s if s.src in clips else s.model_copy(update={"m": s.m.model_copy(update={"fit": args.mode})})
            for s in video.sg
        ]
        draft = edits.replace_track(draft, video.model_copy(update={"sg": segs}))
    new = commit(state, draft)
    zh = {
        "cover": "铺满画面",
        "contain": "完整显示",
        "blur": "完整显示并用模糊背景填充",
        "auto": "按照片形状自动铺满或完整显示",
    }[args.mode]
    return result(new, f"Photos now use {args.mode} fit.", f"照片现在{zh}。")
